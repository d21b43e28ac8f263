package tlsrotate_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"slices"
	"sync"
	"testing"
	"testing/cryptotest"
	"time"

	"github.com/rtchain/chain/tlsrotate"
)

// fuzzNow is the time of FuzzMaterial's source clock.
var fuzzNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// FuzzMaterial makes valid material (a client certificate and its key, in
// the shape the fuzzer picks: key type, PEM encoding of the key, EKU,
// intermediate, CA and issuer bundles, combined files, comments, CRLF,
// validity inside the clock skew) from a seed, checks that a function
// source accepts it, then mutates it (bytes of the PEM text or of the DER
// inside a block, truncation, blocks dropped, doubled, moved or retyped,
// files swapped or emptied) and checks the source's answer: no panic; a
// rejection is a *RejectError with a known reason and a cause, and the
// previous material stays in use; material it accepts is valid: the key is
// the certificate's, the certificate is inside its validity window and for
// client authentication, and it chains to the issuer bundle when there is
// one.
func FuzzMaterial(f *testing.F) {
	f.Add(uint64(1), uint16(0), []byte{})
	f.Add(uint64(2), uint16(0x0001), []byte{3, 0, 0, 5, 0})            // P-256; a DER byte of the leaf flipped
	f.Add(uint64(3), uint16(0x00c2), []byte{7})                        // P-384, intermediate; files swapped
	f.Add(uint64(4), uint16(0x0303), []byte{4, 1, 0, 40})              // RSA, PKCS #1; the key's DER truncated
	f.Add(uint64(5), uint16(0x1c10), []byte{5, 0, 0, 11, 0, 0, 1})     // any EKU, combined files; a block dropped, retyped
	f.Add(uint64(6), uint16(0xe021), []byte{1, 2, 0, 200})             // comments, CRLF, issuer bundle; the CA truncated
	f.Add(uint64(7), uint16(0x0108), []byte{12, 0, 1, 0, 6, 1, 0})     // SEC 1 with EC PARAMETERS; a block moved, doubled
	f.Add(uint64(8), uint16(0x0c40), []byte{9, 0, 'x', 10, 1, '-', 2}) // server-only EKU (rejected); text around the blocks
	f.Fuzz(func(t *testing.T, seed uint64, shape uint16, mutations []byte) {
		rsaKeyOnce.Do(func() { rsaKey = newRSAKey(t) })
		cryptotest.SetGlobalRandom(t, seed)
		valid, wantLeaf, acceptable := genMaterial(t, shape)
		var mu sync.Mutex
		cur := valid
		src, err := tlsrotate.NewFuncSource(func(context.Context) (*tlsrotate.Material, error) {
			mu.Lock()
			defer mu.Unlock()
			return cur, nil
		}, tlsrotate.WithClock(func() time.Time { return fuzzNow }), tlsrotate.WithPollInterval(time.Hour))
		if !acceptable {
			if err == nil {
				src.Close()
				t.Fatalf("material of shape %#x accepted", shape)
			}
			checkRejected(t, err)
			return
		}
		if err != nil {
			t.Fatalf("valid material (shape %#x) rejected: %v", shape, err)
		}
		defer src.Close()
		before := src.Current()
		if !before.Leaf.Equal(wantLeaf) {
			t.Fatalf("source serves serial %v, want %v", before.Leaf.SerialNumber, wantLeaf.SerialNumber)
		}
		m := mutate(valid, mutations)
		mu.Lock()
		cur = m
		mu.Unlock()
		if err := src.Reload(); err != nil {
			checkRejected(t, err)
			if src.Current() != before {
				t.Fatalf("rejected material (%v) replaced the snapshot in use", err)
			}
			return
		}
		if snap := src.Current(); snap != before {
			checkAccepted(t, m, snap)
		}
	})
}

