package bearer_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenbearer/valuesapi/bearer"
	"github.com/tokenbearer/valuesapi/bearer/bearertest"
)

const audience = "auth.web.api"

func newValidator(t testing.TB, authority string, edit func(*bearer.Config)) *bearer.Validator {
	t.Helper()
	cfg := bearer.Config{
		Authority:          authority,
		Audience:           audience,
		UnknownKIDInterval: 10 * time.Millisecond,
		FetchTimeout:       time.Second,
		Logger:             slog.New(slog.DiscardHandler),
	}
	if edit != nil {
		edit(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := bearer.New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

func waitReady(t testing.TB, v *bearer.Validator) {
	t.Helper()
	eventually(t, "validator ready", v.Ready)
}

// eventually polls cond for up to 10s; the bound only catches hangs, it is not a speed assertion.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// validateWithin runs Validate and fails the test if it has not returned after bound.
func validateWithin(t *testing.T, v *bearer.Validator, token string, bound time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := v.Validate(context.Background(), token)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(bound):
		t.Fatalf("Validate still running after %v", bound)
		return nil
	}
}

func TestValidateAcceptsAndReturnsClaims(t *testing.T) {
	a := bearertest.NewAuthority(t)
	v := newValidator(t, a.URL+"/", nil) // a trailing slash on the configured authority is tolerated
	waitReady(t, v)
	if v.Issuer() != a.URL {
		t.Errorf("Issuer: got %q, want %q", v.Issuer(), a.URL)
	}
	claims, err := v.Validate(context.Background(), a.Token(t, audience, "openid auth.web.api"))
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if claims.ClientID != "ApiClient" || claims.Subject != "ApiClient" || !claims.HasScope("auth.web.api") || claims.HasScope("auth") {
		t.Errorf("claims: got %+v", claims)
	}
}

// TestUnknownKIDRefresh: a key rotated into the JWKS after start is picked up by the unknown-kid refresh, and
// that refresh is rate-limited.
func TestUnknownKIDRefresh(t *testing.T) {
	a := bearertest.NewAuthority(t)
	v := newValidator(t, a.URL, nil)
	waitReady(t, v)
	newKey := bearertest.Keys(t)[1]
	hdr := map[string]any{"alg": "RS256", "kid": "key-2", "typ": "at+jwt"}
	rotated := bearertest.Sign(t, newKey, hdr, a.Claims(audience, audience))

	before := a.JWKSFetches()
	if _, err := v.Validate(context.Background(), rotated); !isDescription(err, "unknown signing key") {
		t.Fatalf("before rotation: got %v, want unknown signing key", err)
	}
	if a.JWKSFetches() == before {
		t.Error("unknown kid did not trigger a JWKS refresh")
	}

	a.AddKey("key-2", &newKey.PublicKey)
	if _, err := v.Validate(context.Background(), rotated); err != nil {
		t.Fatalf("after rotation: got %v, want accepted", err)
	}
}

func TestUnknownKIDRefreshIsRateLimited(t *testing.T) {
	a := bearertest.NewAuthority(t)
	v := newValidator(t, a.URL, func(c *bearer.Config) { c.UnknownKIDInterval = time.Hour })
	waitReady(t, v)
	forged := func(kid string) string {
		return bearertest.Sign(t, bearertest.Keys(t)[2], map[string]any{"alg": "RS256", "kid": kid, "typ": "at+jwt"}, a.Claims(audience, audience))
	}
	start := a.JWKSFetches()
	for _, kid := range []string{"forged-1", "forged-2", "forged-3", "forged-4"} {
		if err := validateWithin(t, v, forged(kid), 5*time.Second); !isDescription(err, "unknown signing key") {
			t.Fatalf("kid %s: got %v, want unknown signing key", kid, err)
		}
	}
	if got := a.JWKSFetches() - start; got != 1 {
		t.Errorf("JWKS fetches for 4 unknown kids within one window: got %d, want 1", got)
	}
}

// TestAuthorityDownAtStart: New returns at once, tokens are refused promptly while the authority is down, and the
// same Validator accepts them once it is up.
func TestAuthorityDownAtStart(t *testing.T) {
	a := bearertest.NewAuthority(t)
	a.Down(true)
	v := newValidator(t, a.URL, nil)
	token := a.Token(t, audience, audience)
	if err := validateWithin(t, v, token, 5*time.Second); !errors.Is(err, bearer.ErrKeysUnavailable) {
		t.Fatalf("while down: got %v, want %v", err, bearer.ErrKeysUnavailable)
	}
	if v.Ready() {
		t.Fatal("ready while the authority is down")
	}
	eventually(t, "discovery retried", func() bool { return a.DiscoveryFetches() >= 2 })
	a.Down(false)
	waitReady(t, v)
	if _, err := v.Validate(context.Background(), token); err != nil {
		t.Fatalf("after the authority came up: %v", err)
	}
}

// TestAuthorityRefusingConnections covers a dead host rather than an erroring one.
func TestAuthorityRefusingConnections(t *testing.T) {
	v := newValidator(t, "http://"+refusedAddr(t), nil)
	if err := validateWithin(t, v, "a.b.c", 5*time.Second); !errors.Is(err, bearer.ErrKeysUnavailable) {
		t.Fatalf("got %v, want %v", err, bearer.ErrKeysUnavailable)
	}
}

func TestDiscoveryIssuerMismatchIsNotReady(t *testing.T) {
	a := bearertest.NewAuthority(t)
	a.SetIssuer("http://impostor.example")
	v := newValidator(t, a.URL, nil)
	eventually(t, "discovery retried", func() bool { return a.DiscoveryFetches() >= 2 })
	if v.Ready() {
		t.Fatal("ready although the discovery issuer does not match the authority")
	}
	if a.JWKSFetches() != 0 {
		t.Errorf("JWKS fetched %d times from a mismatched discovery document, want 0", a.JWKSFetches())
	}
	if _, err := v.Validate(context.Background(), a.Token(t, audience, audience)); !errors.Is(err, bearer.ErrKeysUnavailable) {
		t.Errorf("got %v, want %v", err, bearer.ErrKeysUnavailable)
	}
}

// TestStalledJWKSDoesNotHang: when the authority stops answering, a request whose kid forces a refresh comes back
// with 401 after FetchTimeout instead of hanging, and says the keys were not available rather than blaming the
// token's kid, which the authority might well have published.
func TestStalledJWKSDoesNotHang(t *testing.T) {
	a := bearertest.NewAuthority(t)
	const timeout = 200 * time.Millisecond
	v := newValidator(t, a.URL, func(c *bearer.Config) { c.FetchTimeout = timeout })
	waitReady(t, v)
	a.Stall(true)
	token := bearertest.Sign(t, a.Key, map[string]any{"alg": "RS256", "kid": "rotated", "typ": "at+jwt"}, a.Claims(audience, audience))
	if err := validateWithin(t, v, token, 5*timeout); !errors.Is(err, bearer.ErrKeysUnavailable) {
		t.Fatalf("got %v, want %v", err, bearer.ErrKeysUnavailable)
	}
	// Known keys keep working from the cache while the authority stalls.
	if _, err := v.Validate(context.Background(), a.Token(t, audience, audience)); err != nil {
		t.Errorf("known kid during stall: %v", err)
	}
}

func TestStalledDiscoveryAtStart(t *testing.T) {
	a := bearertest.NewAuthority(t)
	a.Stall(true) // JWKS hangs: discovery works, first key load never completes
	v := newValidator(t, a.URL, func(c *bearer.Config) { c.FetchTimeout = 100 * time.Millisecond })
	if err := validateWithin(t, v, a.Token(t, audience, audience), time.Second); !errors.Is(err, bearer.ErrKeysUnavailable) {
		t.Fatalf("got %v, want %v", err, bearer.ErrKeysUnavailable)
	}
	a.Stall(false)
	waitReady(t, v)
}

// TestKeyURLHeadersAreNeverFetched: jku, x5u and jwk in a token header must not lead us to a key of the token's
// choosing.
func TestKeyURLHeadersAreNeverFetched(t *testing.T) {
	var hits atomic.Int64
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys":[]}`))
	}))
	t.Cleanup(evil.Close)
	a := bearertest.NewAuthority(t)
	v := newValidator(t, a.URL, nil)
	waitReady(t, v)
	attacker := bearertest.Keys(t)[2]
	hdr := map[string]any{
		"alg": "RS256", "kid": "attacker", "typ": "at+jwt",
		"jku": evil.URL + "/jwks", "x5u": evil.URL + "/cert",
		"jwk": map[string]any{"kty": "RSA", "kid": "attacker", "n": "AQAB", "e": "AQAB"},
	}
	token := bearertest.Sign(t, attacker, hdr, a.Claims(audience, audience))
	if _, err := v.Validate(context.Background(), token); !isDescription(err, "unknown signing key") {
		t.Errorf("got %v, want unknown signing key", err)
	}
	if hits.Load() != 0 {
		t.Errorf("attacker server was contacted %d times", hits.Load())
	}
}

