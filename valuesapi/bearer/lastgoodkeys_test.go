package bearer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/MicahParks/jwkset"
)

func TestLastGoodKeysRefusesSetsWithoutSigningKey(t *testing.T) {
	ctx := context.Background()
	jwk := func(kid string, use jwkset.USE) jwkset.JWK {
		t.Helper()
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k, err := jwkset.NewJWKFromKey(priv.Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid, USE: use}})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	current := jwk("current", jwkset.UseSig)

	for _, tc := range []struct {
		name     string
		given    []jwkset.JWK
		replaced bool
	}{
		{"empty set", nil, false},
		{"only an encryption key", []jwkset.JWK{jwk("enc", jwkset.UseEnc)}, false},
		{"a signing key", []jwkset.JWK{jwk("next", jwkset.UseSig)}, true},
		{"a key without use", []jwkset.JWK{jwk("next", "")}, true},
		{"an encryption key and a signing key", []jwkset.JWK{jwk("enc", jwkset.UseEnc), jwk("next", jwkset.UseSig)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &lastGoodKeys{Storage: jwkset.NewMemoryStorage()}
			if err := s.KeyReplaceAll(ctx, []jwkset.JWK{current}); err != nil {
				t.Fatal(err)
			}
			err := s.KeyReplaceAll(ctx, tc.given)
			_, currentErr := s.KeyRead(ctx, "current")
			switch {
			case tc.replaced && (err != nil || currentErr == nil):
				t.Errorf("want the set replaced: KeyReplaceAll %v, current key still there: %v", err, currentErr == nil)
			case !tc.replaced && (!errors.Is(err, errNoSigningKey) || currentErr != nil):
				t.Errorf("want the current keys kept: KeyReplaceAll %v, current key: %v", err, currentErr)
			}
		})
	}
}

// TestLastGoodKeysReportsRetiredKIDs: a replacement tells retired which kids it dropped or changed (another key,
// use or alg under the same kid), once the new set is in place; a refused replacement and one that keeps every key
// report nothing.
func TestLastGoodKeysReportsRetiredKIDs(t *testing.T) {
	ctx := context.Background()
	newKey := func() *ecdsa.PrivateKey {
		t.Helper()
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return priv
	}
	jwk := func(kid string, key *ecdsa.PrivateKey, use jwkset.USE, alg jwkset.ALG) jwkset.JWK {
		t.Helper()
		k, err := jwkset.NewJWKFromKey(key.Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid, USE: use, ALG: alg}})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k1, k2, k3 := newKey(), newKey(), newKey()
	current := []jwkset.JWK{jwk("one", k1, jwkset.UseSig, jwkset.AlgES256), jwk("two", k2, jwkset.UseSig, jwkset.AlgES256)}

	for _, tc := range []struct {
		name  string
		given []jwkset.JWK
		want  string // the retired kids, sorted and comma-separated; "" for no call
	}{
		{"same set", current, ""},
		{"same keys, reparsed", []jwkset.JWK{jwk("two", k2, jwkset.UseSig, jwkset.AlgES256), jwk("one", k1, jwkset.UseSig, jwkset.AlgES256)}, ""},
		{"a key added", append(slices.Clone(current), jwk("three", k3, jwkset.UseSig, jwkset.AlgES256)), ""},
		{"a key removed", current[1:], "one"},
		{"both removed, another added", []jwkset.JWK{jwk("three", k3, jwkset.UseSig, jwkset.AlgES256)}, "one,two"},
		{"another key under a kid", []jwkset.JWK{jwk("one", k3, jwkset.UseSig, jwkset.AlgES256), current[1]}, "one"},
		{"same key, now for encryption", []jwkset.JWK{jwk("one", k1, jwkset.UseEnc, jwkset.AlgES256), current[1]}, "one"},
		{"same key, another alg", []jwkset.JWK{jwk("one", k1, jwkset.UseSig, jwkset.AlgES384), current[1]}, "one"},
		{"refused: no signing key", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &lastGoodKeys{Storage: jwkset.NewMemoryStorage()}
			if err := s.KeyReplaceAll(ctx, current); err != nil {
				t.Fatal(err)
			}
			var got []string
			s.retired = func(kids map[string]bool) {
				for kid := range kids {
					// The token cache relies on this order: a token verified after the sweep finds the new keys.
					if _, err := s.KeyRead(ctx, kid); err == nil && !slices.ContainsFunc(tc.given, func(k jwkset.JWK) bool { return k.Marshal().KID == kid }) {
						t.Errorf("retired(%q) called while the old set is still in place", kid)
					}
					got = append(got, kid)
				}
			}
			_ = s.KeyReplaceAll(ctx, tc.given)
			slices.Sort(got)
			if strings.Join(got, ",") != tc.want {
				t.Errorf("retired kids: got %q, want %q", strings.Join(got, ","), tc.want)
			}
		})
	}
}
