package body_test

import (
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rtchain/chain/internal/body"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type recorder struct {
	mu    sync.Mutex
	calls []error
}

func (r *recorder) done(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, err)
}

func (r *recorder) got() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.calls...)
}

type closeCounter struct {
	io.Reader
	closes int
}

func (c *closeCounter) Close() error { c.closes++; return nil }

func TestDoneAtEOFThenCloseOnce(t *testing.T) {
	var r recorder
	src := &closeCounter{Reader: strings.NewReader("hello")}
	b := body.Wrap(src, r.done)
	data, err := io.ReadAll(b)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(data))
	require.NoError(t, b.Close())
	require.NoError(t, b.Close())
	assert.Equal(t, []error{io.EOF}, r.got())
	assert.Equal(t, 2, src.closes, "Close is always delegated")
}

func TestDoneOnEarlyClose(t *testing.T) {
	var r recorder
	b := body.Wrap(&closeCounter{Reader: strings.NewReader("hello")}, r.done)
	buf := make([]byte, 2)
	_, err := b.Read(buf)
	require.NoError(t, err)
	require.NoError(t, b.Close())
	assert.Equal(t, []error{nil}, r.got())
}

type failing struct{ err error }

func (f failing) Read([]byte) (int, error) { return 0, f.err }
func (f failing) Close() error             { return nil }

func TestDoneOnReadError(t *testing.T) {
	var r recorder
	boom := errors.New("boom")
	b := body.Wrap(failing{boom}, r.done)
	_, err := b.Read(make([]byte, 1))
	assert.ErrorIs(t, err, boom)
	_, _ = b.Read(make([]byte, 1))
	require.NoError(t, b.Close())
	assert.Equal(t, []error{boom}, r.got())
}

func TestDoneRunsOnceUnderConcurrentClose(t *testing.T) {
	var r recorder
	b := body.Wrap(&closeCounterSafe{}, r.done)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() { _ = b.Close() })
	}
	wg.Wait()
	assert.Len(t, r.got(), 1)
}

type closeCounterSafe struct{}

func (closeCounterSafe) Read([]byte) (int, error) { return 0, io.EOF }
func (closeCounterSafe) Close() error             { return nil }

type rwc struct {
	io.Reader
	written strings.Builder
}

func (c *rwc) Write(p []byte) (int, error) { return c.written.Write(p) }
func (c *rwc) Close() error                { return nil }

func TestKeepsWriterFor101(t *testing.T) {
	var r recorder
	src := &rwc{Reader: strings.NewReader("")}
	b := body.Wrap(src, r.done)
	w, ok := b.(io.Writer)
	require.True(t, ok, "wrapper of a ReadWriteCloser must be an io.Writer")
	_, err := w.Write([]byte("ping"))
	require.NoError(t, err)
	assert.Equal(t, "ping", src.written.String())

	plain := body.Wrap(io.NopCloser(strings.NewReader("")), r.done)
	_, isWriter := plain.(io.Writer)
	assert.False(t, isWriter, "a plain body must not pretend to be writable")
}

func TestNilBody(t *testing.T) {
	assert.Nil(t, body.Wrap(nil, func(error) { t.Fatal("done called for nil body") }))
}

// upper is a body wrapper that upper-cases what it reads and counts closes.
type upper struct {
	rc     io.ReadCloser
	closes int
}

func (u *upper) Read(p []byte) (int, error) {
	n, err := u.rc.Read(p)
	copy(p, strings.ToUpper(string(p[:n])))
	return n, err
}
func (u *upper) Close() error { u.closes++; return u.rc.Close() }

func TestKeepWriter(t *testing.T) {
	src := &rwc{Reader: strings.NewReader("hello")}
	u := &upper{rc: src}
	b := body.KeepWriter(u, src)
	data, err := io.ReadAll(b)
	require.NoError(t, err)
	assert.Equal(t, "HELLO", string(data), "reads go through the wrapper")
	require.NoError(t, b.Close())
	assert.Equal(t, 1, u.closes, "Close goes through the wrapper")
	w, ok := b.(io.Writer)
	require.True(t, ok)
	_, err = w.Write([]byte("ping"))
	require.NoError(t, err)
	assert.Equal(t, "ping", src.written.String(), "writes go to the original body")

	plain := io.NopCloser(strings.NewReader(""))
	u2 := &upper{rc: plain}
	assert.Same(t, u2, body.KeepWriter(u2, plain), "without a Write method the wrapper is returned as it is")
}

func TestWrapOf101RunsDoneOnClose(t *testing.T) {
	var r recorder
	b := body.Wrap(&rwc{Reader: strings.NewReader("")}, r.done)
	require.NoError(t, b.Close())
	require.NoError(t, b.Close())
	assert.Equal(t, []error{nil}, r.got())
}
