package keystore

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
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

// JWKOf is the public JWK of pub (RSA, ECDSA or Ed25519), without use, alg
// or kid.
func JWKOf(pub crypto.PublicKey) (JWK, error) {
	j := publicJWK(pub)
	if j.KeyType == "" {
		return JWK{}, fmt.Errorf("jwk: unsupported key type %T", pub)
	}
	return j, nil
}

// PublicKey is the key j describes, checked as a signing key would be: RSA
// of at least MinRSABits with a sane exponent, an EC point on P-256, P-384
// or P-521, or Ed25519. Its Equal method compares it with a certificate's.
func (j JWK) PublicKey() (crypto.PublicKey, error) {
	decode := func(member, v string) ([]byte, error) {
		raw, err := b64.DecodeString(v)
		if err != nil || len(raw) == 0 {
			return nil, fmt.Errorf("jwk member %q missing or not base64url", member)
		}
		return raw, nil
	}
	switch j.KeyType {
	case "RSA":
		n, err := decode("n", j.N)
		if err != nil {
			return nil, err
		}
		e, err := decode("e", j.E)
		if err != nil {
			return nil, err
		}
		// Bounded before any conversion, as in ParseRSAJWK.
		eInt := new(big.Int).SetBytes(e)
		if !eInt.IsInt64() || eInt.Int64() < 3 || eInt.Int64() > 1<<31-1 || eInt.Bit(0) == 0 {
			return nil, errors.New("jwk exponent e out of bounds: want an odd number from 3 to 2^31-1")
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(eInt.Int64())}
		if pub.N.BitLen() < MinRSABits {
			return nil, fmt.Errorf("rsa key has %d bits, want at least %d", pub.N.BitLen(), MinRSABits)
		}
		return pub, nil
	case "EC":
		var curve elliptic.Curve
		switch j.Curve {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, fmt.Errorf("jwk crv %q is not P-256, P-384 or P-521", j.Curve)
		}
		x, err := decode("x", j.X)
		if err != nil {
			return nil, err
		}
		y, err := decode("y", j.Y)
		if err != nil {
			return nil, err
		}
		// RFC 7518 6.2.1.2: each coordinate is exactly the curve's size.
		size := (curve.Params().BitSize + 7) / 8
		if len(x) != size || len(y) != size {
			return nil, fmt.Errorf("jwk x and y must be %d bytes each for %s", size, j.Curve)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, fmt.Errorf("jwk: %w", err)
		}
		return pub, nil
	case "OKP":
		if j.Curve != "Ed25519" {
			return nil, fmt.Errorf("jwk crv %q is not Ed25519", j.Curve)
		}
		x, err := decode("x", j.X)
		if err != nil {
			return nil, err
		}
		if len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("jwk x must be %d bytes for Ed25519", ed25519.PublicKeySize)
		}
		return ed25519.PublicKey(x), nil
	case "":
		return nil, errors.New("jwk has no kty")
	default:
		return nil, fmt.Errorf("jwk kty %q is not RSA, EC or OKP", j.KeyType)
	}
}
