package tracing

import (
	"strconv"
	"testing"
)

// hexInto writes the same digits as strconv, most significant first,
// zero-padded to 16.
func TestHexInto(t *testing.T) {
	for _, v := range []uint64{0, 1, 0xf, 0x0123456789abcdef, 0xfedcba9876543210, 1<<64 - 1, 0x00ff00ff00ff00ff} {
		var b [16]byte
		hexInto(&b, v)
		want := strconv.FormatUint(v, 16)
		for len(want) < 16 {
			want = "0" + want
		}
		if got := string(b[:]); got != want {
			t.Errorf("hexInto(%#x) = %q, want %q", v, got, want)
		}
	}
}
