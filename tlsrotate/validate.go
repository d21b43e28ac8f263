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
	"slices"
	"strings"
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
	ReasonKeyUsage     Reason = "key_usage"     // the certificate's extended key usage excludes client authentication
	ReasonTooLarge     Reason = "too_large"     // a file or field is larger than MaxMaterialSize
	ReasonTimeout      Reason = "timeout"       // a function source's call did not return within the load timeout
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
	// CertPEM holds the chain, leaf first, then intermediates. Other PEM
	// blocks (the key of a combined file) are skipped, as
	// tls.X509KeyPair skips them.
	CertPEM []byte
	// KeyPEM holds one PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block,
	// before or after other blocks (EC PARAMETERS, as openssl ecparam
	// writes, or the certificates of a combined file).
	KeyPEM []byte
	CAPEM  []byte // roots that verify servers; nil for none
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

// pemBlocks decodes every PEM block of data. Text before a block is
// skipped, as pem.Decode does; anything but whitespace after the last block
// is an error (a file cut off while it was written).
func pemBlocks(data []byte) ([]*pem.Block, error) {
	var blocks []*pem.Block
	rest := data
	for len(bytes.TrimSpace(rest)) != 0 {
		block, r := pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("PEM block %d: not PEM (truncated or trailing data)", len(blocks)+1)
		}
		blocks = append(blocks, block)
		rest = r
	}
	return blocks, nil
}

func isKeyBlock(b *pem.Block) bool {
	return b.Type == "PRIVATE KEY" || strings.HasSuffix(b.Type, " PRIVATE KEY")
}

// parseCertFile returns the certificates of a certificate file in order:
// every CERTIFICATE block, parsed strictly. Other blocks are skipped.
func parseCertFile(blocks []*pem.Block) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for _, b := range blocks {
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no certificate")
	}
	return certs, nil
}

// parseKeyFile returns the one private key among blocks.
func parseKeyFile(blocks []*pem.Block) (crypto.Signer, error) {
	var block *pem.Block
	for _, b := range blocks {
		if !isKeyBlock(b) {
			continue
		}
		if block != nil {
			return nil, errors.New("more than one private key")
		}
		block = b
	}
	if block == nil {
		return nil, errors.New("no private key")
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

// parsePair parses the certificate file and the key file (which may be the
// same bytes), naming a swap of the two paths when that is what it sees.
func parsePair(m *Material, n names) ([]*x509.Certificate, crypto.Signer, error) {
	certBlocks, err := pemBlocks(m.CertPEM)
	if err != nil {
		return nil, nil, reject(ReasonParse, n.cert, err)
	}
	keyBlocks, err := pemBlocks(m.KeyPEM)
	if err != nil {
		return nil, nil, reject(ReasonParse, n.key, err)
	}
	chain, certErr := parseCertFile(certBlocks)
	key, keyErr := parseKeyFile(keyBlocks)
	if certErr != nil && keyErr != nil && slices.ContainsFunc(certBlocks, isKeyBlock) &&
		slices.ContainsFunc(keyBlocks, func(b *pem.Block) bool { return b.Type == "CERTIFICATE" }) {
		return nil, nil, reject(ReasonParse, n.cert, errors.New("holds a private key and no certificate, and the key file holds certificates and no key: are the certificate and key paths swapped?"))
	}
	if certErr != nil {
		return nil, nil, reject(ReasonParse, n.cert, certErr)
	}
	if keyErr != nil {
		return nil, nil, reject(ReasonParse, n.key, keyErr)
	}
	return chain, key, nil
}

// forClients reports whether leaf may authenticate a TLS client: it has no
// extended key usage (any use), or it lists client authentication or any.
func forClients(leaf *x509.Certificate) bool {
	if len(leaf.ExtKeyUsage) == 0 && len(leaf.UnknownExtKeyUsage) == 0 {
		return true
	}
	return slices.ContainsFunc(leaf.ExtKeyUsage, func(u x509.ExtKeyUsage) bool {
		return u == x509.ExtKeyUsageClientAuth || u == x509.ExtKeyUsageAny
	})
}

var ekuNames = map[x509.ExtKeyUsage]string{
	x509.ExtKeyUsageServerAuth:      "serverAuth",
	x509.ExtKeyUsageCodeSigning:     "codeSigning",
	x509.ExtKeyUsageEmailProtection: "emailProtection",
	x509.ExtKeyUsageTimeStamping:    "timeStamping",
	x509.ExtKeyUsageOCSPSigning:     "OCSPSigning",
}

// usages names leaf's extended key usages.
func usages(leaf *x509.Certificate) string {
	var out []string
	for _, u := range leaf.ExtKeyUsage {
		if n, ok := ekuNames[u]; ok {
			out = append(out, n)
		} else {
			out = append(out, fmt.Sprintf("usage %d", u))
		}
	}
	for _, oid := range leaf.UnknownExtKeyUsage {
		out = append(out, oid.String())
	}
	return strings.Join(out, ", ")
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
	chain, key, err := parsePair(m, n)
	if err != nil {
		return nil, err
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
	if !forClients(leaf) {
		return nil, reject(ReasonKeyUsage, n.cert, fmt.Errorf("certificate (serial %s) is not for client authentication: its extended key usage allows only %s", leaf.SerialNumber, usages(leaf)))
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
