package tlsrotate

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// Reason says why material was rejected. Its values are a closed,
// low-cardinality set meant for metric attributes.
type Reason string

// The reasons a [RejectError] carries.
const (
	ReasonRead         Reason = "read_error"    // a file could not be read, or the function failed
	ReasonParse        Reason = "parse_error"   // PEM or DER that does not parse, or an empty bundle
	ReasonKeyMismatch  Reason = "key_mismatch"  // the private key is not the certificate's
	ReasonExpired      Reason = "expired"       // now is at or after NotAfter
	ReasonNotYetValid  Reason = "not_yet_valid" // now is before NotBefore minus the clock skew
	ReasonChainInvalid Reason = "chain_invalid" // the certificate does not chain to the issuer bundle
)

// RejectError reports material that was not put into use. The previous
// material (if any) stays in use. Use errors.As to reach it:
//
//	var re *tlsrotate.RejectError
//	if errors.As(err, &re) { rejections.Add(ctx, 1, attribute.String("reason", string(re.Reason))) }
type RejectError struct {
	Reason Reason
	// File is the file at fault, when one is ("" for a function source).
	File string
	// Err is the underlying error.
	Err error
}

func (e *RejectError) Error() string {
	if e.File != "" {
		return fmt.Sprintf("tlsrotate: rejected %s (%s): %v", e.File, e.Reason, e.Err)
	}
	return fmt.Sprintf("tlsrotate: rejected material (%s): %v", e.Reason, e.Err)
}

// Unwrap returns the underlying error.
func (e *RejectError) Unwrap() error { return e.Err }

func reject(r Reason, file string, err error) *RejectError {
	return &RejectError{Reason: r, File: file, Err: err}
}

// Material is the PEM input of one snapshot: what a function source returns
// and what a file source reads. CA and Issuer are optional bundles.
type Material struct {
	CertPEM []byte // leaf first, then intermediates
	KeyPEM  []byte // one PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block
	CAPEM   []byte // roots that verify servers; nil for none
	// IssuerPEM is the bundle the certificate must chain to; nil means CAPEM.
	IssuerPEM []byte
}

// names of the material's parts for errors (file paths for a file source).
type names struct{ cert, key, ca, issuer string }

func (m *Material) hash() [32]byte {
	h := sha256.New()
	for _, b := range [][]byte{m.CertPEM, m.KeyPEM, m.CAPEM, m.IssuerPEM} {
		var n [8]byte
		l := len(b)
		for i := range n {
			n[i] = byte(l >> (8 * i))
		}
		h.Write(n[:])
		h.Write(b)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// ParseBundle parses a PEM bundle strictly: every PEM block must be a
// CERTIFICATE that parses, nothing but whitespace may follow the last block,
// and there must be at least one. Text before a block (comments, openssl's
// "subject=" lines) is skipped, as pem.Decode does. (AppendCertsFromPEM of
// x509.CertPool skips what it cannot parse, so a bundle cut off inside its
// second certificate would pass there.)
func ParseBundle(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for {
		if len(bytes.TrimSpace(rest)) == 0 {
			break
		}
		block, r := pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("certificate %d: not PEM (truncated or trailing data)", len(certs)+1)
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("certificate %d: PEM block is %q, want CERTIFICATE", len(certs)+1, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
		rest = r
	}
	if len(certs) == 0 {
		return nil, errors.New("no certificate")
	}
	return certs, nil
}

func parseKey(data []byte) (crypto.Signer, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		if len(bytes.TrimSpace(data)) == 0 {
			return nil, errors.New("no private key")
		}
		return nil, errors.New("private key: not PEM (truncated or garbage)")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("private key: trailing data after the key")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("private key: PEM block is %q", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key: %T cannot sign", key)
	}
	return s, nil
}

func poolOf(certs []*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// build validates m at time now and returns the snapshot it makes (without
// Generation and LoadedAt).
func build(m *Material, n names, now time.Time, skew time.Duration) (*Snapshot, error) {
	chain, err := ParseBundle(m.CertPEM)
	if err != nil {
		return nil, reject(ReasonParse, n.cert, err)
	}
	key, err := parseKey(m.KeyPEM)
	if err != nil {
		return nil, reject(ReasonParse, n.key, err)
	}
	leaf := chain[0]
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return nil, reject(ReasonKeyMismatch, n.key, fmt.Errorf("private key does not match the certificate (serial %s)", leaf.SerialNumber))
	}
	if now.Before(leaf.NotBefore.Add(-skew)) {
		return nil, reject(ReasonNotYetValid, n.cert, fmt.Errorf("certificate (serial %s) is not valid before %s", leaf.SerialNumber, leaf.NotBefore.UTC().Format(time.RFC3339)))
	}
	if !now.Before(leaf.NotAfter) {
		return nil, reject(ReasonExpired, n.cert, fmt.Errorf("certificate (serial %s) expired at %s", leaf.SerialNumber, leaf.NotAfter.UTC().Format(time.RFC3339)))
	}
	snap := &Snapshot{Leaf: leaf, Hash: m.hash()}
	if m.CAPEM != nil {
		cas, err := ParseBundle(m.CAPEM)
		if err != nil {
			return nil, reject(ReasonParse, n.ca, err)
		}
		snap.Roots = poolOf(cas)
	}
	issuer, issuerName := snap.Roots, n.ca
	if m.IssuerPEM != nil {
		cas, err := ParseBundle(m.IssuerPEM)
		if err != nil {
			return nil, reject(ReasonParse, n.issuer, err)
		}
		issuer, issuerName = poolOf(cas), n.issuer
	}
	if issuer != nil {
		opts := x509.VerifyOptions{
			Roots:         issuer,
			Intermediates: poolOf(chain[1:]),
			CurrentTime:   now,
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		if now.Before(leaf.NotBefore) {
			opts.CurrentTime = leaf.NotBefore // inside the accepted skew
		}
		if _, err := leaf.Verify(opts); err != nil {
			if issuerName != "" {
				err = fmt.Errorf("%w (issuer bundle %s; use WithIssuerCAFile when the client issuer differs from the server CA)", err, issuerName)
			}
			return nil, reject(ReasonChainInvalid, n.cert, err)
		}
	}
	der := make([][]byte, len(chain))
	for i, c := range chain {
		der[i] = c.Raw
	}
	snap.Certificate = &tls.Certificate{Certificate: der, PrivateKey: key, Leaf: leaf}
	return snap, nil
}
