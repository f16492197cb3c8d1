package devca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"
)

// LoopbackHosts are in every leaf, so that https://localhost works whatever
// hosts are asked for.
var LoopbackHosts = []string{"localhost", "127.0.0.1", "::1"}

// LeafValidity is the most browsers accept for a server certificate
// (CA/Browser Forum, Apple and Chrome: 397 days), counted from the
// backdated start.
const LeafValidity = 397 * 24 * time.Hour

// IssueLeaf returns a new server certificate and its new private key, both
// PEM, for LoopbackHosts and hosts: IP addresses (IPv6 with or without
// brackets) go into the IP SANs, names into the DNS SANs. It serves both TLS
// sides (server and client authentication) so that one pair does for mTLS
// tests. It ends with the CA if the CA ends sooner.
func (ca *CA) IssueLeaf(hosts []string) (certPEM, keyPEM []byte, err error) {
	dnsNames, ips, err := subjectAltNames(append(slices.Clone(LoopbackHosts), hosts...))
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating leaf key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	notBefore := time.Now().Add(-clockSkew)
	notAfter := notBefore.Add(LeafValidity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		// Clients match the SANs alone; the name is for people reading it.
		Subject:               pkix.Name{CommonName: dnsNames[0], Organization: []string{"tokenbearer development"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:              dnsNames,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("signing leaf certificate: %w", err)
	}
	keyPEM, err = marshalKeyPEM(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

// dnsName is a host name or a wildcard over one: labels of letters, digits,
// hyphens and underscores (used by some service names), no port, no scheme.
var dnsName = regexp.MustCompile(`^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$`)

// subjectAltNames sorts hosts into names and addresses, each once, in the
// order given. A host that is neither is refused rather than written into a
// certificate no client would match.
func subjectAltNames(hosts []string) (dnsNames []string, ips []net.IP, err error) {
	for _, h := range hosts {
		if ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")); ip != nil {
			if !slices.ContainsFunc(ips, ip.Equal) {
				ips = append(ips, ip)
			}
			continue
		}
		name := strings.ToLower(strings.TrimSuffix(h, "."))
		if len(name) > 253 || !dnsName.MatchString(name) {
			return nil, nil, fmt.Errorf("host %q is neither an IP address nor a DNS name", h)
		}
		if !slices.Contains(dnsNames, name) {
			dnsNames = append(dnsNames, name)
		}
	}
	return dnsNames, ips, nil
}
