package e2e

import (
	"strings"
	"testing"
	"time"
)

// faultySystem is authserver behind a fault-injecting proxy, and valuesapi trusting the proxy's URL.
type faultySystem struct {
	auth, api *service
	proxy     *faultProxy
}

func startFaultySystem(t *testing.T, initial jwksFault) *faultySystem {
	t.Helper()
	authAddr, proxyAddr := freeAddr(t), freeAddr(t)
	fs := &faultySystem{proxy: startFaultProxy(t, proxyAddr, "http://"+authAddr)}
	fs.proxy.set(initial)
	fs.auth = startAuthserver(t, authAddr, t.TempDir()+"/tempkey.jwk", "--issuer", fs.proxy.url)
	fs.api = startValuesapi(t, freeAddr(t), fs.proxy.url,
		"--jwks-refresh-interval", "1s", "--jwks-unknown-kid-interval", "1s", "--jwks-timeout", "1s")
	fs.auth.waitReady(30 * time.Second)
	fs.api.waitReady(30 * time.Second)
	return fs
}

// wantStatus calls the API with the token and fails the test unless the status is want.
func wantStatus(t *testing.T, apiURL, token string, want int, what string) {
	t.Helper()
	if got, challenge := getValues(t, apiURL, token); got != want {
		t.Errorf("%s: got %d (%s), want %d", what, got, challenge, want)
	}
}

// TestJWKSFaults: whatever the JWKS endpoint does wrong, tokens signed with known keys keep working, an
// unknown kid is refused within its deadline, and the old keys stay until a valid set replaces them.
func TestJWKSFaults(t *testing.T) {
	fs := startFaultySystem(t, passThrough)
	token := fetchToken(t, fs.auth.url)
	wantStatus(t, fs.api.url, token, 200, "warm-up")

	for _, tc := range []struct {
		name  string
		fault jwksFault
	}{
		{"500", status500},
		{"HTML", htmlPage},
		{"truncated JSON", truncatedJSON},
		{`{"keys":"x"}`, keysNotAList},
		{`{"keys":[]}`, emptyKeySet},
		{"stall 30s", stall},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs.proxy.set(tc.fault)
			defer fs.proxy.set(passThrough)
			hits := fs.proxy.jwksHits.Load()

			// An unknown kid makes valuesapi ask for the keys; the answer must come within the request
			// deadline (the client below gives up after 10 s; valuesapi's fetch timeout is 1 s).
			status, challenge := getValues(t, fs.api.url, forgeToken(t, fs.proxy.url, "unknown-"+tc.name))
			if status != 401 || !strings.Contains(challenge, `error="invalid_token"`) {
				t.Errorf("unknown kid: got %d %q, want 401 invalid_token", status, challenge)
			}
			// Periodic refreshes (every 1 s) hit the fault while known-kid traffic goes on.
			for range 6 {
				wantStatus(t, fs.api.url, token, 200, "known kid during the fault")
				time.Sleep(250 * time.Millisecond)
			}
			if fs.proxy.jwksHits.Load() == hits {
				t.Fatal("valuesapi never fetched the JWKS during the fault; the test proved nothing")
			}
		})
	}

	t.Run("a valid set replaces the old keys", func(t *testing.T) {
		fs.auth.stop(15 * time.Second)
		fs.auth = startAuthserver(t, fs.auth.addr, t.TempDir()+"/rotated.jwk", "--issuer", fs.proxy.url)
		fs.auth.waitReady(30 * time.Second)
		newToken := fetchToken(t, fs.auth.url)
		wantStatus(t, fs.api.url, newToken, 200, "token signed with the new key (unknown-kid refresh)")
		wantStatus(t, fs.api.url, token, 401, "token signed with a key no longer published")
	})
}

// TestJWKSWithUnparsableKeys: keys of a type the library cannot use, next to the real key, do not stop
// validation.
func TestJWKSWithUnparsableKeys(t *testing.T) {
	fs := startFaultySystem(t, extraUnparsableKey)
	wantStatus(t, fs.api.url, fetchToken(t, fs.auth.url), 200, "real key next to unparsable ones")
}

// TestAuthserverKilledAfterWarmup: with the authority gone, known keys keep working and the refresh failures
// are logged without flooding the log.
func TestAuthserverKilledAfterWarmup(t *testing.T) {
	sys := startSystem(t, "--jwks-refresh-interval", "1s")
	token := fetchToken(t, sys.auth.url)
	wantStatus(t, sys.api.url, token, 200, "warm-up")
	sys.auth.kill()
	logStart := len(sys.api.logs.String())

	const requests = 100
	for i := range requests {
		wantStatus(t, sys.api.url, token, 200, "known kid with authserver down")
		if i%10 == 0 {
			wantStatus(t, sys.api.url, forgeToken(t, sys.auth.url, "unknown"), 401, "unknown kid with authserver down")
		}
		time.Sleep(20 * time.Millisecond)
	}
	logs := sys.api.logs.String()[logStart:]
	var failures int
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			failures++
		}
	}
	if failures == 0 {
		t.Error("valuesapi logged no refresh failure while authserver was down")
	}
	if failures > 10 {
		t.Errorf("valuesapi logged %d warnings for %d requests over ~2 s, want at most 10:\n%s", failures, requests, logs)
	}
}
