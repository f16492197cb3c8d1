package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRunFailsWhenTheAPIIsOpen: an API that answers without a token is not the article's, so run returns an
// error (and main exits non-zero).
func TestRunFailsWhenTheAPIIsOpen(t *testing.T) {
	open := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`["value1","value2"]`))
	}))
	defer open.Close()
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"walkthrough", "--api", open.URL, "--authority", open.URL}, noEnv, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "step 1") {
		t.Fatalf("got %v, want a step 1 failure", err)
	}
	if !strings.Contains(out.String(), "FAILED") {
		t.Errorf("narration does not say the step failed:\n%s", out.String())
	}
}

func TestFlagsAndEnvironment(t *testing.T) {
	env := map[string]string{"WALKTHROUGH_CLIENT_ID": "FromEnv", "WALKTHROUGH_SCOPE": "from.env"}
	cfg, err := parseFlags([]string{"walkthrough", "--scope", "from.flag"}, func(k string) string { return env[k] }, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.clientID != "FromEnv" || cfg.scope != "from.flag" || cfg.authority != "http://localhost:44364" {
		t.Errorf("got client %q scope %q authority %q; want env, flag over env, and the default", cfg.clientID, cfg.scope, cfg.authority)
	}
	if _, err := parseFlags([]string{"walkthrough", "stray"}, noEnv, &bytes.Buffer{}); err == nil {
		t.Error("a stray argument was accepted")
	}
}

func noEnv(string) string { return "" }
