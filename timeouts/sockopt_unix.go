//go:build linux || darwin

package timeouts

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// notSentLowat is the TCP_NOTSENT_LOWAT of NewTransport's sockets: the kernel
// takes more bytes only while fewer than this many are queued and not yet
// sent, so a writer advances as its bytes leave (see WithWriteIdle).
const notSentLowat = 16 << 10

// setSocketOptions sets TCP_NOTSENT_LOWAT. A kernel that refuses it keeps its
// default behaviour; the connection is made either way.
func setSocketOptions(rc syscall.RawConn) {
	rc.Control(func(fd uintptr) {
		unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, notSentLowat)
	})
}
