package transporttest

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
)

// servedTLS returns the configuration StartTLS hands to httptest: a clone
// of TLS whose GetConfigForClient serves the configuration set by
// UpdateTLS, once there is one.
func (s *Server) servedTLS() *tls.Config {
	cfg := new(tls.Config)
	if s.TLS != nil {
		cfg = s.TLS.Clone()
	}
	userGet := cfg.GetConfigForClient
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if cur := s.tlsCur.Load(); cur != nil {
			return cur, nil
		}
		if userGet != nil {
			return userGet(hello)
		}
		return nil, nil
	}
	return cfg
}

// UpdateTLS changes the TLS configuration of a server started with
// StartTLS, from the next handshake on: it calls f with a copy of the
// configuration in use, and the server serves what f leaves in it.
// Connections already made keep theirs (see [Server.CloseClientConnections]);
// sessions made before are not resumed (each update starts fresh session
// ticket keys), so every later connection is checked against the new
// configuration. A GetConfigForClient of the configuration is dropped. It
// is how a test rotates the server's certificate or the client CAs it
// accepts:
//
//	srv.UpdateTLS(func(c *tls.Config) { c.Certificates = []tls.Certificate{pair.Certificate} })
//	srv.UpdateTLS(func(c *tls.Config) { c.ClientCAs = otherCA.Pool() })
//
// [Server.Client] keeps trusting the certificate the server started with.
// UpdateTLS is safe for concurrent use; calls are applied in turn. It panics
// if the server was not started with StartTLS.
func (s *Server) UpdateTLS(f func(*tls.Config)) {
	if s.hs == nil || s.hs.TLS == nil {
		panic("transporttest: UpdateTLS on a server not started with StartTLS")
	}
	s.tlsMu.Lock()
	defer s.tlsMu.Unlock()
	cur := s.tlsCur.Load()
	if cur == nil {
		cur = s.hs.TLS
	}
	next := cur.Clone()
	next.GetConfigForClient = nil // the served config is final
	var key [32]byte
	rand.Read(key[:])
	next.SetSessionTicketKeys([][32]byte{key}) // tickets issued before do not resume
	f(next)
	s.tlsCur.Store(next)
}

// leaf returns the parsed first certificate of cfg, or nil.
func leaf(cfg *tls.Config) *x509.Certificate {
	if len(cfg.Certificates) == 0 || len(cfg.Certificates[0].Certificate) == 0 {
		return nil
	}
	if l := cfg.Certificates[0].Leaf; l != nil {
		return l
	}
	l, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	if err != nil {
		return nil
	}
	return l
}
