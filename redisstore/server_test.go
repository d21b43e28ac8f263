package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/rtchain/chain/redisstore/internal/redistest"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// quiet drops go-redis's own log lines (a refused dial, while a test has
// Redis down on purpose).
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	redis.SetLogger(quiet{})
	if os.Getenv(childEnv) != "" {
		os.Exit(m.Run()) // a fleet member of TestProcesses: no leak check of its own
	}
	goleak.VerifyTestMain(m)
}

// switchable dials the server while up, and refuses while down; going
// down also breaks the connections it made, as a network partition would.
type switchable struct {
	addr string

	mu    sync.Mutex // guards down and conns
	down  bool
	conns []net.Conn
}

func (s *switchable) dial(ctx context.Context, network, _ string) (net.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return nil, errors.New("switchable: partitioned")
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, s.addr)
	if err == nil {
		s.conns = append(s.conns, c)
	}
	return c, err
}

func (s *switchable) set(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
	if down {
		for _, c := range s.conns {
			c.Close()
		}
		s.conns = nil
	}
}

// switchableClient returns a client of r whose connection can be cut.
func switchableClient(r *redistest.Server, t testing.TB) (*redis.Client, *switchable) {
	sw := &switchable{addr: r.Addr()}
	c := redis.NewClient(&redis.Options{Addr: r.Addr(), Dialer: sw.dial, DialTimeout: time.Second})
	t.Cleanup(func() { c.Close() })
	return c, sw
}

// logBuffer is a slog handler's output that tests read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }
