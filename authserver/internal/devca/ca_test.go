package devca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLoadOrCreateCACreates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "certs")
	ca, created, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Error("created: got false for an empty directory, want true")
	}
	c := ca.Cert
	if c.Subject.CommonName != CAName {
		t.Errorf("CA common name: got %q, want %q", c.Subject.CommonName, CAName)
	}
	if !c.IsCA || !c.BasicConstraintsValid || c.MaxPathLen != 0 || !c.MaxPathLenZero {
		t.Errorf("basic constraints: got IsCA %v, valid %v, MaxPathLen %d, zero %v; want a CA of path length 0",
			c.IsCA, c.BasicConstraintsValid, c.MaxPathLen, c.MaxPathLenZero)
	}
	if want := x509.KeyUsageCertSign | x509.KeyUsageCRLSign; c.KeyUsage != want {
		t.Errorf("key usage: got %b, want %b", c.KeyUsage, want)
	}
	if pub, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("public key: got %T, want ECDSA P-256", c.PublicKey)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("CA is not self-signed: %v", err)
	}
	if years := c.NotAfter.Sub(c.NotBefore).Hours() / 24 / 365; years < 2 || years > 10 {
		t.Errorf("CA validity: got %.1f years, want a few", years)
	}
	if !c.NotBefore.Before(time.Now()) {
		t.Errorf("CA NotBefore %v is not in the past", c.NotBefore)
	}
	onDisk, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if err != nil || !bytes.Equal(onDisk, ca.CertPEM) {
		t.Errorf("ca.crt: got %q (%v), want CertPEM", onDisk, err)
	}
	for _, f := range []struct {
		name string
		mode os.FileMode
	}{{CAKeyFile, 0o600}, {CACertFile, 0o644}} {
		if got := mode(t, filepath.Join(dir, f.name)); got != f.mode {
			t.Errorf("%s mode: got %o, want %o", f.name, got, f.mode)
		}
	}
	if got := mode(t, dir); got != 0o755 {
		t.Errorf("directory mode: got %o, want 755", got)
	}
	assertOnly(t, dir, CACertFile, CAKeyFile)
}

func TestLoadOrCreateCAReuses(t *testing.T) {
	dir := t.TempDir()
	first, _, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, created, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Error("created: got true for an existing CA, want false")
	}
	if !bytes.Equal(again.CertPEM, first.CertPEM) {
		t.Error("ca.crt changed on the second run, want the same bytes: the trust already given would be lost")
	}
	if !again.key.Public().(*ecdsa.PublicKey).Equal(first.key.Public()) {
		t.Error("CA key changed on the second run, want the same")
	}
}

// TestLoadOrCreateCARefuses: a CA that may already be trusted is never
// replaced; the error says which files to delete.
func TestLoadOrCreateCARefuses(t *testing.T) {
	other := t.TempDir()
	if _, _, err := LoadOrCreateCA(other); err != nil {
		t.Fatal(err)
	}
	otherKey, _ := os.ReadFile(filepath.Join(other, CAKeyFile))
	leafPEM, leafKeyPEM := issue(t, other)

	tests := []struct {
		name    string
		prepare func(dir string) // dir holds a valid CA beforehand
		want    []string         // in the error
	}{
		{"key missing", func(dir string) { os.Remove(filepath.Join(dir, CAKeyFile)) },
			[]string{"ca.key does not", "delete " + filepath.Join(dir0, CACertFile)}},
		{"certificate missing", func(dir string) { os.Remove(filepath.Join(dir, CACertFile)) },
			[]string{"ca.crt does not", "delete " + filepath.Join(dir0, CAKeyFile)}},
		{"key of another CA", func(dir string) { os.WriteFile(filepath.Join(dir, CAKeyFile), otherKey, 0o600) },
			[]string{"ca.key does not match " + filepath.Join(dir0, CACertFile), "delete " + filepath.Join(dir0, CACertFile) + " and " + filepath.Join(dir0, CAKeyFile)}},
		{"key not PEM", func(dir string) { os.WriteFile(filepath.Join(dir, CAKeyFile), []byte("nope"), 0o600) },
			[]string{"ca.key: no PEM block", "delete "}},
		{"certificate not PEM", func(dir string) { os.WriteFile(filepath.Join(dir, CACertFile), []byte("nope"), 0o644) },
			[]string{"ca.crt: no PEM CERTIFICATE block", "delete "}},
		{"a leaf as the CA", func(dir string) {
			os.WriteFile(filepath.Join(dir, CACertFile), leafPEM, 0o644)
			os.WriteFile(filepath.Join(dir, CAKeyFile), leafKeyPEM, 0o600)
		}, []string{"ca.crt is not a CA certificate", "delete "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "d")
			if _, _, err := LoadOrCreateCA(dir); err != nil {
				t.Fatal(err)
			}
			tt.prepare(dir)
			before := snapshot(t, dir)
			ca, _, err := LoadOrCreateCA(dir)
			if err == nil {
				t.Fatalf("got CA %v, want an error", ca.Cert.Subject)
			}
			for _, w := range tt.want {
				if w = strings.ReplaceAll(w, dir0, dir); !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if after := snapshot(t, dir); after != before {
				t.Errorf("files changed after the refusal: got\n%s\nwant\n%s", after, before)
			}
		})
	}
}

// dir0 stands for the test's directory in wanted error texts.
const dir0 = "DIR"

func issue(t *testing.T, dir string) (certPEM, keyPEM []byte) {
	t.Helper()
	ca, _, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err = ca.IssueLeaf(nil)
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, keyPEM
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode().Perm()
}

// assertOnly checks dir holds exactly names: no temporary file is left.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	slices.Sort(names)
	if !slices.Equal(got, names) {
		t.Errorf("directory holds %q, want %q", got, names)
	}
}

// snapshot is every file of dir with its mode and content.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		b.WriteString(e.Name() + " " + mode(t, filepath.Join(dir, e.Name())).String() + " " + string(data) + "\n")
	}
	return b.String()
}
