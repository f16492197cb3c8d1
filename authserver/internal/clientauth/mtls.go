package clientauth

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tokenbearer/authserver/internal/dn"
	"github.com/tokenbearer/authserver/internal/registry"
)

// Failures of the certificate methods.
const (
	NoCertificate        Failure = "no client certificate"
	UntrustedCertificate Failure = "certificate not issued by a --client-ca authority"
	OutOfValidity        Failure = "certificate expired or not yet valid"
	WrongName            Failure = "certificate does not carry the registered name"
	UnregisteredKey      Failure = "certificate key not registered"
)

// TLSClientAuth is tls_client_auth (RFC 8705 2.1): the client's certificate
// chains to one of the configured authorities, for client authentication,
// and carries the one name the client is registered with.
type TLSClientAuth struct {
	roots *x509.CertPool
	now   func() time.Time
}

// SelfSignedTLSClientAuth is self_signed_tls_client_auth (RFC 8705 2.2): the
// certificate's public key is one of the client's registered keys and the
// certificate is within its validity period. It need not chain anywhere, nor
// be signed by that key: the TLS handshake already proved that the client
// holds the private key, which is all a registered key can vouch for.
type SelfSignedTLSClientAuth struct {
	now func() time.Time
}

var (
	_ Method = (*TLSClientAuth)(nil)
	_ Method = (*SelfSignedTLSClientAuth)(nil)
)

// NewTLSClientAuth checks certificates against roots, at the time now
// returns (time.Now when nil). Without roots every certificate fails: never
// the system's roots, which would let any public CA's customer in.
func NewTLSClientAuth(roots *x509.CertPool, now func() time.Time) *TLSClientAuth {
	if roots == nil {
		roots = x509.NewCertPool()
	}
	if now == nil {
		now = time.Now
	}
	return &TLSClientAuth{roots: roots, now: now}
}

// NewSelfSignedTLSClientAuth checks validity periods at the time now
// returns (time.Now when nil).
func NewSelfSignedTLSClientAuth(now func() time.Time) *SelfSignedTLSClientAuth {
	if now == nil {
		now = time.Now
	}
	return &SelfSignedTLSClientAuth{now: now}
}

func (*TLSClientAuth) Name() string { return registry.AuthTLS }

func (*SelfSignedTLSClientAuth) Name() string { return registry.AuthSelfSignedTLS }

// Authenticate verifies the chain for an unregistered client too, so that
// its answer costs what a registered client's wrong certificate costs.
func (m *TLSClientAuth) Authenticate(req Request, client *registry.Client) (Proof, error) {
	if len(req.Certificates) == 0 {
		return Proof{}, NoCertificate
	}
	leaf := req.Certificates[0]
	intermediates := x509.NewCertPool()
	for _, c := range req.Certificates[1:] {
		intermediates.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         m.roots,
		Intermediates: intermediates,
		CurrentTime:   m.now(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if invalid, ok := errors.AsType[x509.CertificateInvalidError](err); ok && invalid.Reason == x509.Expired {
		return Proof{}, OutOfValidity
	}
	switch {
	case err != nil:
		return Proof{}, UntrustedCertificate
	case leaf.KeyUsage != 0 && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0:
		// Verify checks the extended key usage only. A key limited to, say,
		// key encipherment may not sign the TLS handshake (RFC 5280 4.2.1.3).
		return Proof{}, UntrustedCertificate
	case client == nil:
		return Proof{}, Unregistered
	case !carries(leaf, client.Certificate):
		return Proof{}, WrongName
	}
	return Proof{CertificateThumbprint: thumbprint(leaf)}, nil
}

// carries reports whether leaf has name: its subject as a parsed DN
// (dn.Equal), or one of its SANs of name's kind. DNS names are compared
// without regard to ASCII case, as DNS does; a wildcard SAN matches only the
// same wildcard registered. URIs and email addresses are compared exactly.
func carries(leaf *x509.Certificate, name *registry.CertificateName) bool {
	switch {
	case name == nil:
		return false
	case name.SubjectDN != nil:
		subject, err := dn.OfCertificate(leaf.RawSubject)
		return err == nil && dn.Equal(name.SubjectDN, subject)
	case name.DNS != "":
		return slices.ContainsFunc(leaf.DNSNames, func(d string) bool { return strings.EqualFold(d, name.DNS) })
	case name.URI != "":
		return slices.ContainsFunc(leaf.URIs, func(u *url.URL) bool { return u.String() == name.URI })
	case name.IP.IsValid():
		return slices.ContainsFunc(leaf.IPAddresses, func(raw net.IP) bool {
			ip, ok := netip.AddrFromSlice(raw)
			return ok && ip.Unmap() == name.IP
		})
	case name.Email != "":
		return slices.Contains(leaf.EmailAddresses, name.Email)
	}
	return false
}

func (m *SelfSignedTLSClientAuth) Authenticate(req Request, client *registry.Client) (Proof, error) {
	if len(req.Certificates) == 0 {
		return Proof{}, NoCertificate
	}
	leaf := req.Certificates[0]
	if now := m.now(); now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return Proof{}, OutOfValidity
	}
	if client == nil {
		return Proof{}, Unregistered
	}
	if !slices.ContainsFunc(client.Keys, func(k crypto.PublicKey) bool {
		pub, ok := k.(interface{ Equal(crypto.PublicKey) bool })
		return ok && pub.Equal(leaf.PublicKey)
	}) {
		return Proof{}, UnregisteredKey
	}
	return Proof{CertificateThumbprint: thumbprint(leaf)}, nil
}

// thumbprint is RFC 8705 3.1 x5t#S256: base64url SHA-256 of the DER.
func thumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
