package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/tokenbearer/authserver/internal/devca"
	"github.com/tokenbearer/httpserver/envflag"
)

// devCert writes a development CA (kept across runs, so it is trusted once)
// and a new server certificate signed by it, and says how to trust the CA.
func devCert(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var out, hosts string
	fs := envflag.New("authserver dev-cert --out DIR [flags]",
		"Writes a development CA and a TLS server certificate signed by it into --out: ca.crt, ca.key, and\n"+
			"tls.crt + tls.key (the names of a Kubernetes TLS Secret). The CA is created once and reused while\n"+
			"ca.crt and ca.key exist, so trusting ca.crt once covers every later certificate; the certificate\n"+
			"and its key are new each run. For development only: ca.key can sign a certificate for any site.", stderr)
	fs.String(&out, "out", "AUTHSERVER_DEV_CERT_OUT", "", "`directory` to write the files to; created if missing")
	fs.String(&hosts, "hosts", "AUTHSERVER_DEV_CERT_HOSTS", "authserver,valuesapi",
		"comma-separated `list` of host names and IP addresses for the certificate, besides localhost, 127.0.0.1 and ::1, which it always has")
	if err := fs.Parse(args, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("dev-cert: %w", err)
	}
	if out == "" {
		return errors.New("dev-cert: --out (or AUTHSERVER_DEV_CERT_OUT) is required")
	}
	// Absolute, so the printed commands work from any directory.
	dir, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("dev-cert: %w", err)
	}
	ca, created, err := devca.LoadOrCreateCA(dir)
	if err != nil {
		return fmt.Errorf("dev-cert: %w", err)
	}
	certPEM, keyPEM, err := ca.IssueLeaf(parseHosts(hosts))
	if err != nil {
		return fmt.Errorf("dev-cert: %w", err)
	}
	if err := devca.WriteLeaf(dir, certPEM, keyPEM); err != nil {
		return fmt.Errorf("dev-cert: %w", err)
	}
	block, _ := pem.Decode(certPEM)
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fmt.Errorf("dev-cert: %w", err)
	}
	return printDevCert(stdout, dir, created, leaf)
}

// parseHosts splits a --hosts list, ignoring spaces and empty entries so
// that "a, b," means a and b.
func parseHosts(s string) []string {
	var hosts []string
	for h := range strings.SplitSeq(s, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

func printDevCert(w io.Writer, dir string, created bool, leaf *x509.Certificate) error {
	caCert := filepath.Join(dir, devca.CACertFile)
	caKey := filepath.Join(dir, devca.CAKeyFile)
	var b strings.Builder
	if created {
		fmt.Fprintf(&b, "Created the development CA %s (key %s).\n", caCert, caKey)
	} else {
		fmt.Fprintf(&b, "Reused the development CA %s (key %s): where it is trusted, the new certificate is too.\n", caCert, caKey)
	}
	names := append([]string(nil), leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	fmt.Fprintf(&b, "Wrote %s and %s for %s, valid until %s.\n", filepath.Join(dir, devca.LeafCertFile), filepath.Join(dir, devca.LeafKeyFile),
		strings.Join(names, ", "), leaf.NotAfter.UTC().Format(time.DateOnly))
	fmt.Fprintf(&b, `
Trust the CA where you need it:
  curl           curl --cacert %[1]s https://localhost:PORT/
  Node, newman   export NODE_EXTRA_CA_CERTS=%[1]s
  Go             export SSL_CERT_FILE=%[1]s   (instead of the system roots, for that process)
  Debian/Ubuntu  sudo cp %[1]s /usr/local/share/ca-certificates/tokenbearer-dev.crt && sudo update-ca-certificates
  macOS          sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain %[1]s
Kubernetes: kubectl create secret tls NAME --cert=%[3]s --key=%[4]s

Warning: %[2]s can sign a certificate for any site, and everything that trusts %[1]s will believe it.
Keep %[5]s private, never use this CA in production, and untrust it when you no longer need it.
`, caCert, caKey, filepath.Join(dir, devca.LeafCertFile), filepath.Join(dir, devca.LeafKeyFile), dir)
	_, err := io.WriteString(w, b.String())
	return err
}
