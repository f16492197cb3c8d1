package main

import (
	"bytes"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestDiscovery(t *testing.T) {
	srv := newTestServer(t, testKeys(t))
	oidcResp, oidc := srv.get(t, "/.well-known/openid-configuration")
	oauthResp, oauth := srv.get(t, "/.well-known/oauth-authorization-server")
	for _, resp := range []struct {
		name   string
		status int
	}{{"openid-configuration", oidcResp.StatusCode}, {"oauth-authorization-server", oauthResp.StatusCode}} {
		if resp.status != 200 {
			t.Errorf("%s status = %d, want 200", resp.name, resp.status)
		}
	}
	wantJSONContentType(t, oidcResp)
	wantJSONContentType(t, oauthResp)
	if !bytes.Equal(oidc, oauth) {
		t.Errorf("the two discovery documents differ:\n%s\n%s", oidc, oauth)
	}

	doc := decodeJSON(t, oidc)
	want := map[string]any{
		"issuer":                                srv.issuer,
		"jwks_uri":                              srv.issuer + "/.well-known/openid-configuration/jwks",
		"token_endpoint":                        srv.issuer + "/connect/token",
		"grant_types_supported":                 []any{"client_credentials"},
		"token_endpoint_auth_methods_supported": []any{"client_secret_basic", "client_secret_post"},
		"scopes_supported":                      []any{"auth.web.api", "orders.read", "orders.write"},
	}
	// Exactly these members: nothing for endpoints or flows that do not exist
	// (authorization_endpoint, response_types_supported, userinfo, ...).
	if !reflect.DeepEqual(doc, want) {
		t.Errorf("discovery members = %v, want exactly %v", slices.Sorted(maps.Keys(doc)), slices.Sorted(maps.Keys(want)))
		for k, v := range want {
			if !reflect.DeepEqual(doc[k], v) {
				t.Errorf("%s = %v, want %v", k, doc[k], v)
			}
		}
	}
}

func TestDiscoveryEndpointsAreServed(t *testing.T) {
	srv := newTestServer(t, testKeys(t))
	_, body := srv.get(t, "/.well-known/openid-configuration")
	doc := decodeJSON(t, body)
	resp, _ := answer(t)(srv.Client().Get(doc["jwks_uri"].(string)))
	if resp.StatusCode != 200 {
		t.Errorf("GET jwks_uri status = %d, want 200", resp.StatusCode)
	}
	resp, _ = answer(t)(srv.Client().PostForm(doc["token_endpoint"].(string), map[string][]string{
		"grant_type": {"client_credentials"}, "client_id": {"ApiClient"}, "client_secret": {"secret"},
	}))
	if resp.StatusCode != 200 {
		t.Errorf("POST token_endpoint status = %d, want 200", resp.StatusCode)
	}
}

// TestDiscoveryIgnoresHostHeader: the issuer and the endpoint URLs come from
// the configured issuer, never from the Host header (SPEC).
func TestDiscoveryIgnoresHostHeader(t *testing.T) {
	srv := newTestServer(t, testKeys(t))
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "attacker.example"
		_, body := answer(t)(srv.Client().Do(req))
		doc := decodeJSON(t, body)
		if doc["issuer"] != srv.issuer || doc["token_endpoint"] != srv.issuer+"/connect/token" {
			t.Errorf("GET %s with Host attacker.example: issuer %v, token_endpoint %v; want %s", path, doc["issuer"], doc["token_endpoint"], srv.issuer)
		}
		if strings.Contains(string(body), "attacker.example") {
			t.Errorf("GET %s: document names the Host header: %s", path, body)
		}
	}
}
