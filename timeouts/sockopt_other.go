//go:build !linux && !darwin

package timeouts

import "syscall"

// setSocketOptions does nothing on this platform: TCP_NOTSENT_LOWAT is set on
// Linux and macOS only (see WithWriteIdle).
func setSocketOptions(syscall.RawConn) {}
