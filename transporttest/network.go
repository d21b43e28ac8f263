package transporttest

// DeadAddr returns a loopback address, "127.0.0.1:port", on which nothing
// listens, so that dialing it is refused at once (Refused). It finds the
// port by listening and closing; another process could take the port
// meanwhile, which is unlikely within a test. It panics if no loopback port
// is free.
func DeadAddr() string {
	l := newLocalListener()
	addr := l.Addr().String()
	l.Close()
	return addr
}
