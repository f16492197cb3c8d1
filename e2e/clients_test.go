package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// TestIndependentClients runs the flow through two widely used client libraries instead of our own code:
// go-oidc reads the discovery document and checks the signature with the published keys, and x/oauth2's
// clientcredentials gets the token with each client authentication method.
func TestIndependentClients(t *testing.T) {
	sys := startSystem(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	provider, err := oidc.NewProvider(ctx, sys.auth.url) // fails if discovery's issuer differs from the URL
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := provider.Claims(&meta); err != nil {
		t.Fatalf("reading discovery claims: %v", err)
	}
	keys := oidc.NewRemoteKeySet(ctx, meta.JWKSURI)

	for _, style := range []struct {
		name  string
		style oauth2.AuthStyle
	}{
		{"client_secret_basic", oauth2.AuthStyleInHeader},
		{"client_secret_post", oauth2.AuthStyleInParams},
	} {
		t.Run(style.name, func(t *testing.T) {
			cc := clientcredentials.Config{
				ClientID: "ApiClient", ClientSecret: "secret", TokenURL: provider.Endpoint().TokenURL,
				Scopes: []string{"auth.web.api"}, AuthStyle: style.style,
			}
			tok, err := cc.Token(ctx)
			if err != nil {
				t.Fatalf("clientcredentials token: %v", err)
			}
			if tok.TokenType != "Bearer" || time.Until(tok.Expiry) < 59*time.Minute {
				t.Errorf("got token_type %q expiry in %s, want Bearer and about an hour", tok.TokenType, time.Until(tok.Expiry))
			}
			if _, err := keys.VerifySignature(ctx, tok.AccessToken); err != nil {
				t.Errorf("go-oidc could not verify the signature with the published keys: %v", err)
			}

			resp, err := cc.Client(ctx).Get(sys.api.url + "/api/values")
			if err != nil {
				t.Fatalf("GET /api/values through the oauth2 client: %v", err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			var values []string
			if resp.StatusCode != 200 || json.Unmarshal(body, &values) != nil || !slices.Equal(values, []string{"value1", "value2"}) {
				t.Errorf("got %d %s, want 200 [\"value1\",\"value2\"]", resp.StatusCode, body)
			}
		})
	}

	t.Run("wrong secret is refused", func(t *testing.T) {
		cc := clientcredentials.Config{ClientID: "ApiClient", ClientSecret: "wrong", TokenURL: provider.Endpoint().TokenURL}
		_, err := cc.Token(ctx)
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != 401 {
			t.Errorf("got %v, want 401 invalid_client", err)
		}
	})
}
