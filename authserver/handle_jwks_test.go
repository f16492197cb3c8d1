package main

import (
	"regexp"
	"slices"
	"testing"

	"github.com/tokenbearer/authserver/internal/keystore"
)

// TestJWKS: every key in the store is published, the active one and those
// announced beside it (as during rotation), each with kty, its public
// members only, alg, use sig, and its RFC 7638 thumbprint as kid.
func TestJWKS(t *testing.T) {
	keys := testKeys(t)
	active, _ := keys.Signing()
	published := []keystore.Key{active}
	for _, alg := range []string{keystore.PS256, keystore.ES256, keystore.EdDSA} {
		k, err := keystore.Generate(alg)
		if err != nil {
			t.Fatal(err)
		}
		published = append(published, k)
	}
	if err := keys.Set(published, active.ID); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		alg, kty string
		members  []string
	}{
		{"RS256", "RSA", []string{"alg", "e", "kid", "kty", "n", "use"}},
		{"PS256", "RSA", []string{"alg", "e", "kid", "kty", "n", "use"}},
		{"ES256", "EC", []string{"alg", "crv", "kid", "kty", "use", "x", "y"}},
		{"EdDSA", "OKP", []string{"alg", "crv", "kid", "kty", "use", "x"}},
	}

	srv := newTestServer(t, keys)
	resp, body := srv.get(t, "/.well-known/openid-configuration/jwks")
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	wantJSONContentType(t, resp)
	if cc := resp.Header.Get("Cache-Control"); !regexp.MustCompile(`^public, max-age=[1-9][0-9]*$`).MatchString(cc) {
		t.Errorf("Cache-Control = %q, want public, max-age=N", cc)
	}

	set := decodeJSON(t, body)
	list, _ := set["keys"].([]any)
	if len(list) != len(want) {
		t.Fatalf("keys = %s, want %d keys", body, len(want))
	}
	for i, raw := range list {
		k := raw.(map[string]any)
		members := make([]string, 0, len(k))
		str := map[string]string{}
		for m, v := range k {
			members = append(members, m)
			str[m], _ = v.(string)
		}
		slices.Sort(members)
		if !slices.Equal(members, want[i].members) {
			t.Errorf("key %d (%s): got members %v, want exactly %v (no private members)", i, want[i].alg, members, want[i].members)
		}
		if str["kty"] != want[i].kty || str["use"] != "sig" || str["alg"] != want[i].alg {
			t.Errorf("key %d: got kty %s use %s alg %s, want %s sig %s", i, str["kty"], str["use"], str["alg"], want[i].kty, want[i].alg)
		}
		// The thumbprint of what was published, computed from the members alone.
		thumb, err := keystore.Thumbprint(keystore.JWK{KeyType: str["kty"], N: str["n"], E: str["e"], Curve: str["crv"], X: str["x"], Y: str["y"]})
		if err != nil {
			t.Fatal(err)
		}
		if str["kid"] != thumb || thumb != published[i].ID {
			t.Errorf("key %d: got kid %s, thumbprint of the members %s, store kid %s; want all three equal", i, str["kid"], thumb, published[i].ID)
		}
	}
}
