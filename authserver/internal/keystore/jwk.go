package keystore

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
)

// JWK is a public JSON Web Key (RFC 7517). It has no fields for private
// members, so it cannot leak them.
type JWK struct {
	KeyType   string `json:"kty"`
	Use       string `json:"use,omitempty"`
	Algorithm string `json:"alg,omitempty"`
	KeyID     string `json:"kid,omitempty"`
	// RSA
	N string `json:"n,omitempty"`
	E string `json:"e,omitempty"`
	// EC and OKP
	Curve string `json:"crv,omitempty"`
	X     string `json:"x,omitempty"`
	Y     string `json:"y,omitempty"`
}

// JWKSet is a JWK Set document.
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

var b64 = base64.RawURLEncoding

func publicJWK(pub crypto.PublicKey) JWK {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		return JWK{KeyType: "RSA", N: b64.EncodeToString(p.N.Bytes()), E: b64.EncodeToString(big.NewInt(int64(p.E)).Bytes())}
	case *ecdsa.PublicKey:
		// RFC 7518 6.2.1.2: coordinates are padded to the curve size.
		size := (p.Curve.Params().BitSize + 7) / 8
		raw, err := p.Bytes() // 0x04 || X || Y
		if err != nil {
			return JWK{}
		}
		return JWK{KeyType: "EC", Curve: p.Curve.Params().Name, X: b64.EncodeToString(raw[1 : 1+size]), Y: b64.EncodeToString(raw[1+size:])}
	case ed25519.PublicKey:
		return JWK{KeyType: "OKP", Curve: "Ed25519", X: b64.EncodeToString(p)}
	}
	return JWK{}
}

// Thumbprint computes the RFC 7638 JWK thumbprint: the base64url SHA-256 of
// the required public members in lexicographic order, no whitespace.
func Thumbprint(j JWK) (string, error) {
	var canonical []byte
	var err error
	// Structs marshal fields in declaration order, so these are declared sorted.
	switch j.KeyType {
	case "RSA":
		canonical, err = json.Marshal(struct {
			E   string `json:"e"`
			Kty string `json:"kty"`
			N   string `json:"n"`
		}{j.E, j.KeyType, j.N})
	case "EC":
		canonical, err = json.Marshal(struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
			Y   string `json:"y"`
		}{j.Curve, j.KeyType, j.X, j.Y})
	case "OKP":
		canonical, err = json.Marshal(struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
		}{j.Curve, j.KeyType, j.X})
	default:
		return "", fmt.Errorf("thumbprint: unsupported key type %q", j.KeyType)
	}
	if err != nil {
		return "", fmt.Errorf("thumbprint: %w", err)
	}
	sum := sha256.Sum256(canonical)
	return b64.EncodeToString(sum[:]), nil
}
