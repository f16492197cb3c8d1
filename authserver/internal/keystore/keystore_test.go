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

	if err := s.Activate(first.ID); err == nil {
		t.Fatal("Activate of a key not in the store succeeded")
	}
	if err := s.Add(first); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(first); err == nil {
		t.Fatal("adding the same kid twice succeeded")
	}
	if _, err := s.Signing(); !errors.Is(err, ErrNoSigningKey) {
		t.Fatal("a key added but not activated signs")
	}
	if err := s.Activate(first.ID); err != nil {
		t.Fatal(err)
	}
	// A new key is published before it signs.
	if err := s.Add(second); err != nil {
		t.Fatal(err)
	}
	if k, _ := s.Signing(); k.ID != first.ID {
		t.Fatalf("signing kid = %s, want %s", k.ID, first.ID)
	}
	jwks := s.PublicJWKS()
	if len(jwks.Keys) != 2 || jwks.Keys[0].KeyID != first.ID || jwks.Keys[1].KeyID != second.ID {
		t.Fatalf("JWKS = %+v, want both keys in order", jwks)
	}
	if jwks.Keys[1].Algorithm != PS256 {
		t.Errorf("second key alg = %s, want PS256", jwks.Keys[1].Algorithm)
	}
	if err := s.Activate(second.ID); err != nil {
		t.Fatal(err)
	}
	if k, _ := s.Signing(); k.ID != second.ID {
		t.Fatalf("after rotation signing kid = %s, want %s", k.ID, second.ID)
	}
	if jwks := s.PublicJWKS(); len(jwks.Keys) != 2 || jwks.Keys[0].KeyID != first.ID {
		t.Errorf("after rotation JWKS = %+v, want the retired key still published for verification", jwks)
	}
}

// TestActivateUnknownKid: a kid not in the store never becomes the signing
// key, and the key that signed before keeps signing.
func TestActivateUnknownKid(t *testing.T) {
	key, err := NewKey(RS256, testRSAKey(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		add        bool
		activate   bool
		wantSigner string // kid signing afterwards; "" for none
	}{
		{"empty store", false, false, ""},
		{"store with a key, none active", true, false, ""},
		{"store with an active key", true, true, key.ID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New()
			if tt.add {
				if err := s.Add(key); err != nil {
					t.Fatal(err)
				}
			}
			if tt.activate {
				if err := s.Activate(key.ID); err != nil {
					t.Fatal(err)
				}
			}
			for _, kid := range []string{"unknown", "", key.ID[:10]} {
				if err := s.Activate(kid); err == nil || !strings.Contains(err.Error(), "not in store") {
					t.Errorf("Activate(%q): got error %v, want one saying it is not in the store", kid, err)
				}
			}
			got, err := s.Signing()
			if got.ID != tt.wantSigner {
				t.Errorf("got signing kid %q (%v), want %q", got.ID, err, tt.wantSigner)
			}
			if tt.wantSigner == "" && !errors.Is(err, ErrNoSigningKey) {
				t.Errorf("got Signing error %v, want ErrNoSigningKey", err)
			}
		})
	}
}
