package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(config) bool
		wantErr string
	}{
		{"defaults", nil, nil, func(c config) bool {
			return c.Addr == ":44324" && c.Authority == "http://localhost:44364" && c.Audience == "auth.web.api" &&
				c.Scope == "auth.web.api" && slices.Equal(c.Algorithms, []string{"RS256"}) && c.Leeway == 30*time.Second &&
				c.JWKSRefreshInterval == 5*time.Minute && c.JWKSUnknownKIDInterval == 5*time.Second &&
				c.JWKSTimeout == 2*time.Second && c.ShutdownTimeout == 10*time.Second
		}, ""},
		{"env used", nil, map[string]string{"VALUESAPI_AUTHORITY": "http://as:1", "VALUESAPI_LEEWAY": "5s", "VALUESAPI_ALGORITHMS": "RS256, PS256"},
			func(c config) bool {
				return c.Authority == "http://as:1" && c.Leeway == 5*time.Second && slices.Equal(c.Algorithms, []string{"RS256", "PS256"})
			}, ""},
		{"flag wins over env", []string{"--audience", "flag.api"}, map[string]string{"VALUESAPI_AUDIENCE": "env.api"},
			func(c config) bool { return c.Audience == "flag.api" }, ""},
		{"bad env duration names the variable", nil, map[string]string{"VALUESAPI_JWKS_TIMEOUT": "soon"}, nil, "VALUESAPI_JWKS_TIMEOUT"},
		{"scope with space refused", []string{"--scope", "a b"}, nil, nil, "scope"},
		{"scope with quote refused", []string{"--scope", `a"b`}, nil, nil, "scope"},
		{"empty scope refused", []string{"--scope", ""}, nil, nil, "scope"},
		{"stray argument", []string{"--addr", ":1", "extra"}, nil, nil, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseConfig("valuesapi", tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if !tt.check(cfg) {
				t.Errorf("unexpected config %+v", cfg)
			}
		})
	}
}

func TestHelpListsFlagsAndEnv(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"valuesapi", "--help"}, func(string) string { return "" }, io.Discard, &out); err != nil {
		t.Fatalf("--help: got %v, want nil", err)
	}
	for _, fe := range flagEnv {
		if !strings.Contains(out.String(), "--"+fe.flag+" (env "+fe.env+", default ") {
			t.Errorf("help lacks --%s / %s:\n%s", fe.flag, fe.env, out.String())
		}
	}
}

func TestRunRefusesUnsafeConfig(t *testing.T) {
	for _, args := range [][]string{
		{"valuesapi", "--algorithms", "RS256,HS256"},
		{"valuesapi", "--algorithms", "none"},
		{"valuesapi", "--authority", "localhost:44364"},
		{"valuesapi", "bogus"},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // if run got as far as serving, it would stop at once and return nil
		if err := run(ctx, args, func(string) string { return "" }, io.Discard, io.Discard); err == nil {
			t.Errorf("run %q: got nil, want error", args[1:])
		}
	}
}

// TestBearerConfigFollowsFlags: every token-validation flag reaches the validator's config, each to its own field.
func TestBearerConfigFollowsFlags(t *testing.T) {
	cfg, err := parseConfig("valuesapi", []string{
		"--authority", "http://as:1", "--audience", "api.x", "--algorithms", "PS256,ES256", "--leeway", "7s",
		"--jwks-refresh-interval", "11s", "--jwks-unknown-kid-interval", "13s", "--jwks-timeout", "17s",
	}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	got := cfg.bearerConfig(logger)
	if got.Authority != "http://as:1" || got.Audience != "api.x" || !slices.Equal(got.Algorithms, []string{"PS256", "ES256"}) ||
		got.Leeway != 7*time.Second || got.RefreshInterval != 11*time.Second || got.UnknownKIDInterval != 13*time.Second ||
		got.FetchTimeout != 17*time.Second || got.Logger != logger || got.Realm != "valuesapi" {
		t.Errorf("got %+v", got)
	}
}