func TestValidateBeforeParsing(t *testing.T) {
	a := bearertest.NewAuthority(t)
	v := newValidator(t, a.URL, nil)
	waitReady(t, v)
	// A validly signed token past the cap is refused by size, before any parsing.
	claims := a.Claims(audience, audience)
	claims["pad"] = string(make([]byte, 9000))
	big := bearertest.Sign(t, a.Key, a.Header(), claims)
	if _, err := v.Validate(context.Background(), big); !isDescription(err, "token too large") {
		t.Errorf("oversized token: got %v, want token too large", err)
	}
	if _, err := v.Validate(context.Background(), ""); !isDescription(err, "malformed token") {
		t.Errorf("empty token: got %v, want malformed token", err)
	}
}

func isDescription(err error, description string) bool {
	var e *bearer.Error
	return errors.As(err, &e) && e.Description == description
}

// TestKeySetWithoutKeysKeepsCurrentKeys: a JWKS answer with no key is a failed refresh, not the revocation of
// every key; tokens signed with the current key keep working.
func TestKeySetWithoutKeysKeepsCurrentKeys(t *testing.T) {
	a := bearertest.NewAuthority(t)
	v := newValidator(t, a.URL, nil)
	waitReady(t, v)
	token := a.Token(t, audience, audience)
	a.RemoveKey(a.KID)

	before := a.JWKSFetches()
	forged := bearertest.Sign(t, bearertest.Keys(t)[2], map[string]any{"alg": "RS256", "kid": "forged", "typ": "at+jwt"}, a.Claims(audience, audience))
	if _, err := v.Validate(context.Background(), forged); !isDescription(err, "unknown signing key") {
		t.Fatalf("unknown kid: got %v, want unknown signing key", err)
	}
	if a.JWKSFetches() == before {
		t.Fatal("the unknown kid did not make the validator fetch the empty set; the test proved nothing")
	}
	if _, err := v.Validate(context.Background(), token); err != nil {
		t.Errorf("known kid after an empty JWKS: %v", err)
	}
}

