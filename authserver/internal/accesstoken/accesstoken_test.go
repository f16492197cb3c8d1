package accesstoken

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tokenbearer/authserver/internal/keystore"
)

func testStore(t *testing.T) (*keystore.Store, keystore.Key) {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	k, err := keystore.NewKey(keystore.RS256, priv)
	if err != nil {
		t.Fatal(err)
	}
	s := keystore.New()
	if err := s.Set([]keystore.Key{k}, k.ID); err != nil {
		t.Fatal(err)
	}
	return s, k
}

func TestMint(t *testing.T) {
	store, key := testStore(t)
	now := time.Unix(1_700_000_000, 0)
	m := &Minter{Issuer: "https://as.example", Lifetime: 90 * time.Second, Keys: store, Now: func() time.Time { return now }}

	tests := []struct {
		name    string
		grant   Grant
		wantAud any
		wantCnf any // absent when nil
	}{
		{"one audience is a string", Grant{ClientID: "c1", Audience: []string{"api"}, Scopes: []string{"api"}}, "api", nil},
		{"two audiences are an array", Grant{ClientID: "c2", Audience: []string{"a", "b"}, Scopes: []string{"a.read", "b.read"}}, []any{"a", "b"}, nil},
		{"certificate-bound (RFC 8705 3.1)", Grant{ClientID: "c3", Audience: []string{"api"}, Scopes: []string{"api"}, CertificateThumbprint: "thumb"},
			"api", map[string]any{"x5t#S256": "thumb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			signed, err := m.Mint(tt.grant)
			if err != nil {
				t.Fatal(err)
			}
			claims := jwt.MapClaims{}
			tok, err := jwt.ParseWithClaims(signed, claims,
				func(*jwt.Token) (any, error) { return key.Public(), nil },
				jwt.WithValidMethods([]string{"RS256"}),
				jwt.WithTimeFunc(func() time.Time { return now }),
			)
			if err != nil {
				t.Fatalf("verifying: %v", err)
			}
			wantHeader := map[string]any{"alg": "RS256", "kid": key.ID, "typ": "at+jwt"}
			if !reflect.DeepEqual(tok.Header, wantHeader) {
				t.Errorf("header = %v, want %v", tok.Header, wantHeader)
			}
			jti, _ := claims["jti"].(string)
			delete(claims, "jti")
			want := jwt.MapClaims{
				"iss": "https://as.example", "sub": tt.grant.ClientID, "client_id": tt.grant.ClientID,
				"aud": tt.wantAud, "scope": strings.Join(tt.grant.Scopes, " "),
				"iat": float64(now.Unix()), "nbf": float64(now.Unix()), "exp": float64(now.Unix() + 90),
			}
			if tt.wantCnf != nil {
				want["cnf"] = tt.wantCnf
			}
			if !reflect.DeepEqual(claims, want) {
				t.Errorf("claims = %v, want %v", claims, want)
			}
			raw, err := base64.RawURLEncoding.DecodeString(jti)
			if err != nil || len(raw) < 16 {
				t.Errorf("jti %q is not base64url of at least 128 bits", jti)
			}
		})
	}

	a, _ := m.Mint(tests[0].grant)
	b, _ := m.Mint(tests[0].grant)
	if a == b {
		t.Error("two tokens minted at the same second are identical; jti is not random")
	}
}

// TestMintSignsWithTheActiveKeysAlgorithm: the header's alg is the active
// key's, and the token verifies with that key's public half under that alg
// alone.
func TestMintSignsWithTheActiveKeysAlgorithm(t *testing.T) {
	for _, alg := range keystore.Algorithms {
		t.Run(alg, func(t *testing.T) {
			key, err := keystore.Generate(alg)
			if err != nil {
				t.Fatal(err)
			}
			store := keystore.New()
			// Another key published beside it must not be the one that signs.
			other, err := keystore.Generate(keystore.EdDSA)
			if err != nil {
				t.Fatal(err)
			}
			if err := store.Set([]keystore.Key{other, key}, key.ID); err != nil {
				t.Fatal(err)
			}
			m := &Minter{Issuer: "https://as.example", Lifetime: time.Minute, Keys: store}
			signed, err := m.Mint(Grant{ClientID: "c", Audience: []string{"api"}, Scopes: []string{"api"}})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := jwt.Parse(signed, func(*jwt.Token) (any, error) { return key.Public(), nil }, jwt.WithValidMethods([]string{alg}))
			if err != nil {
				t.Fatalf("verifying with the active key under %s: %v", alg, err)
			}
			wantHeader := map[string]any{"alg": alg, "kid": key.ID, "typ": "at+jwt"}
			if !reflect.DeepEqual(tok.Header, wantHeader) {
				t.Errorf("got header %v, want %v", tok.Header, wantHeader)
			}
		})
	}
}

func TestMintWithoutSigningKey(t *testing.T) {
	m := &Minter{Issuer: "https://as.example", Lifetime: time.Hour, Keys: keystore.New()}
	if _, err := m.Mint(Grant{ClientID: "c"}); err == nil {
		t.Fatal("Mint without an active key succeeded")
	}
}
