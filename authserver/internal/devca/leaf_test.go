package devca

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestIssueLeafVerifies(t *testing.T) {
	ca, _, err := LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	certPEM, _, err := ca.IssueLeaf([]string{"authserver", "api.dev.test", "10.1.2.3", "[fd00::5]"})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := parseCertPEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.CertPEM)
	for _, host := range []string{"localhost", "127.0.0.1", "::1", "authserver", "api.dev.test", "10.1.2.3", "fd00::5"} {
		for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
				t.Errorf("verify for %s, usage %v: %v", host, usage, err)
			}
		}
	}
	for _, host := range []string{"valuesapi", "example.com", "127.0.0.2"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots}); err == nil {
			t.Errorf("verify for %s: got nil, want an error: it was not asked for", host)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "localhost", Roots: x509.NewCertPool()}); err == nil {
		t.Error("verify without the CA: got nil, want an error")
	}
	if leaf.IsCA {
		t.Error("leaf IsCA: got true, want false")
	}
	if got := leaf.NotAfter.Sub(leaf.NotBefore); got > 397*24*time.Hour {
		t.Errorf("leaf validity: got %v, want at most 397 days", got)
	}
	if !leaf.NotBefore.Before(time.Now()) || leaf.NotAfter.Before(time.Now().Add(396*24*time.Hour)) {
		t.Errorf("leaf valid from %v to %v, want from now for about 397 days", leaf.NotBefore, leaf.NotAfter)
	}
}

func TestIssueLeafNewKeyEachTime(t *testing.T) {
	ca, _, err := LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cert1, key1, err := ca.IssueLeaf(nil)
	if err != nil {
		t.Fatal(err)
	}
	cert2, key2, err := ca.IssueLeaf(nil)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(key1, key2) || bytes.Equal(cert1, cert2) {
		t.Error("two leaves share a key or certificate, want new ones each time")
	}
	c1, _ := parseCertPEM(cert1)
	c2, _ := parseCertPEM(cert2)
	if c1.SerialNumber.Cmp(c2.SerialNumber) == 0 {
		t.Errorf("two leaves share serial %v, want distinct", c1.SerialNumber)
	}
}

// TestIssueLeafEndsWithCA: a leaf outliving its CA would be refused anyway,
// only later and with a worse message.
func TestIssueLeafEndsWithCA(t *testing.T) {
	ca, _, err := LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ca.Cert.NotAfter = time.Now().Add(30 * 24 * time.Hour)
	certPEM, _, err := ca.IssueLeaf(nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := parseCertPEM(certPEM)
	if leaf.NotAfter.After(ca.Cert.NotAfter) {
		t.Errorf("leaf ends %v, after its CA %v", leaf.NotAfter, ca.Cert.NotAfter)
	}
}

func TestSubjectAltNames(t *testing.T) {
	tests := []struct {
		hosts   []string
		wantDNS []string
		wantIPs []string
		wantErr string
	}{
		{hosts: LoopbackHosts, wantDNS: []string{"localhost"}, wantIPs: []string{"127.0.0.1", "::1"}},
		{hosts: []string{"Api.Dev.Test.", "api.dev.test", "*.dev.test", "my_service", "x-1"}, wantDNS: []string{"api.dev.test", "*.dev.test", "my_service", "x-1"}},
		{hosts: []string{"::1", "[::1]", "0:0:0:0:0:0:0:1", "2001:db8::1", "[fe80::1]", "10.0.0.1"}, wantIPs: []string{"::1", "2001:db8::1", "fe80::1", "10.0.0.1"}},
		{hosts: []string{"localhost:8443"}, wantErr: `host "localhost:8443" is neither`},
		{hosts: []string{"https://example.test"}, wantErr: "is neither"},
		{hosts: []string{""}, wantErr: `host "" is neither`},
		{hosts: []string{"a..b"}, wantErr: "is neither"},
		{hosts: []string{"-a.test"}, wantErr: "is neither"},
		{hosts: []string{"a.*.test"}, wantErr: "is neither"},
		{hosts: []string{"fe80::1%eth0"}, wantErr: "is neither"},
		{hosts: []string{"bad host"}, wantErr: "is neither"},
		{hosts: []string{strings.Repeat("a", 64) + ".test"}, wantErr: "is neither"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.hosts, ","), func(t *testing.T) {
			dns, ips, err := subjectAltNames(tt.hosts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(dns, tt.wantDNS) {
				t.Errorf("DNS names: got %q, want %q", dns, tt.wantDNS)
			}
			if got := fmt.Sprint(ips); got != fmt.Sprint(parseIPs(tt.wantIPs)) {
				t.Errorf("IPs: got %s, want %s", got, tt.wantIPs)
			}
		})
	}
}

func parseIPs(s []string) []net.IP {
	var ips []net.IP
	for _, a := range s {
		ips = append(ips, net.ParseIP(a))
	}
	return ips
}

// TestLeafServesTLS: a server with the written pair is reachable by a client
// that trusts ca.crt and nothing else, by name and by both loopback
// addresses, and the same pair authenticates a client to a server that
// requires one.
func TestLeafServesTLS(t *testing.T) {
	dir := t.TempDir()
	ca, _, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.IssueLeaf(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteLeaf(dir, certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, LeafCertFile), filepath.Join(dir, LeafKeyFile))
	if err != nil {
		t.Fatalf("tls.crt and tls.key do not load as a pair: %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca.CertPEM) {
		t.Fatal("ca.crt holds no certificate")
	}

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "client %s", r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: roots, ClientAuth: tls.RequireAndVerifyClientCert}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused client below
	srv.StartTLS()
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	for _, host := range []string{"localhost", "127.0.0.1", "[::1]"} {
		// Every name dials the server's one listener, on 127.0.0.1: the
		// certificate is checked against the name in the URL.
		url := "https://" + host + ":" + port
		client := &http.Client{Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}},
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
			},
		}}
		resp, err := client.Get(url)
		if err != nil {
			t.Errorf("GET %s: %v", url, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "client localhost" {
			t.Errorf("GET %s: got %d %q, want 200 \"client localhost\"", url, resp.StatusCode, body)
		}
	}

	// A client trusting only the system roots is refused: the test is not
	// passing because verification is off.
	plain := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{pair}}}}
	if resp, err := plain.Get(srv.URL); err == nil {
		resp.Body.Close()
		t.Error("GET without trusting ca.crt: got a response, want a certificate error")
	}
}

func TestWriteLeaf(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	for run := range 2 { // the second replaces the first pair
		want := map[string][]byte{LeafCertFile: []byte(fmt.Sprintf("cert %d", run)), LeafKeyFile: []byte(fmt.Sprintf("key %d", run))}
		if err := WriteLeaf(dir, want[LeafCertFile], want[LeafKeyFile]); err != nil {
			t.Fatal(err)
		}
		for name, wantMode := range map[string]os.FileMode{LeafKeyFile: 0o600, LeafCertFile: 0o644} {
			path := filepath.Join(dir, name)
			if got, _ := os.ReadFile(path); !bytes.Equal(got, want[name]) {
				t.Errorf("run %d: %s: got %q, want %q", run, name, got, want[name])
			}
			if got := mode(t, path); got != wantMode {
				t.Errorf("run %d: %s mode: got %o, want %o", run, name, got, wantMode)
			}
		}
		assertOnly(t, dir, LeafCertFile, LeafKeyFile)
	}
}
