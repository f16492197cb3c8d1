package keystore

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestThumbprintRFCVectors(t *testing.T) {
	tests := []struct {
		name string
		jwk  JWK
		want string
	}{
		{
			// RFC 7638 section 3.1.
			name: "RFC 7638 RSA",
			jwk: JWK{
				KeyType: "RSA", Algorithm: "RS256", KeyID: "2011-04-29", // not part of the thumbprint
				N: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
				E: "AQAB",
			},
			want: "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
		},
		{
			// RFC 8037 appendix A.3.
			name: "RFC 8037 Ed25519",
			jwk:  JWK{KeyType: "OKP", Curve: "Ed25519", X: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
			want: "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Thumbprint(tt.jwk)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Thumbprint = %s, want %s", got, tt.want)
			}
		})
	}
	if _, err := Thumbprint(JWK{KeyType: "oct"}); err == nil {
		t.Error("Thumbprint of a symmetric key succeeded")
	}
}

// TestNewKeySignsWithEveryAlgorithm checks the store's key type is ready for
// rotation to any of the planned algorithms: it signs a JWT that verifies
// with the public key, and publishes the right public members only.
func TestNewKeySignsWithEveryAlgorithm(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey := testRSAKey(t)
	tests := []struct {
		alg        string
		signer     crypto.Signer
		wantKty    string
		wantMember []string
	}{
		{RS256, rsaKey, "RSA", []string{"n", "e"}},
		{PS256, rsaKey, "RSA", []string{"n", "e"}},
		{ES256, ecKey, "EC", []string{"crv", "x", "y"}},
		{EdDSA, edKey, "OKP", []string{"crv", "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			k, err := NewKey(tt.alg, tt.signer)
			if err != nil {
				t.Fatalf("NewKey: %v", err)
			}
			tok := jwt.NewWithClaims(k.Method(), jwt.MapClaims{"sub": "x", "exp": time.Now().Add(time.Minute).Unix()})
			s, err := tok.SignedString(k.Signer)
			if err != nil {
				t.Fatalf("signing: %v", err)
			}
			if _, err := jwt.Parse(s, func(*jwt.Token) (any, error) { return k.Public(), nil }, jwt.WithValidMethods([]string{tt.alg})); err != nil {
				t.Fatalf("verifying: %v", err)
			}

			j := k.PublicJWK()
			if j.KeyType != tt.wantKty || j.Algorithm != tt.alg || j.Use != "sig" || j.KeyID != k.ID {
				t.Errorf("PublicJWK = %+v, want kty %s alg %s use sig kid %s", j, tt.wantKty, tt.alg, k.ID)
			}
			if kid, _ := Thumbprint(j); kid != k.ID {
				t.Errorf("kid %s is not the thumbprint %s", k.ID, kid)
			}
			var members map[string]any
			b, _ := json.Marshal(j)
			json.Unmarshal(b, &members)
			for _, m := range tt.wantMember {
				if members[m] == "" || members[m] == nil {
					t.Errorf("JWK lacks %q: %s", m, b)
				}
			}
			for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
				if _, ok := members[private]; ok {
					t.Errorf("public JWK has private member %q", private)
				}
			}
		})
	}
}

func TestNewKeyRejectsMismatch(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	tests := []struct {
		name    string
		alg     string
		signer  crypto.Signer
		wantErr string
	}{
		{"RS256 with EC key", RS256, ecKey, "needs an RSA key"},
		{"RS256 with 1024-bit key", RS256, small, "1024 bits"},
		{"ES256 with P-384", ES256, p384, "P-256"},
		{"EdDSA with RSA", EdDSA, testRSAKey(t), "Ed25519"},
		{"HS256", "HS256", testRSAKey(t), "unsupported"},
		{"none", "none", testRSAKey(t), "unsupported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewKey(tt.alg, tt.signer)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewKey error = %v, want containing %q", err, tt.wantErr)
			}
		})
	}
}
