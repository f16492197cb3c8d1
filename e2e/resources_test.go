package e2e

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The README's second example, end to end: deploy/examples/orders.yaml with its placeholder replaced by a real
// hash, and a valuesapi that protects orders.api with orders.read.
func TestOrdersExampleMapsYAMLOntoTokens(t *testing.T) {
	example, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "examples", "orders.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const placeholder = "sha256:PASTE-THE-HASH-LINE-OF-authserver-hash-secret"
	if !strings.Contains(string(example), placeholder) {
		t.Fatalf("orders.yaml lacks the placeholder %q", placeholder)
	}
	dir := t.TempDir()
	const secret = "orders-example-secret"
	// The IdentityServer format that `authserver hash-secret` prints: "sha256:" and the base64 of the digest.
	sum := sha256.Sum256([]byte(secret))
	hash := "sha256:" + base64.StdEncoding.EncodeToString(sum[:])
	config := filepath.Join(dir, "orders.yaml")
	if err := os.WriteFile(config, []byte(strings.Replace(string(example), placeholder, hash, 1)), 0o600); err != nil {
		t.Fatal(err)
	}

	auth := startAuthserver(t, freeAddr(t), filepath.Join(dir, "key.jwk"), "--config", config)
	orders := startValuesapi(t, freeAddr(t), auth.url, "--audience", "orders.api", "--scope", "orders.read")
	auth.waitReady(30 * time.Second)
	orders.waitReady(30 * time.Second)

	form := func(scope string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {"ShopClient"}, "client_secret": {secret}, "scope": {scope}}
	}
	tests := []struct {
		name      string
		scope     string
		wantAud   []string
		wantScope string
		wantAPI   int
	}{
		{name: "orders.read: aud is the resource that owns it", scope: "orders.read",
			wantAud: []string{"orders.api"}, wantScope: "orders.read", wantAPI: http.StatusOK},
		{name: "the article's scope: a token for another API", scope: "auth.web.api",
			wantAud: []string{"auth.web.api"}, wantScope: "auth.web.api", wantAPI: http.StatusUnauthorized},
		{name: "no scope asked: every allowed scope, both audiences", scope: "",
			wantAud: []string{"auth.web.api", "orders.api"}, wantScope: "orders.read auth.web.api", wantAPI: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token, claims := requestToken(t, auth.url, form(tt.scope))
			aud, err := claims.GetAudience()
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(aud)
			if !slices.Equal(aud, tt.wantAud) {
				t.Errorf("aud: got %v, want %v", aud, tt.wantAud)
			}
			if got := claims["scope"]; got != tt.wantScope {
				t.Errorf("scope: got %v, want %q", got, tt.wantScope)
			}
			if status, challenge := getValues(t, orders.url, token); status != tt.wantAPI {
				t.Errorf("GET /api/values: got %d (%s), want %d", status, challenge, tt.wantAPI)
			}
		})
	}

	// orders.write belongs to orders.api, but the client may not have it.
	resp, err := http.PostForm(auth.url+"/connect/token", form("orders.write"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("orders.write: got %d, want 400 invalid_scope", resp.StatusCode)
	}
}
