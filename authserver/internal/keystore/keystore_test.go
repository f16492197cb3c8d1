package keystore

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"sync"
	"testing"
)

var sharedRSAKey = sync.OnceValues(func() (*rsa.PrivateKey, error) {
	return rsa.GenerateKey(rand.Reader, 2048)
})

func testRSAKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := sharedRSAKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestStore(t *testing.T) {
	s := New()
	if _, err := s.Signing(); !errors.Is(err, ErrNoSigningKey) {
		t.Fatalf("empty store Signing error = %v, want ErrNoSigningKey", err)
	}
	if got := s.PublicJWKS().Keys; got == nil || len(got) != 0 {
		t.Fatalf("empty store JWKS keys = %#v, want empty non-nil list", got)
	}

	first, err := NewKey(RS256, testRSAKey(t))
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	second, err := NewKey(PS256, other)
	if err != nil {
		t.Fatal(err)
	}

	if err := s.Set([]Key{second}, first.ID); err == nil {
		t.Fatal("Set with a signer not among the keys succeeded")
	}
	if err := s.Set([]Key{first, first}, first.ID); err == nil {
		t.Fatal("setting the same kid twice succeeded")
	}
	if err := s.Set([]Key{first}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Signing(); !errors.Is(err, ErrNoSigningKey) {
		t.Fatal("a key set but not as the signer signs")
	}
	// A new key is published before it signs.
	if err := s.Set([]Key{first, second}, first.ID); err != nil {
		t.Fatal(err)
	}
	if k, _ := s.Signing(); k.ID != first.ID || s.Active() != first.ID {
		t.Fatalf("signing kid = %s (active %s), want %s", k.ID, s.Active(), first.ID)
	}
	jwks := s.PublicJWKS()
	if len(jwks.Keys) != 2 || jwks.Keys[0].KeyID != first.ID || jwks.Keys[1].KeyID != second.ID {
		t.Fatalf("JWKS = %+v, want both keys in order", jwks)
	}
	if jwks.Keys[1].Algorithm != PS256 {
		t.Errorf("second key alg = %s, want PS256", jwks.Keys[1].Algorithm)
	}
	if err := s.Set([]Key{first, second}, second.ID); err != nil {
		t.Fatal(err)
	}
	if k, _ := s.Signing(); k.ID != second.ID {
		t.Fatalf("after rotation signing kid = %s, want %s", k.ID, second.ID)
	}
	if jwks := s.PublicJWKS(); len(jwks.Keys) != 2 || jwks.Keys[0].KeyID != first.ID {
		t.Errorf("after rotation JWKS = %+v, want the retired key still published for verification", jwks)
	}
}

// TestSetUnknownSigner: a kid not among the keys never becomes the signing
// key, and a refused Set leaves the store as it was.
func TestSetUnknownSigner(t *testing.T) {
	key, err := NewKey(RS256, testRSAKey(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		keys       []Key
		signer     string
		wantSigner string // kid signing afterwards; "" for none
	}{
		{"empty store", nil, "", ""},
		{"store with a key, none active", []Key{key}, "", ""},
		{"store with an active key", []Key{key}, key.ID, key.ID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New()
			if err := s.Set(tt.keys, tt.signer); err != nil {
				t.Fatal(err)
			}
			for _, kid := range []string{"unknown", key.ID[:10]} {
				if err := s.Set([]Key{key}, kid); err == nil || !strings.Contains(err.Error(), "not among them") {
					t.Errorf("Set with signer %q: got error %v, want one saying it is not among the keys", kid, err)
				}
			}
			got, err := s.Signing()
			if got.ID != tt.wantSigner {
				t.Errorf("got signing kid %q (%v), want %q", got.ID, err, tt.wantSigner)
			}
			if tt.wantSigner == "" && !errors.Is(err, ErrNoSigningKey) {
				t.Errorf("got Signing error %v, want ErrNoSigningKey", err)
			}
			if n := len(s.PublicJWKS().Keys); n != len(tt.keys) {
				t.Errorf("a refused Set changed the published keys: %d, want %d", n, len(tt.keys))
			}
		})
	}
}
