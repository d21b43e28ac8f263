package tlsrotate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// errLoadTimeout is the cause of the deadline of a function source's call.
var errLoadTimeout = errors.New("tlsrotate: load timeout")

// readFiles reads the material of a file source, each file up to
// MaxMaterialSize bytes.
func (s *Source) readFiles(context.Context) (*Material, error) {
	var m Material
	for _, f := range []struct {
		path string
		dst  *[]byte
	}{{s.names.cert, &m.CertPEM}, {s.names.key, &m.KeyPEM}, {s.names.ca, &m.CAPEM}, {s.names.issuer, &m.IssuerPEM}} {
		if f.path == "" {
			continue
		}
		b, err := readFile(f.path)
		if err != nil {
			return nil, err
		}
		*f.dst = b
	}
	return &m, nil
}

// readFile reads path, refusing more than MaxMaterialSize bytes. An empty
// file gives a non-nil empty slice: present, just empty.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, reject(ReasonRead, path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxMaterialSize+1))
	if err != nil {
		return nil, reject(ReasonRead, path, err)
	}
	if len(b) > MaxMaterialSize {
		return nil, reject(ReasonTooLarge, path, fmt.Errorf("file is larger than %d bytes (a certificate chain or key is a few KiB)", MaxMaterialSize))
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// callFunc calls fn for a function source, bounded by the load timeout. A
// call that does not return in time is left to finish in its goroutine (its
// context is cancelled), and no other call starts until it has returned.
func (s *Source) callFunc(ctx context.Context, fn func(context.Context) (*Material, error)) (*Material, error) {
	s.callMu.Lock()
	if s.calling {
		s.callMu.Unlock()
		return nil, reject(ReasonTimeout, "", fmt.Errorf("the previous call of the function has not returned after %v", s.cfg.loadTimeout))
	}
	s.calling = true
	s.callMu.Unlock()

	ctx, cancel := context.WithTimeoutCause(ctx, s.cfg.loadTimeout, errLoadTimeout)
	type result struct {
		m   *Material
		err error
	}
	done := make(chan result, 1)
	go func() {
		m, err := fn(ctx)
		s.callMu.Lock()
		s.calling = false
		s.callMu.Unlock()
		done <- result{m, err}
		cancel() // after the send: a context ended by this cancel has a result waiting
	}()
	select {
	case r := <-done:
		return checkMaterial(r.m, r.err)
	case <-ctx.Done():
		select {
		case r := <-done:
			return checkMaterial(r.m, r.err)
		default:
		}
		if context.Cause(ctx) == errLoadTimeout {
			return nil, reject(ReasonTimeout, "", fmt.Errorf("the function did not return within %v", s.cfg.loadTimeout))
		}
		return nil, reject(ReasonRead, "", context.Cause(ctx))
	}
}

// checkMaterial turns what a function source's function returned into
// material to validate, or a rejection.
func checkMaterial(m *Material, err error) (*Material, error) {
	switch {
	case err != nil:
		return nil, reject(ReasonRead, "", err)
	case m == nil:
		return nil, reject(ReasonRead, "", errors.New("function returned no material"))
	}
	for _, f := range []struct {
		name string
		b    []byte
	}{{"CertPEM", m.CertPEM}, {"KeyPEM", m.KeyPEM}, {"CAPEM", m.CAPEM}, {"IssuerPEM", m.IssuerPEM}} {
		if len(f.b) > MaxMaterialSize {
			return nil, reject(ReasonTooLarge, "", fmt.Errorf("the function returned a Material.%s larger than %d bytes", f.name, MaxMaterialSize))
		}
	}
	return m, nil
}