// checkRejected checks that err is a rejection that says why.
func checkRejected(t *testing.T, err error) {
	t.Helper()
	re, ok := errors.AsType[*tlsrotate.RejectError](err)
	if !ok {
		t.Fatalf("rejection %v (%T) is not a *RejectError", err, err)
	}
	reasons := []tlsrotate.Reason{tlsrotate.ReasonRead, tlsrotate.ReasonParse, tlsrotate.ReasonKeyMismatch,
		tlsrotate.ReasonExpired, tlsrotate.ReasonNotYetValid, tlsrotate.ReasonChainInvalid, tlsrotate.ReasonKeyUsage,
		tlsrotate.ReasonTooLarge, tlsrotate.ReasonTimeout}
	if !slices.Contains(reasons, re.Reason) || re.Err == nil || re.Err.Error() == "" {
		t.Fatalf("rejection without a reason: %#v", re)
	}
}

// checkAccepted checks, without the package's help, that material m,
// which the source accepted as snap, is valid.
func checkAccepted(t *testing.T, m *tlsrotate.Material, snap *tlsrotate.Snapshot) {
	t.Helper()
	chain := certsOf(m.CertPEM)
	if len(chain) == 0 || len(chain) != len(snap.Certificate.Certificate) {
		t.Fatalf("accepted %d certificates, the file holds %d", len(snap.Certificate.Certificate), len(chain))
	}
	for i, c := range chain {
		if !bytes.Equal(c.Raw, snap.Certificate.Certificate[i]) {
			t.Fatalf("certificate %d of the snapshot is not the file's", i)
		}
	}
	leaf := chain[0]
	signer, ok := snap.Certificate.PrivateKey.(crypto.Signer)
	if pub, ok2 := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !ok2 || !pub.Equal(signer.Public()) {
		t.Fatalf("accepted a key that is not the certificate's")
	}
	if fuzzNow.Before(leaf.NotBefore.Add(-tlsrotate.DefaultClockSkew)) || !fuzzNow.Before(leaf.NotAfter) {
		t.Fatalf("accepted a certificate valid from %v to %v at %v", leaf.NotBefore, leaf.NotAfter, fuzzNow)
	}
	if len(leaf.ExtKeyUsage)+len(leaf.UnknownExtKeyUsage) > 0 && !slices.ContainsFunc(leaf.ExtKeyUsage, func(u x509.ExtKeyUsage) bool {
		return u == x509.ExtKeyUsageClientAuth || u == x509.ExtKeyUsageAny
	}) {
		t.Fatalf("accepted a certificate not for clients: %v %v", leaf.ExtKeyUsage, leaf.UnknownExtKeyUsage)
	}
	issuer := m.IssuerPEM
	if issuer == nil {
		issuer = m.CAPEM
	}
	if issuer == nil {
		return
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range certsOf(issuer) {
		roots.AddCert(c)
	}
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	at := fuzzNow
	if at.Before(leaf.NotBefore) {
		at = leaf.NotBefore
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("accepted a certificate that does not chain to the issuer bundle: %v", err)
	}
}

// certsOf returns the certificates of the CERTIFICATE blocks of data that
// parse.
func certsOf(data []byte) []*x509.Certificate {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return out
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil && b.Type == "CERTIFICATE" {
			out = append(out, c)
		}
	}
}

var (
	rsaKeyOnce sync.Once
	rsaKey     *rsa.PrivateKey
)

