package tlsrotate_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/rtchain/chain/tlsrotate"
	"github.com/rtchain/chain/transporttest"
)

// A client whose certificate lives in a directory that a secret agent
// rewrites: tlsrotate.New moves new requests to connections with the new
// certificate as soon as it is on disk.
func ExampleNewFileSource() {
	ca := transporttest.NewCA("example-ca")
	server := transporttest.NewTLSServer(ca, nil) // answers with the client's serial
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
