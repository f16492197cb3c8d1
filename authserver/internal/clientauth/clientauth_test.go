package clientauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/tokenbearer/authserver/internal/registry"
	"github.com/tokenbearer/authserver/internal/secret"
)

// selfSigned is a CA certificate that is also its own client certificate,
// so that one certificate passes both certificate methods.
func selfSigned(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "c"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// TestUnregisteredNeverAuthenticates: each method, given the proof that
// authenticates a registered client, fails with Unregistered for a nil
// client, after doing the same checks.
func TestUnregisteredNeverAuthenticates(t *testing.T) {
	cert, key := selfSigned(t)
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	hash, _ := secret.Parse(secret.HashOf("s"))
	client := &registry.Client{
		ID:          "c",
		Secrets:     []secret.Hash{hash},
		Certificate: &registry.CertificateName{SubjectDN: pkix.Name{CommonName: "c"}.ToRDNSequence()},
		Keys:        []crypto.PublicKey{key.Public()},
	}
	withSecret := Request{ClientID: "c", Secret: "s"}
	withCert := Request{ClientID: "c", Certificates: []*x509.Certificate{cert}}
	tests := []struct {
		method Method
		req    Request
	}{
		{NewSecret(registry.AuthSecretBasic, nil), withSecret},
		{NewSecret(registry.AuthSecretPost, nil), withSecret},
		{NewTLSClientAuth(roots, nil), withCert},
		{NewSelfSignedTLSClientAuth(nil), withCert},
	}
	for _, tt := range tests {
		t.Run(tt.method.Name(), func(t *testing.T) {
			if _, err := tt.method.Authenticate(tt.req, client); err != nil {
				t.Fatalf("registered client: got %v, want success", err)
			}
			proof, err := tt.method.Authenticate(tt.req, nil)
			if !errors.Is(err, Unregistered) {
				t.Errorf("nil client: got %+v, %v; want %v", proof, err, Unregistered)
			}
		})
	}
}

// TestNoRootsTrustsNothing: without --client-ca every certificate fails.
// (That nil never reaches x509.Verify, where it would mean the system's
// roots, only a publicly trusted client certificate could show.)
func TestNoRootsTrustsNothing(t *testing.T) {
	cert, _ := selfSigned(t)
	client := &registry.Client{Certificate: &registry.CertificateName{SubjectDN: pkix.Name{CommonName: "c"}.ToRDNSequence()}}
	_, err := NewTLSClientAuth(nil, nil).Authenticate(Request{Certificates: []*x509.Certificate{cert}}, client)
	if !errors.Is(err, UntrustedCertificate) {
		t.Errorf("got %v, want %v", err, UntrustedCertificate)
	}
}
