package hedge

import (
	"testing"
	"time"
)

func TestBucketEdges(t *testing.T) {
	// Every latency in range falls in a bucket whose edges hold it, at most
	// 1/8 of its lower edge wide, and buckets grow with the latency.
	prev := 0
	for v := int64(1 << minOctave); v < 1<<maxOctave; v += v/97 + 1 {
		b := bucket(v)
		lower, width := edges(b)
		if v < lower || v >= lower+width {
			t.Fatalf("%v in bucket %d = [%v, %v)", time.Duration(v), b, time.Duration(lower), time.Duration(lower+width))
		}
		if width*subBuckets > lower {
			t.Fatalf("bucket %d: width %v over 1/8 of %v", b, time.Duration(width), time.Duration(lower))
		}
		if b < prev {
			t.Fatalf("bucket of %v is %d, below %d", time.Duration(v), b, prev)
		}
		prev = b
	}
	if got := bucket(1); got != 0 {
		t.Errorf("bucket(1ns) = %d, want 0", got)
	}
	if got := bucket(1 << 40); got != numBuckets-1 {
		t.Errorf("bucket(18m) = %d, want the last, %d", got, numBuckets-1)
	}
}

func TestHostsBounded(t *testing.T) {
	var h hosts
	for i := range 3 * maxHosts {
		h.get(string(rune('a'+i%26)) + time.Duration(i).String())
	}
	if n := len(h.m); n > maxHosts {
		t.Errorf("%d sketches kept, want at most %d", n, maxHosts)
	}
}