// TestRetiredKeyIsDropped: a set that leaves a key out and holds another one replaces the old set.
func TestRetiredKeyIsDropped(t *testing.T) {
	a := bearertest.NewAuthority(t)
	v := newValidator(t, a.URL, nil)
	waitReady(t, v)
	old := a.Token(t, audience, audience)
	newKey := bearertest.Keys(t)[1]
	a.AddKey("key-2", &newKey.PublicKey)
	a.RemoveKey(a.KID)
	rotated := bearertest.Sign(t, newKey, map[string]any{"alg": "RS256", "kid": "key-2", "typ": "at+jwt"}, a.Claims(audience, audience))
	if _, err := v.Validate(context.Background(), rotated); err != nil {
		t.Fatalf("new key: %v", err)
	}
	if _, err := v.Validate(context.Background(), old); !isDescription(err, "unknown signing key") {
		t.Errorf("retired key: got %v, want unknown signing key", err)
	}
}

// TestKeySetWithoutKeysAtStartIsNotReady: the first fetch goes through the same check, so the validator waits for
// a set it can use.
func TestKeySetWithoutKeysAtStartIsNotReady(t *testing.T) {
	a := bearertest.NewAuthority(t)
	a.RemoveKey(a.KID)
	v := newValidator(t, a.URL, nil)
	eventually(t, "JWKS fetched twice", func() bool { return a.JWKSFetches() >= 2 })
	if v.Ready() {
		t.Fatal("ready on a JWKS with no key")
	}
	if err := validateWithin(t, v, a.Token(t, audience, audience), 5*time.Second); !errors.Is(err, bearer.ErrKeysUnavailable) {
		t.Fatalf("got %v, want %v", err, bearer.ErrKeysUnavailable)
	}
	a.AddKey(a.KID, &a.Key.PublicKey)
	waitReady(t, v)
	if _, err := v.Validate(context.Background(), a.Token(t, audience, audience)); err != nil {
		t.Fatalf("after a key was published: %v", err)
	}
}

