// Package clientauth holds the ways a client proves who it is at the token
// endpoint (RFC 6749 2.3, RFC 8705), each a Method in its own file.
//
// The caller keeps what is common to every method: reading the request, the
// one-method rule, the failure budget and the one invalid_client answer. A
// method only checks one proof against one registered client.
package clientauth

import (
	"crypto/x509"

	"github.com/tokenbearer/authserver/internal/registry"
)

// Request is the client authentication a token request presents.
type Request struct {
	// ClientID is from the Authorization header with Basic, else from the body.
	ClientID string
	// Secret is the presented client secret, from wherever ClientID came from.
	Secret string
	// Basic says the credentials came in the Authorization header.
	Basic bool
	// Certificates is the TLS client's chain, leaf first, as the handshake
	// received it: nothing in it has been verified.
	Certificates []*x509.Certificate
}

// Proof is what authenticated a client, for binding its token to it.
type Proof struct {
	// CertificateThumbprint is the base64url SHA-256 of the DER of the
	// client's certificate (RFC 8705 3.1, "x5t#S256"); empty for a secret.
	CertificateThumbprint string
}

// Method is one client authentication method, named as in RFC 7591
// token_endpoint_auth_method.
type Method interface {
	Name() string
	// Authenticate checks req's proof against client. A nil client stands
	// for one that is not registered for this method (or not at all): the
	// method then does the work a registered client's proof would cost and
	// fails, so that the time taken does not tell which client ids exist.
	Authenticate(req Request, client *registry.Client) (Proof, error)
}

// Failure is why a proof was refused: a fixed phrase, so that logs can be
// counted by it. It never repeats what the client sent.
type Failure string

func (f Failure) Error() string { return string(f) }

// Unregistered is the failure of a Method given a nil client.
const Unregistered Failure = "client not registered for this method"
