package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestKeySurvivesRestart: authserver killed and started again with the same key file keeps its kid, and tokens
// issued before the crash keep working at valuesapi, also while authserver is down.
func TestKeySurvivesRestart(t *testing.T) {
	sys := startSystem(t)
	kidsBefore := jwksKids(t, sys.auth.url)
	oldToken := fetchToken(t, sys.auth.url)
	if status, _ := getValues(t, sys.api.url, oldToken); status != 200 {
		t.Fatalf("got %d for a fresh token, want 200", status)
	}

	sys.auth.kill()
	if status, _ := getValues(t, sys.api.url, oldToken); status != 200 {
		t.Errorf("got %d while authserver is down, want 200: valuesapi must keep the keys it has", status)
	}

	sys.auth = startAuthserver(t, sys.auth.addr, sys.keyFile)
	sys.auth.waitReady(30 * time.Second)
	if kidsAfter := jwksKids(t, sys.auth.url); !slices.Equal(kidsBefore, kidsAfter) {
		t.Errorf("got kids %q after restart, want %q", kidsAfter, kidsBefore)
	}
	if status, _ := getValues(t, sys.api.url, oldToken); status != 200 {
		t.Errorf("got %d for a token issued before the restart, want 200", status)
	}
	if status, _ := getValues(t, sys.api.url, fetchToken(t, sys.auth.url)); status != 200 {
		t.Errorf("got %d for a token issued after the restart, want 200", status)
	}
	sys.auth.stop(15 * time.Second)
	sys.api.stop(15 * time.Second)
}

// TestValuesapiStartsBeforeAuthority: valuesapi started first answers 401 promptly (no hang, no crash), and
// serves a fresh token once authserver comes up 5 s later.
func TestValuesapiStartsBeforeAuthority(t *testing.T) {
	authAddr := freeAddr(t)
	api := startValuesapi(t, freeAddr(t), "http://"+authAddr)
	waitHealthy(t, api)

	if status, _ := getValues(t, api.url, ""); status != 401 {
		t.Errorf("got %d without a token while the authority is down, want 401", status)
	}
	const someToken = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsiLCJ0eXAiOiJhdCtqd3QifQ.eyJzdWIiOiJ4In0.c2ln"
	status, challenge := getValues(t, api.url, someToken)
	if status != 401 || !strings.Contains(challenge, `error="invalid_token"`) {
		t.Errorf("got %d %q with a token while the authority is down, want 401 invalid_token", status, challenge)
	}
	if code := httpStatus(t, api.url+"/readyz"); code != 503 {
		t.Errorf("got /readyz %d before the authority is up, want 503", code)
	}

	time.Sleep(5 * time.Second)
	auth := startAuthserver(t, authAddr, t.TempDir()+"/tempkey.jwk")
	auth.waitReady(30 * time.Second)
	api.waitReady(30 * time.Second)
	if status, challenge := getValues(t, api.url, fetchToken(t, auth.url)); status != 200 {
		t.Errorf("got %d %q for a fresh token once the authority is up, want 200", status, challenge)
	}
	if !api.running() {
		t.Errorf("valuesapi exited: %v", api.exitErr)
	}
}
