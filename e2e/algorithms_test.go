package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// TestAlgorithms: for each --signing-alg, authserver publishes one key of that algorithm and signs with it, the
// token verifies with go-oidc against the published keys (an implementation that is not ours), and valuesapi with
// its default --algorithms accepts it.
func TestAlgorithms(t *testing.T) {
	tests := []struct {
		alg, kty, crv string
		other         string // an algorithm go-oidc is told to expect instead, which must fail
	}{
		{"RS256", "RSA", "", "PS256"},
		{"PS256", "RSA", "", "RS256"},
		{"ES256", "EC", "P-256", "EdDSA"},
		{"EdDSA", "OKP", "Ed25519", "ES256"},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			t.Parallel()
			keyFile := filepath.Join(t.TempDir(), "tempkey.jwk")
			auth := startAuthserver(t, freeAddr(t), keyFile, "--signing-alg", tt.alg)
			api := startValuesapi(t, freeAddr(t), auth.url)
			auth.waitReady(30 * time.Second)
			api.waitReady(30 * time.Second)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			jwks := publishedKeys(t, auth.url)
			if len(jwks) != 1 {
				t.Fatalf("got %d published keys, want 1: %v", len(jwks), jwks)
			}
			key := jwks[0]
			if key["kty"] != tt.kty || key["alg"] != tt.alg || key["use"] != "sig" || key["crv"] != tt.crv || key["kid"] == "" {
				t.Errorf("got published key %v, want kty %s alg %s use sig crv %q and a kid", key, tt.kty, tt.alg, tt.crv)
			}
			for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
				if _, ok := key[private]; ok {
					t.Errorf("published key has private member %q", private)
				}
			}

			token := fetchToken(t, auth.url)
			header := tokenHeader(t, token)
			if header["alg"] != tt.alg || header["kid"] != key["kid"] || header["typ"] != "at+jwt" || len(header) != 3 {
				t.Errorf("got token header %v, want exactly alg %s, kid %s, typ at+jwt", header, tt.alg, key["kid"])
			}

			provider, err := oidc.NewProvider(ctx, auth.url)
			if err != nil {
				t.Fatalf("go-oidc discovery: %v", err)
			}
			var meta struct {
				JWKSURI string `json:"jwks_uri"`
			}
			if err := provider.Claims(&meta); err != nil {
				t.Fatal(err)
			}
			if _, err := oidc.NewRemoteKeySet(ctx, meta.JWKSURI).VerifySignature(ctx, token); err != nil {
				t.Errorf("go-oidc RemoteKeySet: %v", err)
			}
			// The verifier also checks iss, aud (as its client id) and exp, and the alg against the given list.
			verify := func(alg string) error {
				_, err := provider.Verifier(&oidc.Config{ClientID: "auth.web.api", SupportedSigningAlgs: []string{alg}}).Verify(ctx, token)
				return err
			}
			if err := verify(tt.alg); err != nil {
				t.Errorf("go-oidc verifier expecting %s: %v", tt.alg, err)
			}
			if err := verify(tt.other); err == nil {
				t.Errorf("go-oidc verifier expecting only %s accepted a %s token", tt.other, tt.alg)
			}

			if status, challenge := getValues(t, api.url, token); status != http.StatusOK {
				t.Errorf("GET /api/values: got %d %s, want 200", status, challenge)
			}
		})
	}
}

// publishedKeys returns the JWKS keys of authserver at authURL with every member as a string.
func publishedKeys(t *testing.T, authURL string) []map[string]string {
	t.Helper()
	keys, err := fetchJWKS(&http.Client{Timeout: 10 * time.Second}, authURL)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// fetchJWKS is publishedKeys without a *testing.T, for goroutines that must not call Fatal.
func fetchJWKS(client *http.Client, authURL string) ([]map[string]string, error) {
	resp, err := client.Get(authURL + "/.well-known/openid-configuration/jwks")
	if err != nil {
		return nil, fmt.Errorf("GET jwks: %w", err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return nil, fmt.Errorf("decoding jwks: %w", err)
	}
	return set.Keys, nil
}

// tokenHeader decodes the JOSE header of a compact JWS without verifying anything.
func tokenHeader(t *testing.T, token string) map[string]any {
	t.Helper()
	header, err := decodeTokenHeader(token)
	if err != nil {
		t.Fatal(err)
	}
	return header
}

// decodeTokenHeader is tokenHeader without a *testing.T.
func decodeTokenHeader(token string) (map[string]any, error) {
	raw, _, _ := strings.Cut(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(raw)
	var header map[string]any
	if err == nil {
		err = json.Unmarshal(b, &header)
	}
	if err != nil {
		return nil, fmt.Errorf("token header %q: %w", raw, err)
	}
	return header, nil
}
