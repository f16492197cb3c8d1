package bearer_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/tokenbearer/valuesapi/bearer"
	"github.com/tokenbearer/valuesapi/bearer/bearertest"
)

// TestTokenAlgMustBeItsKeys: with the default allow-list every algorithm an authserver may sign with is accepted,
// and a token's alg must be its key's: the JWK's alg when it has one, else one that fits the key's type. The tokens
// refused here are signed with a key of the named alg (often the right private key), so only that rule stops them.
func TestTokenAlgMustBeItsKeys(t *testing.T) {
	a, _, h := hostileServer(t, nil)
	rsaKey, otherRSA := a.Key, bearertest.Keys(t)[1]
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// a.KID is rsaKey published with alg RS256.
	for _, k := range []struct {
		kid string
		pub crypto.PublicKey
		alg string
	}{
		{"rsa-no-alg", &otherRSA.PublicKey, ""},
		{"rsa-ps256", &otherRSA.PublicKey, "PS256"},
		{"ec", &p256.PublicKey, "ES256"},
		{"ec-no-alg", &p256.PublicKey, ""},
		{"p384-no-alg", &p384.PublicKey, ""},
		{"ed", ed.Public(), "EdDSA"},
		{"ed-no-alg", ed.Public(), ""},
		// A JWK whose alg does not fit its own key: an RSA key published for ES256.
		{"rsa-as-es256", &rsaKey.PublicKey, "ES256"},
	} {
		a.AddKeyWith(k.kid, k.pub, "sig", k.alg)
	}

	tok := func(alg, kid string, key crypto.Signer) []string {
		hdr := map[string]any{"alg": alg, "kid": kid, "typ": "at+jwt"}
		return []string{"Bearer " + bearertest.Sign(t, key, hdr, a.Claims(audience, audience))}
	}
	mismatch := rejected("signing algorithm does not match the key")
	tests := []struct {
		name string
		auth []string
		want outcome
	}{
		{"RS256, key published for RS256", tok("RS256", a.KID, rsaKey), accepted},
		{"RS256, RSA key without alg", tok("RS256", "rsa-no-alg", otherRSA), accepted},
		{"PS256, RSA key without alg", tok("PS256", "rsa-no-alg", otherRSA), accepted},
		{"PS256, key published for PS256", tok("PS256", "rsa-ps256", otherRSA), accepted},
		{"ES256, key published for ES256", tok("ES256", "ec", p256), accepted},
		{"ES256, P-256 key without alg", tok("ES256", "ec-no-alg", p256), accepted},
		{"EdDSA, key published for EdDSA", tok("EdDSA", "ed", ed), accepted},
		{"EdDSA, Ed25519 key without alg", tok("EdDSA", "ed-no-alg", ed), accepted},

		{"RS256 token, EC key published for ES256", tok("RS256", "ec", rsaKey), mismatch},
		{"RS256 token, P-256 key without alg", tok("RS256", "ec-no-alg", rsaKey), mismatch},
		{"PS256 token, key published for RS256", tok("PS256", a.KID, rsaKey), mismatch},
		{"RS256 token, key published for PS256", tok("RS256", "rsa-ps256", otherRSA), mismatch},
		{"ES256 token, Ed25519 key published for EdDSA", tok("ES256", "ed", p256), mismatch},
		{"ES256 token, Ed25519 key without alg", tok("ES256", "ed-no-alg", p256), mismatch},
		{"ES256 token, P-384 key without alg", tok("ES256", "p384-no-alg", p256), mismatch},
		{"EdDSA token, kid of an RSA key published for RS256", tok("EdDSA", a.KID, ed), mismatch},
		{"EdDSA token, kid of an RSA key without alg", tok("EdDSA", "rsa-no-alg", ed), mismatch},
		{"EdDSA token, P-256 key without alg", tok("EdDSA", "ec-no-alg", ed), mismatch},
		{"ES256 token, RSA key whose JWK claims ES256", tok("ES256", "rsa-as-es256", p256), mismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { serve(t, h, tt.auth, tt.want) })
	}
}

// TestAlgorithmsAllowList: a shorter allow-list refuses the algorithms it leaves out before any key is looked at,
// even for a token whose key is published for that algorithm.
func TestAlgorithmsAllowList(t *testing.T) {
	a, _, h := hostileServer(t, func(c *bearer.Config) { c.Algorithms = []string{"RS256"} })
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	a.AddKeyWith("ed", ed.Public(), "sig", "EdDSA")
	serve(t, h, []string{"Bearer " + a.Token(t, audience, audience)}, accepted)
	hdr := map[string]any{"alg": "EdDSA", "kid": "ed", "typ": "at+jwt"}
	serve(t, h, []string{"Bearer " + bearertest.Sign(t, ed, hdr, a.Claims(audience, audience))}, rejected("signing algorithm not allowed"))
}
