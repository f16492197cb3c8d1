package bearer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
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
			s := lastGoodKeys{jwkset.NewMemoryStorage()}
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
