package bearer

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"errors"
)

// Confirmation is the RFC 7800 cnf claim: what the token is bound to, so that only its holder can use it.
type Confirmation struct {
	// X5tS256 is the base64url SHA-256 thumbprint of the DER of the client certificate the token was issued to
	// (RFC 8705 3.1); empty when the token is not bound to a certificate.
	X5tS256 string `json:"x5t#S256,omitempty"`
}

// errCertificateBinding is RFC 8705 3's refusal of a certificate-bound token from a client that did not show the
// certificate: invalid_token, the same for a missing and for another certificate, so the answer tells a thief
// nothing about the binding.
var errCertificateBinding = invalidToken("token is bound to a certificate the request did not present")

var (
	errNoClientCertificate    = errors.New("no client certificate on the connection")
	errOtherClientCertificate = errors.New("the client certificate's x5t#S256 differs from the token's cnf")
)

// thumbprintLen is the length of a base64url SHA-256 without padding.
var thumbprintLen = base64.RawURLEncoding.EncodedLen(sha256.Size)

// checkBinding refuses claims bound to a certificate unless conn's client presented it: the leaf of the chain the
// TLS handshake received, which a client proves it holds the key of (CertificateVerify). The certificate's chain is
// not checked: the authorization server did that when it bound the token, and the thumbprint pins this exact
// certificate. Over plain HTTP (conn nil) a bound token cannot be proven and is always refused.
func checkBinding(claims *Claims, conn *tls.ConnectionState) error {
	want := claims.Confirmation.X5tS256
	if want == "" {
		return nil
	}
	if conn == nil || len(conn.PeerCertificates) == 0 {
		return errCertificateBinding.because(errNoClientCertificate)
	}
	sum := sha256.Sum256(conn.PeerCertificates[0].Raw)
	var got [43]byte
	base64.RawURLEncoding.Encode(got[:thumbprintLen], sum[:])
	// Constant time, so the time of a refusal does not reveal how much of a guessed certificate's hash matched.
	if subtle.ConstantTimeCompare(got[:thumbprintLen], []byte(want)) != 1 {
		return errCertificateBinding.because(errOtherClientCertificate)
	}
	return nil
}