// TestOnlySigningKeysVerify: a key the authority publishes for encryption never verifies a token, even one signed
// with it; a key without "use" still does, since RFC 7517 4.2 makes the member optional. The authority's own
// signing key stays in the set, so the set is usable and only the use filter can refuse the token.
func TestOnlySigningKeysVerify(t *testing.T) {
	a := bearertest.NewAuthority(t)
	key := bearertest.Keys(t)[1]
	tests := []struct {
		use     string
		wantErr string // "" means accepted
	}{
		{"sig", ""},
		{"", ""},
		{"enc", "unknown signing key"},
	}
	for _, tt := range tests {
		// No alg member, so keyfunc's alg check cannot be what refuses the token.
		a.AddKeyWith("use-"+tt.use, &key.PublicKey, tt.use, "")
	}
	v := newValidator(t, a.URL, nil)
	waitReady(t, v)
	for _, tt := range tests {
		t.Run("use "+strconv.Quote(tt.use), func(t *testing.T) {
			token := bearertest.Sign(t, key, map[string]any{"alg": "RS256", "kid": "use-" + tt.use, "typ": "at+jwt"}, a.Claims(audience, audience))
			_, err := v.Validate(context.Background(), token)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("got %v, want accepted", err)
			case tt.wantErr != "" && !isDescription(err, tt.wantErr):
				t.Errorf("got %v, want %s", err, tt.wantErr)
			}
		})
	}
}

