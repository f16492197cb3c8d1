package keystore

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// ParsePrivateKey reads a private key to import: a private JWK (its alg
// kept, see ParseJWK) or a PEM block of PKCS #8, PKCS #1 (RSA) or SEC 1
// (EC). An RSA key from PEM is for rsaAlg (RS256 or PS256); EC P-256 keys are
// ES256 and Ed25519 keys EdDSA.
func ParsePrivateKey(data []byte, rsaAlg string) (Key, error) {
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' {
		return ParseJWK(trimmed)
	}
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		return Key{}, errors.New("neither a JWK nor a PEM private key")
	}
	priv, err := ParsePEMSigner(data)
	if err != nil {
		return Key{}, err
	}
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		if rsaAlg != RS256 && rsaAlg != PS256 {
			rsaAlg = RS256
		}
		return NewKey(rsaAlg, k)
	case *ecdsa.PrivateKey:
		return NewKey(ES256, k)
	case ed25519.PrivateKey:
		return NewKey(EdDSA, k)
	default:
		return Key{}, fmt.Errorf("unsupported private key type %T", priv)
	}
}

// ParsePEMSigner reads the first PEM block of data as a private key: PKCS
// #8, PKCS #1 (RSA) or SEC 1 (EC).
func ParsePEMSigner(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	var priv any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		priv, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		priv, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		priv, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key (want PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", block.Type, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("a %T cannot sign", priv)
	}
	return signer, nil
}
