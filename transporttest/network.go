package transporttest

// NewBlackhole returns a started server that accepts TCP connections and
// then never reads from them nor writes to them, until it is closed. A
// client's request (or TLS handshake, after StartTLS on an unstarted one)
// goes unanswered: only the client's own timeouts or context end the wait.
// The server counts connections; it sees no requests.
func NewBlackhole() *Server {
	s := NewUnstartedBlackhole()
	s.Start()
	return s
}

// NewUnstartedBlackhole is like [NewBlackhole] but does not start the
// server. Start it with StartTLS to make a client's TLS handshake hang: its
// URL is then https:// and [Server.Client] is a TLS client. (A started
// NewBlackhole does the same to any client that dials "https://"+Addr().)
func NewUnstartedBlackhole() *Server {
	return newRaw(func(s *Server, c *conn) {
		<-s.ctx.Done()
	})
}

// DeadAddr returns a loopback address, "127.0.0.1:port", on which nothing
// listens, so that dialing it is refused at once. It finds the port by
// listening and closing; another process could take the port meanwhile,
// which is unlikely within a test. It panics if no loopback port is free.
func DeadAddr() string {
	l := newLocalListener()
	addr := l.Addr().String()
	l.Close()
	return addr
}
