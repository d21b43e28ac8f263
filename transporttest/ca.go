package transporttest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// CA is a throw-away certificate authority for tests. It issues server and
// client certificates with chosen names and lifetimes (ECDSA P-256, so issuing
// is fast) and random 62-bit serial numbers. A CA is safe for concurrent use. Its methods panic only if the
// system's random source fails, as [httptest] does for its own certificate.
type CA struct {
	// Cert is the CA's own certificate; CertPEM is the same in PEM form.
	Cert    *x509.Certificate
	CertPEM []byte

	key crypto.Signer
}

// NewCA returns a new self-signed root CA named commonName, valid from one
// hour ago for ten years.
func NewCA(commonName string) *CA {
	key := mustKey()
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"transporttest"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		panic(fmt.Sprintf("transporttest: NewCA: %v", err))
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(fmt.Sprintf("transporttest: NewCA: %v", err))
	}
	return &CA{Cert: cert, CertPEM: pemCert(der), key: key}
}

// Pool returns a new pool that holds only this CA's certificate.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// CertSpec describes a certificate to issue. The zero value is a client
// certificate named "client", valid from one minute ago for 24 hours.
type CertSpec struct {
	// CommonName is the subject's common name; empty means "client" for
	// client certificates and "localhost" for server certificates.
	CommonName string
	// DNSNames and IPAddresses are the subject alternative names.
	DNSNames    []string
	IPAddresses []net.IP
	// NotBefore and NotAfter bound the validity window. A zero NotBefore
	// means one minute ago; a zero NotAfter means NotBefore plus 24 hours.
	NotBefore, NotAfter time.Time
	// Server makes a certificate for TLS servers (ExtKeyUsageServerAuth);
	// otherwise it is for TLS clients (ExtKeyUsageClientAuth).
	Server bool
}

// Pair is an issued certificate with its private key, in PEM and parsed form.
// It must not be modified.
type Pair struct {
	CertPEM []byte // the leaf certificate, PEM encoded
	KeyPEM  []byte // the private key, PKCS #8 PEM encoded
	Leaf    *x509.Certificate
	// Certificate is ready for tls.Config.Certificates (Leaf is set).
	Certificate tls.Certificate
}

// Serial returns the certificate's serial number in decimal, as
// SerialNumber.String() gives it for a client certificate in [Request.TLS].
func (p *Pair) Serial() string { return p.Leaf.SerialNumber.String() }

// Issue issues a certificate as described by spec and signs it with the CA.
func (ca *CA) Issue(spec CertSpec) *Pair {
	key := mustKey()
	nb := spec.NotBefore
	if nb.IsZero() {
		nb = time.Now().Add(-time.Minute)
	}
	na := spec.NotAfter
	if na.IsZero() {
		na = nb.Add(24 * time.Hour)
	}
	cn := spec.CommonName
	eku := x509.ExtKeyUsageClientAuth
	if spec.Server {
		eku = x509.ExtKeyUsageServerAuth
		if cn == "" {
			cn = "localhost"
		}
	} else if cn == "" {
		cn = "client"
	}
	serial := randomSerial()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    nb,
		NotAfter:     na,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{eku},
		DNSNames:     spec.DNSNames,
		IPAddresses:  spec.IPAddresses,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.key)
	if err != nil {
		panic(fmt.Sprintf("transporttest: CA.Issue: %v", err))
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		panic(fmt.Sprintf("transporttest: CA.Issue: %v", err))
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		panic(fmt.Sprintf("transporttest: CA.Issue: %v", err))
	}
	return &Pair{
		CertPEM:     pemCert(der),
		KeyPEM:      pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		Leaf:        leaf,
		Certificate: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
	}
}

// IssueServer issues a server certificate valid for 24 hours for localhost,
// 127.0.0.1 and ::1, the names a loopback test server is reached by.
func (ca *CA) IssueServer() *Pair {
	return ca.Issue(CertSpec{
		Server:      true,
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	})
}

// IssueClient issues a client certificate named commonName that is valid from
// one minute ago until lifetime from now.
func (ca *CA) IssueClient(commonName string, lifetime time.Duration) *Pair {
	now := time.Now()
	return ca.Issue(CertSpec{CommonName: commonName, NotBefore: now.Add(-time.Minute), NotAfter: now.Add(lifetime)})
}

func mustKey() *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(fmt.Sprintf("transporttest: generating a key: %v", err))
	}
	return key
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		panic(fmt.Sprintf("transporttest: random serial: %v", err))
	}
	return n
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