// refusedAddr returns the address of a port on 127.0.0.1 that nothing listens on any more.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestNotReadyNamesTheCause: while the keys cannot be loaded, tokens get only "signing keys not available", so
// NotReady (and through it /readyz) must say what is wrong with the authority.
func TestNotReadyNamesTheCause(t *testing.T) {
	const timeout = 200 * time.Millisecond
	stall := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	// discoveryDoc serves a discovery document with the given jwks_uri and status.
	discoveryDoc := func(a *bearertest.Authority, status int, jwksURI string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": a.URL, "jwks_uri": jwksURI})
		}
	}
	tests := []struct {
		name string
		// setup plays one failure on a fresh authority and returns the authority to configure.
		setup func(t *testing.T, a *bearertest.Authority) string
		want  []string // each must appear in the reason
	}{
		{"connection refused", func(t *testing.T, _ *bearertest.Authority) string { return "http://" + refusedAddr(t) },
			[]string{"fetching discovery document", "connection refused"}},
		{"authority answers 503", func(_ *testing.T, a *bearertest.Authority) string { a.Down(true); return a.URL },
			[]string{"discovery document http://", "status 503"}},
		{"discovery times out", func(_ *testing.T, a *bearertest.Authority) string {
			a.Override(bearertest.DiscoveryPath, stall)
			return a.URL
		}, []string{"fetching discovery document", "deadline exceeded", "fetch timeout of 200ms"}},
		{"discovery answers 500 with a usable JSON body", func(_ *testing.T, a *bearertest.Authority) string {
			a.Override(bearertest.DiscoveryPath, discoveryDoc(a, http.StatusInternalServerError, a.URL+bearertest.JWKSPath))
			return a.URL
		}, []string{"status 500, want 200"}},
		{"discovery is not JSON", func(_ *testing.T, a *bearertest.Authority) string {
			a.Override(bearertest.DiscoveryPath, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "<html>") })
			return a.URL
		}, []string{"decoding discovery document http://"}},
		{"issuer mismatch", func(_ *testing.T, a *bearertest.Authority) string {
			a.SetIssuer("http://impostor.example")
			return a.URL
		}, []string{`discovery issuer "http://impostor.example" does not match authority "http://127.0.0.1:`}},
		{"relative jwks_uri", func(_ *testing.T, a *bearertest.Authority) string {
			a.Override(bearertest.DiscoveryPath, discoveryDoc(a, http.StatusOK, bearertest.JWKSPath))
			return a.URL
		}, []string{`jwks_uri "/.well-known/openid-configuration/jwks" is not an absolute http(s) URL`}},
		{"scheme-relative jwks_uri", func(_ *testing.T, a *bearertest.Authority) string {
			a.Override(bearertest.DiscoveryPath, discoveryDoc(a, http.StatusOK, "//"+strings.TrimPrefix(a.URL, "http://")+bearertest.JWKSPath))
			return a.URL
		}, []string{"is not an absolute http(s) URL"}},
		{"jwks_uri without host", func(_ *testing.T, a *bearertest.Authority) string {
			a.Override(bearertest.DiscoveryPath, discoveryDoc(a, http.StatusOK, "http://"+bearertest.JWKSPath))
			return a.URL
		}, []string{`jwks_uri "http:///.well-known/openid-configuration/jwks" is not an absolute http(s) URL`}},
		{"ftp jwks_uri", func(_ *testing.T, a *bearertest.Authority) string {
			a.Override(bearertest.DiscoveryPath, discoveryDoc(a, http.StatusOK, "ftp://"+strings.TrimPrefix(a.URL, "http://")+bearertest.JWKSPath))
			return a.URL
		}, []string{`jwks_uri "ftp://`, "is not an absolute http(s) URL"}},
		{"JWKS answers 503", func(_ *testing.T, a *bearertest.Authority) string {
			a.Override(bearertest.JWKSPath, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) })
			return a.URL
		}, []string{"fetching JWKS http://", "503"}},
		{"JWKS times out", func(_ *testing.T, a *bearertest.Authority) string { a.Stall(true); return a.URL },
			[]string{"fetching JWKS http://", "deadline exceeded", "fetch timeout of 200ms"}},
		{"JWKS holds only an encryption key", func(_ *testing.T, a *bearertest.Authority) string {
			a.RemoveKey(a.KID)
			a.AddKeyWith("enc", &a.Key.PublicKey, "enc", "RSA-OAEP")
			return a.URL
		}, []string{"/jwks: JWKS has no usable signing key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := bearertest.NewAuthority(t)
			v := newValidator(t, tt.setup(t, a), func(c *bearer.Config) { c.FetchTimeout = timeout })
			eventually(t, "the first attempt ended", func() bool {
				err := v.NotReady()
				return err == nil || !strings.Contains(err.Error(), "first attempt in progress")
			})
			err := v.NotReady()
			if err == nil {
				t.Fatalf("ready, want not ready with a reason naming %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("reason: got %q, want it to contain %q", err, w)
				}
			}
			if v.Ready() {
				t.Error("Ready: got true while NotReady gives a reason")
			}
		})
	}

	t.Run("nil once ready", func(t *testing.T) {
		a := bearertest.NewAuthority(t)
		v := newValidator(t, a.URL, nil)
		waitReady(t, v)
		if err := v.NotReady(); err != nil {
			t.Errorf("got %v, want nil", err)
		}
	})
}
