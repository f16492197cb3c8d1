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
				c.Scope == "auth.web.api" && slices.Equal(c.Algorithms, []string{"RS256", "PS256", "ES256", "EdDSA"}) && c.Leeway == 30*time.Second &&
				c.JWKSRefreshInterval == 5*time.Minute && c.JWKSUnknownKIDInterval == 5*time.Second &&
				c.JWKSTimeout == 2*time.Second && c.TokenCacheSize == 10000 && c.ShutdownTimeout == 10*time.Second
		}, ""},
		{"env used", nil, map[string]string{"VALUESAPI_AUTHORITY": "http://as:1", "VALUESAPI_LEEWAY": "5s", "VALUESAPI_ALGORITHMS": "RS256, PS256"},
			func(c config) bool {
				return c.Authority == "http://as:1" && c.Leeway == 5*time.Second && slices.Equal(c.Algorithms, []string{"RS256", "PS256"})
			}, ""},
		{"flag wins over env", []string{"--audience", "flag.api"}, map[string]string{"VALUESAPI_AUDIENCE": "env.api"},
			func(c config) bool { return c.Audience == "flag.api" }, ""},
		{"bad env duration names the variable", nil, map[string]string{"VALUESAPI_JWKS_TIMEOUT": "soon"}, nil, "VALUESAPI_JWKS_TIMEOUT"},
		{"token cache size from env", nil, map[string]string{"VALUESAPI_TOKEN_CACHE_SIZE": "500"},
			func(c config) bool { return c.TokenCacheSize == 500 }, ""},
		{"token cache off from env", nil, map[string]string{"VALUESAPI_TOKEN_CACHE_SIZE": "0"},
			func(c config) bool { return c.TokenCacheSize == 0 }, ""},
		{"token cache size flag wins over env", []string{"--token-cache-size", "7"}, map[string]string{"VALUESAPI_TOKEN_CACHE_SIZE": "500"},
			func(c config) bool { return c.TokenCacheSize == 7 }, ""},
		{"negative token cache size refused", []string{"--token-cache-size", "-1"}, nil, nil, "--token-cache-size"},
		{"bad env token cache size names the variable", nil, map[string]string{"VALUESAPI_TOKEN_CACHE_SIZE": "many"}, nil, "VALUESAPI_TOKEN_CACHE_SIZE"},
		{"scope with space refused", []string{"--scope", "a b"}, nil, nil, "scope"},
		{"scope with quote refused", []string{"--scope", `a"b`}, nil, nil, "scope"},
		{"empty scope refused", []string{"--scope", ""}, nil, nil, "scope"},
		{"stray argument", []string{"--addr", ":1", "extra"}, nil, nil, "unexpected argument"},
		{"TLS and trust from env", nil, map[string]string{"VALUESAPI_TLS_CERT": "c.pem", "VALUESAPI_TLS_KEY": "k.pem",
			"VALUESAPI_AUTHORITY_CA": "ca.pem", "VALUESAPI_ALLOW_INSECURE_AUTHORITY": "true"},
			func(c config) bool {
				return c.TLSCert == "c.pem" && c.TLSKey == "k.pem" && c.AuthorityCA == "ca.pem" && c.AllowInsecureAuthority
			}, ""},
		{"TLS off and insecure authority refused by default", nil, nil,
			func(c config) bool {
				return c.TLSCert == "" && c.TLSKey == "" && c.AuthorityCA == "" && !c.AllowInsecureAuthority
			}, ""},
		{"bad env bool names the variable", nil, map[string]string{"VALUESAPI_ALLOW_INSECURE_AUTHORITY": "maybe"}, nil, "VALUESAPI_ALLOW_INSECURE_AUTHORITY"},
		{"tls-cert without tls-key", []string{"--tls-cert", "c.pem"}, nil, nil, "--tls-key"},
		{"tls-key without tls-cert", nil, map[string]string{"VALUESAPI_TLS_KEY": "k.pem"}, nil, "--tls-cert"},
		// Like authserver's issuer: with TLS on, the article's authority is https too.
		{"TLS makes the default authority https", []string{"--tls-cert", "c.pem", "--tls-key", "k.pem"}, nil,
			func(c config) bool { return c.Authority == "https://localhost:44364" }, ""},
		{"TLS keeps an authority given by flag", []string{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--authority", "http://localhost:1"}, nil,
			func(c config) bool { return c.Authority == "http://localhost:1" }, ""},
		{"TLS keeps an authority given by env", []string{"--tls-cert", "c.pem", "--tls-key", "k.pem"}, map[string]string{"VALUESAPI_AUTHORITY": "http://127.0.0.1:2"},
			func(c config) bool { return c.Authority == "http://127.0.0.1:2" }, ""},
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

// serveFlags pairs every serve flag with its variable, as the help must list them.
var serveFlags = []struct{ flag, env string }{
	{"addr", "VALUESAPI_ADDR"},
	{"authority", "VALUESAPI_AUTHORITY"},
	{"audience", "VALUESAPI_AUDIENCE"},
	{"scope", "VALUESAPI_SCOPE"},
	{"algorithms", "VALUESAPI_ALGORITHMS"},
	{"leeway", "VALUESAPI_LEEWAY"},
	{"jwks-refresh-interval", "VALUESAPI_JWKS_REFRESH_INTERVAL"},
	{"jwks-unknown-kid-interval", "VALUESAPI_JWKS_UNKNOWN_KID_INTERVAL"},
	{"jwks-timeout", "VALUESAPI_JWKS_TIMEOUT"},
	{"token-cache-size", "VALUESAPI_TOKEN_CACHE_SIZE"},
	{"shutdown-timeout", "VALUESAPI_SHUTDOWN_TIMEOUT"},
	{"tls-cert", "VALUESAPI_TLS_CERT"},
	{"tls-key", "VALUESAPI_TLS_KEY"},
	{"authority-ca", "VALUESAPI_AUTHORITY_CA"},
	{"allow-insecure-authority", "VALUESAPI_ALLOW_INSECURE_AUTHORITY"},
}

func TestHelp(t *testing.T) {
	var serveWant []string
	for _, f := range serveFlags {
		// A flag without a default (an empty path) ends its line at the variable.
		serveWant = append(serveWant, "\n  --"+f.flag, "(env "+f.env)
	}
	tests := []struct {
		name         string
		args         []string
		want, refuse []string
	}{
		{"top level lists the commands and the serve flags", []string{"valuesapi", "--help"},
			append([]string{"Usage: valuesapi [command] [flags]\n", "\nCommands:\n", "  serve ", "(the default)", "  healthcheck "}, serveWant...), nil},
		{"serve is the same help", []string{"valuesapi", "serve", "-h"}, append([]string{"Commands:"}, serveWant...), nil},
		{"help alone is the top-level help", []string{"valuesapi", "help"}, append([]string{"Commands:", "  help "}, serveWant...), nil},
		{"healthcheck has only --addr and --tls-cert", []string{"valuesapi", "healthcheck", "--help"},
			[]string{"Usage: valuesapi healthcheck [flags]\n", "\n  --addr address\n", `(env VALUESAPI_ADDR, default ":44324")`,
				"\n  --tls-cert file\n", "(env VALUESAPI_TLS_CERT)", "over HTTPS when --tls-cert is set"},
			[]string{"--authority", "--scope", "--tls-key", "Commands:"}},
		{"help healthcheck is the healthcheck's help", []string{"valuesapi", "help", "healthcheck"},
			[]string{"Usage: valuesapi healthcheck [flags]\n", "\n  --addr address\n"}, []string{"--authority"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := run(context.Background(), tt.args, func(string) string { return "" }, io.Discard, &out); err != nil {
				t.Fatalf("got %v, want nil", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("help lacks %q:\n%s", w, out.String())
				}
			}
			for _, r := range tt.refuse {
				if strings.Contains(out.String(), r) {
					t.Errorf("help has %q, which is not this command's:\n%s", r, out.String())
				}
			}
		})
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
		"--token-cache-size", "19", "--allow-insecure-authority",
	}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	got := cfg.bearerConfig(logger)
	if got.Authority != "http://as:1" || got.Audience != "api.x" || !slices.Equal(got.Algorithms, []string{"PS256", "ES256"}) ||
		got.Leeway != 7*time.Second || got.RefreshInterval != 11*time.Second || got.UnknownKIDInterval != 13*time.Second ||
		got.FetchTimeout != 17*time.Second || got.TokenCacheSize != 19 || got.Logger != logger || got.Realm != "valuesapi" ||
		!got.AllowInsecureAuthority {
		t.Errorf("got %+v", got)
	}
}

// TestTokenCacheSizeReachesBearer: --token-cache-size 0 means off, which bearer.Config spells as a negative size
// (its zero is the default).
func TestTokenCacheSizeReachesBearer(t *testing.T) {
	for _, tt := range []struct {
		flag string
		want int
	}{
		{"0", -1},
		{"1", 1},
		{"10000", 10000},
	} {
		t.Run(tt.flag, func(t *testing.T) {
			cfg, err := parseConfig("valuesapi", []string{"--token-cache-size", tt.flag}, func(string) string { return "" }, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.bearerConfig(slog.New(slog.DiscardHandler)).TokenCacheSize; got != tt.want {
				t.Errorf("bearer TokenCacheSize: got %d, want %d", got, tt.want)
			}
		})
	}
}

// TestConfigLogValue: the start-up log line shows every setting, the token cache size among them.
func TestConfigLogValue(t *testing.T) {
	cfg, err := parseConfig("valuesapi", []string{"--token-cache-size", "0", "--tls-cert", "c.pem", "--tls-key", "k.pem", "--authority-ca", "ca.pem"},
		func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	slog.New(slog.NewTextHandler(&out, nil)).Info("starting", "config", cfg)
	for _, want := range []string{"config.addr=:44324", "config.jwks_timeout=2s", "config.token_cache_size=0", "config.shutdown_timeout=10s",
		"config.tls_cert=c.pem", "config.tls_key=k.pem", "config.authority_ca=ca.pem", "config.allow_insecure_authority=false"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("log line lacks %q:\n%s", want, out.String())
		}
	}
}
