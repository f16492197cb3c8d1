package bearer_test

import (
	"context"
	"testing"

	"github.com/tokenbearer/valuesapi/bearer/bearertest"
)

// TestOversizedJWKSIsRefused: keyfunc/jwkset read the JWKS without a limit; ours is capped at 1 MiB. A larger set
// never loads at start, and on refresh it leaves the current keys in place.
func TestOversizedJWKSIsRefused(t *testing.T) {
	t.Run("at start", func(t *testing.T) {
		a := bearertest.NewAuthority(t)
		a.PadJWKS(2 << 20)
		v := newValidator(t, a.URL, nil)
		eventually(t, "a retry after the first JWKS", func() bool { return a.JWKSFetches() >= 2 })
		if v.Ready() {
			t.Fatal("ready with a 2 MiB JWKS")
		}
		a.PadJWKS(512 << 10) // under the cap: fine
		waitReady(t, v)
		if _, err := v.Validate(context.Background(), a.Token(t, audience, audience)); err != nil {
			t.Errorf("after a JWKS under the cap: %v", err)
		}
	})

	t.Run("on refresh", func(t *testing.T) {
		a := bearertest.NewAuthority(t)
		v := newValidator(t, a.URL, nil)
		waitReady(t, v)
		rotated := bearertest.Keys(t)[1]
		a.AddKey("key-2", &rotated.PublicKey)
		a.PadJWKS(2 << 20)
		newToken := bearertest.Sign(t, rotated, map[string]any{"alg": "RS256", "kid": "key-2", "typ": "at+jwt"}, a.Claims(audience, audience))
		before := a.JWKSFetches()
		if _, err := v.Validate(context.Background(), newToken); !isDescription(err, "unknown signing key") {
			t.Fatalf("rotated key behind an oversized JWKS: got %v, want unknown signing key", err)
		}
		if a.JWKSFetches() == before {
			t.Fatal("no refresh attempted; the test proves nothing")
		}
		if _, err := v.Validate(context.Background(), a.Token(t, audience, audience)); err != nil {
			t.Errorf("known key after a refused refresh: %v", err)
		}
		a.PadJWKS(0)
		eventually(t, "rotated key loaded from a normal JWKS", func() bool {
			_, err := v.Validate(context.Background(), newToken)
			return err == nil
		})
	})
}
