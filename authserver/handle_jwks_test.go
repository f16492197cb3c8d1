package main

import (
	"crypto/rand"
	"crypto/rsa"
	"regexp"
	"slices"
	"testing"

	"github.com/tokenbearer/authserver/internal/keystore"
)

func TestJWKS(t *testing.T) {
	keys := testKeys(t)
	active, _ := keys.Signing()
	// A second, not yet active key (as during rotation) is published too.
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	next, err := keystore.NewKey(keystore.PS256, priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Add(next); err != nil {
		t.Fatal(err)
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
	if len(list) != 2 {
		t.Fatalf("keys = %s, want 2 keys", body)
	}
	wantKIDs := []string{active.ID, next.ID}
	wantAlgs := []string{"RS256", "PS256"}
	for i, raw := range list {
		k := raw.(map[string]any)
		members := make([]string, 0, len(k))
		for m := range k {
			members = append(members, m)
		}
		slices.Sort(members)
		if want := []string{"alg", "e", "kid", "kty", "n", "use"}; !slices.Equal(members, want) {
			t.Errorf("key %d members = %v, want exactly %v (no private members)", i, members, want)
		}
		if k["kty"] != "RSA" || k["use"] != "sig" || k["alg"] != wantAlgs[i] {
			t.Errorf("key %d = kty %v use %v alg %v, want RSA sig %s", i, k["kty"], k["use"], k["alg"], wantAlgs[i])
		}
		thumb, err := keystore.Thumbprint(keystore.JWK{KeyType: "RSA", N: k["n"].(string), E: k["e"].(string)})
		if err != nil {
			t.Fatal(err)
		}
		if k["kid"] != thumb || thumb != wantKIDs[i] {
			t.Errorf("key %d kid = %v, thumbprint of n,e = %s, store kid = %s", i, k["kid"], thumb, wantKIDs[i])
		}
	}
}
