package transporttest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// File names used by [WritePair], the names a Kubernetes TLS secret has.
const (
	CertFileName = "tls.crt"
	KeyFileName  = "tls.key"
	CAFileName   = "ca.crt"
)

// WriteFileAtomic writes data to a temporary file in path's directory and
// renames it over path, as editors and most secret agents do, so that a reader
// sees either the old or the new content, never a part.
func WriteFileAtomic(path string, data []byte) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("transporttest: WriteFileAtomic: %w", err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("transporttest: WriteFileAtomic: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("transporttest: WriteFileAtomic: %w", err)
	}
	return nil
}

// WritePair writes p's certificate and key to dir/tls.crt and dir/tls.key,
// each with [WriteFileAtomic]: first the certificate, then the key. Between the
// two renames the directory holds a certificate that does not match its key,
// which is what a rotating reader must survive.
func WritePair(dir string, p *Pair) error {
	if err := WriteFileAtomic(filepath.Join(dir, CertFileName), p.CertPEM); err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, KeyFileName), p.KeyPEM)
}

// WriteKubernetes updates dir the way the kubelet updates a secret or
// configmap volume: files is written into a new hidden directory
// "..<timestamp>", a "..data_tmp" symlink to it is renamed over "..data" (one
// atomic step for all files), each name in dir is a symlink to "..data/<name>"
// (created on first use), and the previous hidden directory is removed.
// Readers that re-read all files after the swap see one consistent set.
func WriteKubernetes(dir string, files map[string][]byte) error {
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return fmt.Errorf("transporttest: WriteKubernetes: %w", err)
	}
	tsName := ".." + time.Now().UTC().Format("2006_01_02_15_04_05.000000000") + "_" + hex.EncodeToString(rnd[:])
	tsDir := filepath.Join(dir, tsName)
	if err := os.Mkdir(tsDir, 0o755); err != nil {
		return fmt.Errorf("transporttest: WriteKubernetes: %w", err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(tsDir, name), data, 0o600); err != nil {
			return fmt.Errorf("transporttest: WriteKubernetes: %w", err)
		}
	}
	dataLink := filepath.Join(dir, "..data")
	old, oldErr := os.Readlink(dataLink)
	tmpLink := filepath.Join(dir, "..data_tmp")
	if err := os.Remove(tmpLink); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("transporttest: WriteKubernetes: %w", err)
	}
	if err := os.Symlink(tsName, tmpLink); err != nil {
		return fmt.Errorf("transporttest: WriteKubernetes: %w", err)
	}
	if err := os.Rename(tmpLink, dataLink); err != nil {
		return fmt.Errorf("transporttest: WriteKubernetes: %w", err)
	}
	for name := range files {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); errors.Is(err, fs.ErrNotExist) {
			if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
				return fmt.Errorf("transporttest: WriteKubernetes: %w", err)
			}
		}
	}
	if oldErr == nil && old != tsName {
		if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
			return fmt.Errorf("transporttest: WriteKubernetes: %w", err)
		}
	}
	return nil
}

// KubernetesPair returns the files of a Kubernetes TLS secret holding p, for
// [WriteKubernetes]; a non-nil ca adds its certificate as ca.crt.
func KubernetesPair(p *Pair, ca *CA) map[string][]byte {
	m := map[string][]byte{CertFileName: p.CertPEM, KeyFileName: p.KeyPEM}
	if ca != nil {
		m[CAFileName] = ca.CertPEM
	}
	return m
}
