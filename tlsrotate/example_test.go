package tlsrotate_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/rtchain/chain/errclass"
	"github.com/rtchain/chain/tlsrotate"
	"github.com/rtchain/chain/transporttest"
)

// A client whose certificate lives in a directory that a secret agent
// rewrites: tlsrotate.New moves new requests to connections with the new
// certificate as soon as it is on disk.
func ExampleNewFileSource() {
	ca := transporttest.NewCA("example-ca")
	// A server that requires a client certificate of ca and answers with
	// its serial number.
	server := transporttest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.TLS.PeerCertificates[0].SerialNumber.String())
	}))
	server.TLS = &tls.Config{
		Certificates: []tls.Certificate{ca.IssueServer().Certificate},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.Pool(),
	}
	server.StartTLS()
	defer server.Close()

	dir, _ := os.MkdirTemp("", "certs")
	defer os.RemoveAll(dir)
	first := ca.IssueClient("svc", time.Hour)
	transporttest.WritePair(dir, first)
	transporttest.WriteFileAtomic(filepath.Join(dir, "ca.crt"), ca.CertPEM)

	src, err := tlsrotate.NewFileSource(
		filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"),
		tlsrotate.WithCAFile(filepath.Join(dir, "ca.crt")),
		tlsrotate.WithOnRotate(func(r tlsrotate.Rotation) { fmt.Println("rotated to generation", r.Generation) }),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer src.Close()
	tr := tlsrotate.New(nil, src)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	get := func() string {
		resp, err := client.Get(server.URL)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	fmt.Println("server saw the first certificate:", get() == first.Serial())

	second := ca.IssueClient("svc", time.Hour)
	transporttest.WritePair(dir, second)
	src.Reload() // the watcher would find it within ~100 ms; Reload makes the example exact
	fmt.Println("server saw the second certificate:", get() == second.Serial())
	fmt.Printf("expires in about an hour: %v\n", src.ExpiresIn().Round(time.Hour) == time.Hour)
	// Output:
	// server saw the first certificate: true
	// rotated to generation 2
	// server saw the second certificate: true
	// expires in about an hour: true
}

// A Transport is the bottom of a stack: it takes the template transport to
// clone (its TLS settings are kept; the client certificate is always the
// source's) and options for its connections. A server that starts
// rejecting the certificate makes it re-read the source and handshake
// afresh; the failure it returns meanwhile is neutral for a circuit breaker.
func ExampleNew() {
	ca := transporttest.NewCA("example-ca")
	// A server that requires a client certificate of ca and answers with
	// its serial number.
	server := transporttest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.TLS.PeerCertificates[0].SerialNumber.String())
	}))
	server.TLS = &tls.Config{
		Certificates: []tls.Certificate{ca.IssueServer().Certificate},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.Pool(),
	}
	server.StartTLS()
	defer server.Close()

	first := ca.IssueClient("svc", time.Hour)
	current := first
	src, err := tlsrotate.NewFuncSource(func(context.Context) (*tlsrotate.Material, error) {
		return &tlsrotate.Material{CertPEM: current.CertPEM, KeyPEM: current.KeyPEM}, nil
	}, tlsrotate.WithPollInterval(time.Hour))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer src.Close()
	template := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}
	tr := tlsrotate.New(template, src, tlsrotate.WithDrainTimeout(10*time.Second),
		tlsrotate.WithOnRenew(func(r tlsrotate.Renewal) { fmt.Println("renewed:", r.Trigger) }))
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	// The server moves to a new client CA; the provider already has a
	// certificate of it, though the source would ask only in an hour.
	newCA := transporttest.NewCA("new-ca")
	current = newCA.IssueClient("svc", time.Hour)
	server.UpdateTLS(func(c *tls.Config) { c.ClientCAs = newCA.Pool() })

	_, err = client.Get(server.URL)
	fmt.Println("first request: neutral for a breaker:", errclass.Neutral(err))
	resp, err := client.Get(server.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Println("second request presents the new certificate:", string(b) == current.Serial())
	// Output:
	// renewed: handshake
	// first request: neutral for a breaker: true
	// second request presents the new certificate: true
}
