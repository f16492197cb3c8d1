package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenbearer/e2e/walkthrough"
)

// TestWalkthrough reproduces the article's Postman session against the real binaries and checks every answer.
func TestWalkthrough(t *testing.T) {
	sys := startSystem(t)
	var narration bytes.Buffer
	cfg := walkthroughConfig(sys.auth.url, sys.api.url)
	cfg.Out = &narration
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	res, err := walkthrough.Run(ctx, cfg)
	if err != nil {
		t.Fatalf("walkthrough: %v\n%s", err, narration.String())
	}

	checkWalkthrough(t, res, sys.auth.url)
	t.Run("narration names every step", func(t *testing.T) {
		for i := 1; i <= 5; i++ {
			if !strings.Contains(narration.String(), fmt.Sprintf("Step %d of 5", i)) {
				t.Errorf("narration lacks step %d:\n%s", i, narration.String())
			}
		}
		for _, check := range []string{"- iss ", "- aud ", "- exp ", "- scope ", "- typ ", "- the signature ", "never none or HMAC"} {
			if !strings.Contains(narration.String(), check) {
				t.Errorf("step 4 does not explain the check %q:\n%s", check, narration.String())
			}
		}
		if strings.Contains(narration.String(), "client_secret=secret") {
			t.Error("narration prints the client secret in clear")
		}
	})
}

// TestWalkthroughReportsDeviations: the walkthrough must fail, not narrate success, when the system misbehaves.
func TestWalkthroughReportsDeviations(t *testing.T) {
	sys := startSystem(t)
	tests := []struct {
		name     string
		mutate   func(*walkthrough.Config)
		wantStep string
	}{
		{"wrong secret", func(c *walkthrough.Config) { c.ClientSecret = "not-the-secret" }, "step 3"},
		{"unknown scope", func(c *walkthrough.Config) { c.Scope = "other.api" }, "step 3"},
		{"API that is not protected", func(c *walkthrough.Config) { c.API = sys.auth.url }, "step 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := walkthroughConfig(sys.auth.url, sys.api.url)
			tt.mutate(&cfg)
			_, err := walkthrough.Run(context.Background(), cfg)
			if !errors.Is(err, walkthrough.ErrDeviation) {
				t.Fatalf("got error %v, want a deviation", err)
			}
			if !strings.HasPrefix(err.Error(), tt.wantStep) {
				t.Errorf("got %q, want it to fail at %s", err, tt.wantStep)
			}
		})
	}
}

// walkthroughConfig is the article's client, the embedded demo client, against the services as this host reaches
// them.
func walkthroughConfig(authority, api string) walkthrough.Config {
	return walkthrough.Config{
		Authority:    authority,
		API:          api,
		ClientID:     "ApiClient",
		ClientSecret: "secret",
		Scope:        "auth.web.api",
	}
}

// runWalkthroughWith runs the article's steps against the services as the host reaches them, through client (one
// that trusts a development CA, say), and fails the test with the narration when a step deviates.
func runWalkthroughWith(t *testing.T, ctx context.Context, authority, api string, client *http.Client) *walkthrough.Result {
	t.Helper()
	var narration bytes.Buffer
	cfg := walkthroughConfig(authority, api)
	cfg.HTTPClient = client
	cfg.Out = &narration
	res, err := walkthrough.Run(ctx, cfg)
	if err != nil {
		t.Fatalf("walkthrough against %s and %s: %v\n%s", authority, api, err, narration.String())
	}
	return res
}

// checkWalkthrough asserts what the article shows at each step, with issuer in the discovery document and the
// token (in Docker the services' in-network URL, not the published port the client came in through); it returns
// the token's kid.
func checkWalkthrough(t *testing.T, res *walkthrough.Result, issuer string) (kid string) {
	t.Helper()
	kid, _ = res.Header["kid"].(string)
	t.Run("step 1: no token is refused with a bare Bearer challenge", func(t *testing.T) {
		if res.NoTokenStatus != 401 {
			t.Errorf("got status %d, want 401", res.NoTokenStatus)
		}
		if want := `Bearer realm="valuesapi"`; res.NoTokenChallenge != want {
			t.Errorf("got WWW-Authenticate %q, want %q", res.NoTokenChallenge, want)
		}
	})
	t.Run("step 2: discovery names the endpoints under the issuer", func(t *testing.T) {
		want := map[string]string{
			"issuer":         issuer,
			"token_endpoint": issuer + "/connect/token",
			"jwks_uri":       issuer + "/.well-known/openid-configuration/jwks",
		}
		for field, v := range want {
			if got := res.Discovery[field]; got != v {
				t.Errorf("got %s %v, want %q", field, got, v)
			}
		}
		if _, ok := res.Discovery["authorization_endpoint"]; ok {
			t.Error("discovery lists authorization_endpoint, but there is no interactive login")
		}
	})
	t.Run("step 3: the token response", func(t *testing.T) {
		if res.TokenType != "Bearer" || res.ExpiresIn != 3600 || res.Scope != "auth.web.api" {
			t.Errorf("got token_type %q expires_in %d scope %q, want Bearer 3600 auth.web.api", res.TokenType, res.ExpiresIn, res.Scope)
		}
	})
	t.Run("step 4: the token is an RFC 9068 JWT signed by a published key", func(t *testing.T) {
		if !res.SignatureVerified {
			t.Error("signature not verified")
		}
		if res.Header["alg"] != "RS256" || res.Header["typ"] != "at+jwt" || kid == "" {
			t.Errorf("got header %v, want alg RS256, typ at+jwt and a kid", res.Header)
		}
		wantClaims := map[string]any{
			"iss": issuer, "sub": "ApiClient", "client_id": "ApiClient", "aud": "auth.web.api", "scope": "auth.web.api",
		}
		for c, v := range wantClaims {
			if res.Claims[c] != v {
				t.Errorf("got claim %s = %v, want %v", c, res.Claims[c], v)
			}
		}
		iat, _ := res.Claims["iat"].(float64)
		exp, _ := res.Claims["exp"].(float64)
		if exp-iat != 3600 {
			t.Errorf("got exp-iat %v, want 3600", exp-iat)
		}
		if jti, _ := res.Claims["jti"].(string); len(jti) < 22 { // 128 bits in base64url
			t.Errorf("got jti %q, want at least 128 random bits", jti)
		}
	})
	t.Run("step 5: the token opens the API", func(t *testing.T) {
		if res.ValuesStatus != 200 || !slices.Equal(res.Values, []string{"value1", "value2"}) {
			t.Errorf("got %d %q, want 200 [value1 value2]", res.ValuesStatus, res.Values)
		}
	})
	return kid
}
