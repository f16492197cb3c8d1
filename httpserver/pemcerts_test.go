package httpserver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadCertificates(t *testing.T) {
	a, b := newTestPair(t), newTestPair(t)
	dir := t.TempDir()
	write := func(name string, data ...[]byte) string {
		p := filepath.Join(dir, name)
		var all []byte
		for _, d := range data {
			all = append(all, d...)
		}
		if err := os.WriteFile(p, all, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		path    string
		want    int
		wantErr string
	}{
		{"one", write("one.crt", a.certPEM), 1, ""},
		{"a bundle", write("two.crt", a.certPEM, b.certPEM), 2, ""},
		{"a key among them", write("key.crt", a.certPEM, a.keyPEM), 0, "PEM block 2 is a PRIVATE KEY, want CERTIFICATE"},
		{"not PEM", write("junk.crt", []byte("junk")), 0, "no PEM certificates"},
		{"bad DER", write("bad.crt", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")), 0, "certificate 1"},
		{"missing", filepath.Join(dir, "none.crt"), 0, "reading"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certs, err := ReadCertificates(tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.path) {
					t.Fatalf("got %v, want an error naming %s and containing %q", err, tt.path, tt.wantErr)
				}
				return
			}
			if err != nil || len(certs) != tt.want {
				t.Fatalf("got %d certificates, %v; want %d", len(certs), err, tt.want)
			}
		})
	}
}
