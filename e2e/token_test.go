package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// demoClient is the form of the article's Postman request: the embedded demo client, by client_secret_post.
var demoClient = url.Values{"grant_type": {"client_credentials"}, "client_id": {"ApiClient"}, "client_secret": {"secret"}}

// fetchToken asks authserver for a token with the demo client, as the article's Postman request does.
func fetchToken(t *testing.T, authURL string) string {
	t.Helper()
	token, _ := requestToken(t, authURL, demoClient)
	return token
}

// requestToken asks for a token by client_secret_post and returns it with its claims, read without verification
// (valuesapi verifies it; the tests only look at what authserver put in it).
func requestToken(t *testing.T, authURL string, form url.Values) (string, jwt.MapClaims) {
	t.Helper()
	token, err := postToken(&http.Client{Timeout: 10 * time.Second}, authURL, form)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
		t.Fatalf("reading the token's claims: %v", err)
	}
	return token, claims
}

// postToken is requestToken without a *testing.T, for goroutines that must not call Fatal; it returns the token
// alone.
func postToken(client *http.Client, authURL string, form url.Values) (string, error) {
	resp, err := client.Post(authURL+"/connect/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("POST /connect/token: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		return "", fmt.Errorf("token request (client %s, scope %q): status %d, decode error %v", form.Get("client_id"), form.Get("scope"), resp.StatusCode, err)
	}
	return body.AccessToken, nil
}

// jwksKids lists the kid of every key authserver publishes; it fails the test unless there is at least one key
// and every key has a kid.
func jwksKids(t *testing.T, authURL string) []string {
	t.Helper()
	keys := publishedKeys(t, authURL)
	// An empty list, or keys without a kid, would make a comparison of two listings pass without comparing anything.
	if len(keys) == 0 {
		t.Fatal("jwks lists no keys")
	}
	kids := make([]string, 0, len(keys))
	for _, k := range keys {
		if k["kid"] == "" {
			t.Fatal("jwks lists a key without a kid")
		}
		kids = append(kids, k["kid"])
	}
	return kids
}
