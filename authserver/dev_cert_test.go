package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// runDevCert runs `authserver dev-cert args...` and returns its stdout.
func runDevCert(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"authserver", "dev-cert"}, args...), envFrom(env), &stdout, &stderr)
	if stderr.Len() != 0 {
		t.Errorf("got stderr %q, want nothing", stderr.String())
	}
	return stdout.String(), err
}

// readLeaf reads dir's tls.crt and checks it against dir's ca.crt for
// every host, as a TLS client trusting only ca.crt would.
func readLeaf(t *testing.T, dir string, hosts ...string) *x509.Certificate {
	t.Helper()
	certPEM, err := os.ReadFile(filepath.Join(dir, "tls.crt"))
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Errorf("tls.crt and tls.key are not a pair: %v", err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.crt holds no certificate")
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatal("tls.crt is not PEM")
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: h, Roots: roots}); err != nil {
			t.Errorf("tls.crt for %s: %v", h, err)
		}
	}
	return leaf
}

func TestDevCert(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	out, err := runDevCert(t, nil, "--out", dir)
	if err != nil {
		t.Fatal(err)
	}
	leaf := readLeaf(t, dir, "localhost", "127.0.0.1", "::1", "authserver", "valuesapi")
	ca := filepath.Join(dir, "ca.crt")
	for _, want := range []string{
		"Created the development CA " + ca,
		"curl --cacert " + ca + " https://localhost",
		"NODE_EXTRA_CA_CERTS=" + ca,
		"SSL_CERT_FILE=" + ca,
		"sudo cp " + ca + " /usr/local/share/ca-certificates/tokenbearer-dev.crt && sudo update-ca-certificates",
		"security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain " + ca,
		filepath.Join(dir, "ca.key") + " can sign a certificate for any site",
		"Keep " + dir + " private, never use this CA in production",
		"for localhost, authserver, valuesapi, 127.0.0.1, ::1, valid until " + leaf.NotAfter.UTC().Format("2006-01-02"),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for name, want := range map[string]os.FileMode{"ca.key": 0o600, "tls.key": 0o600, "ca.crt": 0o644, "tls.crt": 0o644, ".": 0o755} {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s mode: got %o, want %o", name, got, want)
		}
	}

	// Again, as after the developer trusted ca.crt: the same CA signs a new
	// pair, so the trust given stays valid.
	before := readFiles(t, dir)
	out, err = runDevCert(t, nil, "--out", dir, "--hosts", "other.test")
	if err != nil {
		t.Fatal(err)
	}
	after := readFiles(t, dir)
	if !strings.Contains(out, "Reused the development CA "+ca) {
		t.Errorf("second run: output lacks the reuse of %s:\n%s", ca, out)
	}
	for name, wantSame := range map[string]bool{"ca.crt": true, "ca.key": true, "tls.crt": false, "tls.key": false} {
		if same := bytes.Equal(before[name], after[name]); same != wantSame {
			t.Errorf("second run: %s unchanged: got %v, want %v", name, same, wantSame)
		}
	}
	readLeaf(t, dir, "localhost", "other.test")
	if slices.Contains(readLeaf(t, dir).DNSNames, "authserver") {
		t.Error("second run: --hosts other.test still has authserver, want the given hosts instead of the default")
	}
}

func readFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, name := range []string{"ca.crt", "ca.key", "tls.crt", "tls.key"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = data
	}
	return files
}

