package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"

	"github.com/tokenbearer/httpserver"
)

// serverTLSConfig is httpserver's TLS (1.2 at least, HTTP/2, the pair reloaded from its files) with a request for a
// client certificate on every handshake, never a demand: a token bound to a certificate (RFC 8705 3) can only be
// proven by one, and every other client connects as before. The certificate is not verified here; bearer compares
// its thumbprint with the token's cnf, which pins this exact certificate.
func serverTLSConfig(certs *httpserver.CertFiles) *tls.Config {
	c := httpserver.TLSConfig(certs)
	c.ClientAuth = tls.RequestClientCert
	return c
}

// authorityClient is the client for discovery and JWKS fetches when --authority-ca is given: the system's roots
// plus the certificates of the file, as an ASP.NET service trusts the machine's store plus a development CA.
func authorityClient(caFile string) (*http.Client, error) {
	roots, err := loadAuthorityCAs(caFile)
	if err != nil {
		return nil, err
	}
	// A clone keeps DefaultTransport's proxy, dial timeouts, connection pool and HTTP/2.
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: t}, nil
}

// loadAuthorityCAs is the system pool with every certificate of the PEM bundle added. Each block must be a
// certificate: anything else means the wrong file (a key, say), which is better said at start than found as an
// unknown-authority error later. A certificate need not be a CA: trusting the authority's own self-signed
// certificate is how some deployments pin it.
func loadAuthorityCAs(path string) (*x509.CertPool, error) {
	certs, err := httpserver.ReadCertificates(path)
	if err != nil {
		return nil, fmt.Errorf("--authority-ca: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		// No system store (a scratch image without ca-certificates): the file alone is the trust.
		pool = x509.NewCertPool()
	}
	for _, cert := range certs {
		pool.AddCert(cert)
	}
	return pool, nil
}
