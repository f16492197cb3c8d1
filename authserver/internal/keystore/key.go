package keystore

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// JWS algorithms a Key may carry.
const (
	RS256 = "RS256"
	PS256 = "PS256"
	ES256 = "ES256"
	EdDSA = "EdDSA"
)

// MinRSABits is the smallest RSA modulus accepted for signing.
const MinRSABits = 2048

// Key is a private signing key with its JWS algorithm and kid.
type Key struct {
	ID        string        // RFC 7638 thumbprint of the public key
	Algorithm string        // JWS "alg"
	Signer    crypto.Signer // *rsa.PrivateKey, *ecdsa.PrivateKey or ed25519.PrivateKey
}

// NewKey checks that signer suits alg and derives the kid from the public key.
func NewKey(alg string, signer crypto.Signer) (Key, error) {
	if err := checkKeyType(alg, signer); err != nil {
		return Key{}, err
	}
	jwk := publicJWK(signer.Public())
	kid, err := Thumbprint(jwk)
	if err != nil {
		return Key{}, err
	}
	return Key{ID: kid, Algorithm: alg, Signer: signer}, nil
}

func checkKeyType(alg string, signer crypto.Signer) error {
	switch alg {
	case RS256, PS256:
		k, ok := signer.(*rsa.PrivateKey)
		if !ok {
			return fmt.Errorf("%s needs an RSA key, got %T", alg, signer)
		}
		if k.N.BitLen() < MinRSABits {
			return fmt.Errorf("rsa key has %d bits, want at least %d", k.N.BitLen(), MinRSABits)
		}
	case ES256:
		k, ok := signer.(*ecdsa.PrivateKey)
		if !ok || k.Curve != elliptic.P256() {
			return fmt.Errorf("ES256 needs a P-256 ECDSA key, got %T", signer)
		}
	case EdDSA:
		if _, ok := signer.(ed25519.PrivateKey); !ok {
			return fmt.Errorf("EdDSA needs an Ed25519 key, got %T", signer)
		}
	default:
		return fmt.Errorf("unsupported signing algorithm %q", alg)
	}
	return nil
}

// Method returns the golang-jwt signing method for the key's algorithm.
func (k Key) Method() jwt.SigningMethod {
	return jwt.GetSigningMethod(k.Algorithm)
}

// Public returns the public half of the key.
func (k Key) Public() crypto.PublicKey { return k.Signer.Public() }

// PublicJWK returns the key's public JWK with use, alg and kid set.
func (k Key) PublicJWK() JWK {
	j := publicJWK(k.Signer.Public())
	j.Use = "sig"
	j.Algorithm = k.Algorithm
	j.KeyID = k.ID
	return j
}