// TestDevCertHosts: the SANs of --hosts and AUTHSERVER_DEV_CERT_HOSTS,
// always after the loopback ones.
func TestDevCertHosts(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantDNS []string
		wantIPs []string
	}{
		{name: "default", wantDNS: []string{"localhost", "authserver", "valuesapi"}, wantIPs: []string{"127.0.0.1", "::1"}},
		{name: "spaces and empty entries", args: []string{"--hosts", " my.test, ,10.0.0.5 ,,"},
			wantDNS: []string{"localhost", "my.test"}, wantIPs: []string{"127.0.0.1", "::1", "10.0.0.5"}},
		{name: "IPv6 with and without brackets", args: []string{"--hosts", "[fd00::1],fd00::2,[::1]"},
			wantDNS: []string{"localhost"}, wantIPs: []string{"127.0.0.1", "::1", "fd00::1", "fd00::2"}},
		{name: "empty: loopback only", args: []string{"--hosts="}, env: map[string]string{"AUTHSERVER_DEV_CERT_HOSTS": "env.test"},
			wantDNS: []string{"localhost"}, wantIPs: []string{"127.0.0.1", "::1"}},
		{name: "from the environment", env: map[string]string{"AUTHSERVER_DEV_CERT_HOSTS": "env.test,authserver"},
			wantDNS: []string{"localhost", "env.test", "authserver"}, wantIPs: []string{"127.0.0.1", "::1"}},
		{name: "flag wins over the environment", args: []string{"--hosts", "flag.test"}, env: map[string]string{"AUTHSERVER_DEV_CERT_HOSTS": "env.test"},
			wantDNS: []string{"localhost", "flag.test"}, wantIPs: []string{"127.0.0.1", "::1"}},
		{name: "repeats once", args: []string{"--hosts", "LOCALHOST,a.test,a.test,127.0.0.1"},
			wantDNS: []string{"localhost", "a.test"}, wantIPs: []string{"127.0.0.1", "::1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := runDevCert(t, tt.env, append([]string{"--out", dir}, tt.args...)...); err != nil {
				t.Fatal(err)
			}
			leaf := readLeaf(t, dir, append(slices.Clone(tt.wantDNS), tt.wantIPs...)...)
			if !slices.Equal(leaf.DNSNames, tt.wantDNS) {
				t.Errorf("DNS names: got %q, want %q", leaf.DNSNames, tt.wantDNS)
			}
			var ips []string
			for _, ip := range leaf.IPAddresses {
				ips = append(ips, ip.String())
			}
			if !slices.Equal(ips, tt.wantIPs) {
				t.Errorf("IP addresses: got %q, want %q", ips, tt.wantIPs)
			}
		})
	}
}

func TestDevCertOutFromEnv(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "from-env")
	if _, err := runDevCert(t, map[string]string{"AUTHSERVER_DEV_CERT_OUT": dir}); err != nil {
		t.Fatal(err)
	}
	readLeaf(t, dir, "localhost")
}

func TestDevCertErrors(t *testing.T) {
	mismatched := t.TempDir()
	if _, err := runDevCert(t, nil, "--out", mismatched); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	if _, err := runDevCert(t, nil, "--out", other); err != nil {
		t.Fatal(err)
	}
	otherKey, _ := os.ReadFile(filepath.Join(other, "ca.key"))
	os.WriteFile(filepath.Join(mismatched, "ca.key"), otherKey, 0o600)

	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no --out", nil, "dev-cert: --out (or AUTHSERVER_DEV_CERT_OUT) is required"},
		{"bad host", []string{"--out", t.TempDir(), "--hosts", "localhost:8443"}, `dev-cert: host "localhost:8443" is neither an IP address nor a DNS name`},
		{"mismatched ca.key", []string{"--out", mismatched}, fmt.Sprintf("dev-cert: %s does not match %s", filepath.Join(mismatched, "ca.key"), filepath.Join(mismatched, "ca.crt"))},
		{"mismatched ca.key says what to delete", []string{"--out", mismatched}, fmt.Sprintf("delete %s and %s", filepath.Join(mismatched, "ca.crt"), filepath.Join(mismatched, "ca.key"))},
		{"positional argument", []string{"--out", t.TempDir(), "extra"}, `dev-cert: unexpected arguments: ["extra"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout bytes.Buffer
			err := run(context.Background(), append([]string{"authserver", "dev-cert"}, tt.args...), envFrom(nil), &stdout, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
			if stdout.Len() != 0 {
				t.Errorf("got stdout %q, want nothing after an error", stdout.String())
			}
		})
	}
	// A refused CA is left as it was, for the developer to decide.
	if got, _ := os.ReadFile(filepath.Join(mismatched, "ca.key")); !bytes.Equal(got, otherKey) {
		t.Error("the mismatched ca.key was replaced, want it kept")
	}
}

func TestParseHosts(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" , ,", nil},
		{"a", []string{"a"}},
		{" a , b ,,c,", []string{"a", "b", "c"}},
		{"::1,[fd00::1], 10.0.0.1", []string{"::1", "[fd00::1]", "10.0.0.1"}},
	}
	for _, tt := range tests {
		if got := parseHosts(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("parseHosts(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}