// newRSAKey makes the one RSA key of the fuzz run, the same in every
// process: generating one per input would take most of the run.
func newRSAKey(t *testing.T) *rsa.PrivateKey {
	cryptotest.SetGlobalRandom(t, 1)
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// The bits of a material shape.
const (
	shapeKey       = 0x0003 // leaf key: Ed25519, P-256, P-384, RSA
	shapeCA        = 0x0004 // no CA bundle
	shapeKeyPEM    = 0x0008 // EC: SEC 1 (with EC PARAMETERS); RSA: PKCS #1; else PKCS #8
	shapeCombined  = 0x0010 // the key in the certificate file, the chain in the key file
	shapeIssuer    = 0x0020 // an issuer bundle, and an unrelated CA bundle
	shapeInter     = 0x0040 // an intermediate CA
	shapeValidity  = 0x0180 // not before: 1 h ago, 1 s ago, 2 min ahead (inside the skew), 10 min ahead (rejected)
	shapeEKU       = 0x0c00 // none, client, any, server only (rejected)
	shapeComment   = 0x1000 // text before the blocks
	shapeCRLF      = 0x2000 // CRLF line ends
	shapeTrailing  = 0x4000 // blank lines after the blocks
	shapeExpiresIn = 0x8000 // not after: 1000 h, or 1 s from now
)

// genMaterial returns valid material of the given shape, its leaf, and
// whether the source must accept it (false for shapes made to be
// rejected).
func genMaterial(t *testing.T, shape uint16) (*tlsrotate.Material, *x509.Certificate, bool) {
	root, rootKey := newCert(t, "fuzz root", nil, nil, newKey(t, 1), shape, true)
	issuer, issuerKey := root, rootKey
	var chain []*x509.Certificate
	if shape&shapeInter != 0 {
		issuer, issuerKey = newCert(t, "fuzz intermediate", root, rootKey, newKey(t, 1), shape, true)
		chain = append(chain, issuer)
	}
	leafKey := newKey(t, int(shape&shapeKey))
	leaf, _ := newCert(t, "fuzz client", issuer, issuerKey, leafKey, shape, false)
	chain = append([]*x509.Certificate{leaf}, chain...)

	var certPEM, keyPEM []byte
	for _, c := range chain {
		certPEM = append(certPEM, pemOf("CERTIFICATE", c.Raw)...)
	}
	keyPEM = keyBlocks(t, leafKey, shape&shapeKeyPEM != 0)
	if shape&shapeCombined != 0 {
		certPEM, keyPEM = append(certPEM, keyPEM...), append(keyPEM, certPEM...)
	}
	m := &tlsrotate.Material{CertPEM: certPEM, KeyPEM: keyPEM}
	if shape&shapeCA == 0 {
		m.CAPEM = pemOf("CERTIFICATE", root.Raw)
	}
	if shape&shapeIssuer != 0 {
		other, _ := newCert(t, "unrelated root", nil, nil, newKey(t, 0), shape, true)
		m.IssuerPEM, m.CAPEM = m.CAPEM, pemOf("CERTIFICATE", other.Raw)
		if m.IssuerPEM == nil {
			m.IssuerPEM = pemOf("CERTIFICATE", root.Raw)
		}
	}
	for _, p := range []*[]byte{&m.CertPEM, &m.KeyPEM, &m.CAPEM, &m.IssuerPEM} {
		*p = cosmetics(*p, shape)
	}
	acceptable := shape&shapeValidity != 0x0180 && shape&shapeEKU != 0x0c00
	return m, leaf, acceptable
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func newKey(t *testing.T, kind int) crypto.Signer {
	var k crypto.Signer
	var err error
	switch kind {
	case 0:
		_, k, err = ed25519.GenerateKey(rand.Reader)
	case 1:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case 2:
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	default:
		k = rsaKey
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newCert makes a certificate for key, signed by parent's key (self-signed
// without a parent).
func newCert(t *testing.T, cn string, parent *x509.Certificate, parentKey, key crypto.Signer, shape uint16, ca bool) (*x509.Certificate, crypto.Signer) {
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: fuzzNow.Add(-365 * 24 * time.Hour), NotAfter: fuzzNow.Add(365 * 24 * time.Hour)}
	if ca {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.NotBefore = fuzzNow.Add([]time.Duration{-time.Hour, -time.Second, 2 * time.Minute, 10 * time.Minute}[shape&shapeValidity>>7])
		tmpl.NotAfter = fuzzNow.Add(1000 * time.Hour)
		if shape&shapeExpiresIn != 0 {
			tmpl.NotAfter = latest(fuzzNow, tmpl.NotBefore).Add(time.Second)
		}
		tmpl.ExtKeyUsage = [][]x509.ExtKeyUsage{nil, {x509.ExtKeyUsageClientAuth},
			{x509.ExtKeyUsageAny}, {x509.ExtKeyUsageServerAuth}}[shape&shapeEKU>>10]
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

// keyBlocks encodes key as PKCS #8, or in its own older format (SEC 1 after
// an EC PARAMETERS block, PKCS #1) with legacy.
func keyBlocks(t *testing.T, key crypto.Signer, legacy bool) []byte {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if legacy {
			der, err := x509.MarshalECPrivateKey(k)
			if err != nil {
				t.Fatal(err)
			}
			return append(pemOf("EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}),
				pemOf("EC PRIVATE KEY", der)...)
		}
	case *rsa.PrivateKey:
		if legacy {
			return pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k))
		}
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("PRIVATE KEY", der)
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// cosmetics adds what tools write around PEM blocks and what the package
// must take: a comment before them, CRLF line ends, blank lines after.
func cosmetics(b []byte, shape uint16) []byte {
	if b == nil {
		return nil
	}
	if shape&shapeComment != 0 {
		b = append([]byte("subject=CN = fuzz client\nissuer=CN = fuzz root\n"), b...)
	}
	if shape&shapeCRLF != 0 {
		b = bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
	}
	if shape&shapeTrailing != 0 {
		b = append(b, "\n\n \t\n"...)
	}
	return b
}

// mutate returns a copy of m changed by the program ops: each operation
// reads its field (0 cert, 1 key, 2 CA, 3 issuer) and arguments from ops.
func mutate(m *tlsrotate.Material, ops []byte) *tlsrotate.Material {
	out := *m
	fields := []*[]byte{&out.CertPEM, &out.KeyPEM, &out.CAPEM, &out.IssuerPEM}
	for _, p := range fields {
		*p = bytes.Clone(*p)
	}
	arg := func() int {
		if len(ops) == 0 {
			return 0
		}
		b := ops[0]
		ops = ops[1:]
		return int(b)
	}
	for n := 0; len(ops) > 0 && n < 4; n++ {
		op, field := arg()%13, fields[arg()%len(fields)]
		b := *field
		switch op {
		case 0: // flip a byte of the text
			if len(b) > 0 {
				b[arg()*7%len(b)] ^= byte(arg() | 1)
			}
		case 1: // truncate the text
			b = b[:min(len(b), arg()*len(b)/256)]
		case 2: // insert a byte into the text
			i := min(len(b), arg()*7)
			b = slices.Insert(b, i, byte(arg()))
		case 7: // swap the certificate and key files
			out.CertPEM, out.KeyPEM = out.KeyPEM, out.CertPEM
			continue
		case 8: // empty the file, or drop it
			if b = nil; arg()&1 != 0 {
				b = []byte{}
			}
		case 9: // text after the blocks
			b = append(b, byte(arg()), byte(arg()))
		case 10: // text before the blocks
			b = append([]byte{byte(arg()), byte(arg()), '\n'}, b...)
		case 12: // move a block to another file
			blocks := decodeAll(b)
			if len(blocks) == 0 {
				continue
			}
			k := arg() % len(blocks)
			moved, to := pem.EncodeToMemory(blocks[k]), fields[arg()%len(fields)]
			b = encodeAll(slices.Delete(blocks, k, k+1))
			if to == field {
				b = append(b, moved...)
			} else {
				*to = append(*to, moved...)
			}
		default:
			b = mutateBlock(op, b, arg)
		}
		*field = b
	}
	return &out
}

// mutateBlock changes one PEM block of b: a byte of its DER flipped (3),
// its DER truncated (4), the block dropped (5), doubled (6), retyped (11).
func mutateBlock(op int, b []byte, arg func() int) []byte {
	blocks := decodeAll(b)
	if len(blocks) == 0 {
		return b
	}
	k := arg() % len(blocks)
	blk := blocks[k]
	switch op {
	case 3:
		if len(blk.Bytes) > 0 {
			blk.Bytes[arg()*arg()%len(blk.Bytes)] ^= byte(arg() | 1)
		}
	case 4:
		blk.Bytes = blk.Bytes[:min(len(blk.Bytes), arg()*len(blk.Bytes)/256)]
	case 5:
		blocks = slices.Delete(blocks, k, k+1)
	case 6:
		blocks = slices.Insert(blocks, k, blk)
	case 11:
		blk.Type = []string{"CERTIFICATE", "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "EC PARAMETERS", "X"}[arg()%6]
	}
	return encodeAll(blocks)
}

func decodeAll(b []byte) []*pem.Block {
	var out []*pem.Block
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			return out
		}
		out = append(out, blk)
	}
}

func encodeAll(blocks []*pem.Block) []byte {
	var out []byte
	for _, blk := range blocks {
		out = append(out, pem.EncodeToMemory(blk)...)
	}
	return out
}
