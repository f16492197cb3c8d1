package main

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/tokenbearer/authserver/internal/throttle"
)

func envFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseConfigDefaults(t *testing.T) {
	cfg, err := parseConfig(nil, envFrom(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	want := config{
		Addr: ":44364", Issuer: "http://localhost:44364", ConfigPath: "", KeyFile: "tempkey.jwk", SigningAlg: "RS256",
		TokenLifetime: time.Hour, ShutdownTimeout: 10 * time.Second,
		FailuresPerClient: throttle.Limit{PerMinute: 10, Burst: 10},
		FailuresPerAddr:   throttle.Limit{PerMinute: 30, Burst: 30},
		KeyAnnounce:       14 * 24 * time.Hour, KeyRotation: 90 * 24 * time.Hour, KeyRetain: 14 * 24 * time.Hour, KeyReload: 30 * time.Second,
	}
	if cfg != want {
		t.Errorf("defaults = %+v, want %+v", cfg, want)
	}
}

func TestParseConfigPrecedence(t *testing.T) {
	env := map[string]string{
		"AUTHSERVER_ADDR":             "127.0.0.1:1",
		"AUTHSERVER_ISSUER":           "https://env.example",
		"AUTHSERVER_CONFIG":           "env.yaml",
		"AUTHSERVER_KEY_FILE":         "env.jwk",
		"AUTHSERVER_SIGNING_ALG":      "ES256",
		"AUTHSERVER_TOKEN_LIFETIME":   "5m",
		"AUTHSERVER_SHUTDOWN_TIMEOUT": "3s",

		"AUTHSERVER_AUTH_FAILURE_RATE_PER_CLIENT":  "0.5",
		"AUTHSERVER_AUTH_FAILURE_BURST_PER_CLIENT": "2",
		"AUTHSERVER_AUTH_FAILURE_RATE_PER_ADDR":    "7",
		"AUTHSERVER_AUTH_FAILURE_BURST_PER_ADDR":   "8",
	}
	envClient, envAddr := throttle.Limit{PerMinute: 0.5, Burst: 2}, throttle.Limit{PerMinute: 7, Burst: 8}
	tests := []struct {
		name string
		args []string
		want config
	}{
		{
			name: "env only",
			want: config{Addr: "127.0.0.1:1", Issuer: "https://env.example", ConfigPath: "env.yaml", KeyFile: "env.jwk", SigningAlg: "ES256", TokenLifetime: 5 * time.Minute, ShutdownTimeout: 3 * time.Second,
				FailuresPerClient: envClient, FailuresPerAddr: envAddr},
		},
		{
			name: "flags win over env",
			args: []string{"--addr", "127.0.0.1:2", "--issuer=https://flag.example/", "--config", "flag.yaml", "--key-file", "flag.jwk", "--signing-alg", "EdDSA", "--token-lifetime", "30s", "--shutdown-timeout", "1s",
				"--auth-failure-rate-per-client", "1", "--auth-failure-burst-per-client", "3", "--auth-failure-rate-per-addr", "60", "--auth-failure-burst-per-addr", "100"},
			want: config{Addr: "127.0.0.1:2", Issuer: "https://flag.example", ConfigPath: "flag.yaml", KeyFile: "flag.jwk", SigningAlg: "EdDSA", TokenLifetime: 30 * time.Second, ShutdownTimeout: time.Second,
				FailuresPerClient: throttle.Limit{PerMinute: 1, Burst: 3}, FailuresPerAddr: throttle.Limit{PerMinute: 60, Burst: 100}},
		},
		{
			name: "one flag, rest from env",
			args: []string{"-token-lifetime", "2h"},
			want: config{Addr: "127.0.0.1:1", Issuer: "https://env.example", ConfigPath: "env.yaml", KeyFile: "env.jwk", SigningAlg: "ES256", TokenLifetime: 2 * time.Hour, ShutdownTimeout: 3 * time.Second,
				FailuresPerClient: envClient, FailuresPerAddr: envAddr},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConfig(tt.args, envFrom(env), &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			tt.want.KeyAnnounce, tt.want.KeyRotation, tt.want.KeyRetain, tt.want.KeyReload = defaultKeyAnnounce, defaultKeyRotation, defaultKeyRetain, defaultKeyReload
			if got != tt.want {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{"bad env duration names the variable", nil, map[string]string{"AUTHSERVER_TOKEN_LIFETIME": "soon"}, "AUTHSERVER_TOKEN_LIFETIME"},
		{"bad flag duration", []string{"--token-lifetime", "soon"}, nil, "invalid value"},
		{"unknown flag", []string{"--nope"}, nil, "flag provided but not defined"},
		{"positional argument", []string{"--addr", ":1", "extra"}, nil, "unexpected arguments"},
		{"addr without port", []string{"--addr", "localhost"}, nil, "addr"},
		{"relative issuer", []string{"--issuer", "/auth"}, nil, "http or https"},
		{"issuer without host", []string{"--issuer", "http://"}, nil, "no host"},
		{"ftp issuer", []string{"--issuer", "ftp://as.example"}, nil, "http or https"},
		{"issuer with query", []string{"--issuer", "https://as.example/?tenant=1"}, nil, "query"},
		{"issuer with empty query", []string{"--issuer", "https://as.example?"}, nil, "query"},
		{"issuer with fragment", []string{"--issuer", "https://as.example#x"}, nil, "fragment"},
		{"issuer with user info", []string{"--issuer", "https://u:p@as.example"}, nil, "user info"},
		{"zero lifetime", []string{"--token-lifetime", "0s"}, nil, "token-lifetime"},
		{"fractional lifetime", []string{"--token-lifetime", "1500ms"}, nil, "whole number of seconds"},
		{"zero shutdown timeout", []string{"--shutdown-timeout", "0s"}, nil, "shutdown-timeout"},
		{"empty key file", []string{"--key-file", ""}, nil, "key-file"},
		// JWS alg names are case-sensitive (RFC 7515 4.1.1); HS256 has no key pair, none no signature.
		{"signing alg in lower case", []string{"--signing-alg", "rs256"}, nil, `signing-alg: "rs256" is not one of RS256, PS256, ES256, EdDSA`},
		{"HMAC signing alg", nil, map[string]string{"AUTHSERVER_SIGNING_ALG": "HS256"}, `signing-alg: "HS256"`},
		{"signing alg none", []string{"--signing-alg", "none"}, nil, `signing-alg: "none"`},
		{"empty signing alg", []string{"--signing-alg", ""}, nil, `signing-alg: ""`},
		{"ES384 not offered", []string{"--signing-alg", "ES384"}, nil, `signing-alg: "ES384"`},
		{"zero client failure rate", []string{"--auth-failure-rate-per-client", "0"}, nil, "auth-failure-rate-per-client"},
		{"negative addr failure rate", []string{"--auth-failure-rate-per-addr", "-1"}, nil, "auth-failure-rate-per-addr"},
		{"NaN failure rate", nil, map[string]string{"AUTHSERVER_AUTH_FAILURE_RATE_PER_ADDR": "NaN"}, "auth-failure-rate-per-addr"},
		{"infinite failure rate", []string{"--auth-failure-rate-per-client", "+Inf"}, nil, "auth-failure-rate-per-client"},
		{"zero client burst", []string{"--auth-failure-burst-per-client", "0"}, nil, "auth-failure-burst-per-client"},
		{"bad env burst names the variable", nil, map[string]string{"AUTHSERVER_AUTH_FAILURE_BURST_PER_ADDR": "many"}, "AUTHSERVER_AUTH_FAILURE_BURST_PER_ADDR"},
		{"certificate without key", []string{"--tls-cert", "tls.crt"}, nil, "tls-cert, tls-key: give both"},
		{"key without certificate", nil, map[string]string{"AUTHSERVER_TLS_KEY": "tls.key"}, "tls-cert, tls-key: give both"},
		{"client CA without TLS", []string{"--client-ca", "ca.crt"}, nil, "client-ca: needs --tls-cert"},
		{"client CA from env without TLS", nil, map[string]string{"AUTHSERVER_CLIENT_CA": "ca.crt"}, "client-ca: needs --tls-cert"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig(tt.args, envFrom(tt.env), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want containing %q", err, tt.wantErr)
			}
		})
	}
}

// With TLS on the default issuer is the article's https://localhost:44364; a configured one stays as given.
func TestParseConfigTLS(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantIssuer string
	}{
		{"TLS, no issuer: https", []string{"--tls-cert", "c", "--tls-key", "k"}, nil, "https://localhost:44364"},
		{"TLS from env, no issuer: https", nil, map[string]string{"AUTHSERVER_TLS_CERT": "c", "AUTHSERVER_TLS_KEY": "k"}, "https://localhost:44364"},
		{"TLS, issuer given", []string{"--tls-cert", "c", "--tls-key", "k", "--issuer", "https://as.example"}, nil, "https://as.example"},
		{"TLS, issuer in env (a proxy in front, say)", []string{"--tls-cert", "c", "--tls-key", "k"}, map[string]string{"AUTHSERVER_ISSUER": "http://inner:1"}, "http://inner:1"},
		{"TLS with a client CA", []string{"--tls-cert", "c", "--tls-key", "k", "--client-ca", "ca.crt"}, nil, "https://localhost:44364"},
		{"no TLS: http", nil, nil, "http://localhost:44364"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseConfig(tt.args, envFrom(tt.env), &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Issuer != tt.wantIssuer {
				t.Errorf("issuer: got %q, want %q", cfg.Issuer, tt.wantIssuer)
			}
		})
	}
}

func TestIssuerNormalization(t *testing.T) {
	for in, want := range map[string]string{
		"http://localhost:44364":    "http://localhost:44364",
		"http://localhost:44364/":   "http://localhost:44364",
		"https://as.example/auth/":  "https://as.example/auth",
		"https://as.example/auth//": "https://as.example/auth",
	} {
		got, err := normalizeIssuer(in)
		if err != nil || got != want {
			t.Errorf("normalizeIssuer(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestHelpListsFlagsWithEnvAndDefaults(t *testing.T) {
	var out bytes.Buffer
	_, err := parseConfig([]string{"--help"}, envFrom(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("error = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{
		"-addr", "AUTHSERVER_ADDR", `":44364"`,
		"-issuer", "AUTHSERVER_ISSUER", "http://localhost:44364",
		"-config", "AUTHSERVER_CONFIG",
		"-key-file", "AUTHSERVER_KEY_FILE", "tempkey.jwk",
		"-signing-alg", "AUTHSERVER_SIGNING_ALG", `default "RS256"`, "RS256, PS256, ES256, EdDSA",
		"-token-lifetime", "AUTHSERVER_TOKEN_LIFETIME", "1h0m0s",
		"-shutdown-timeout", "AUTHSERVER_SHUTDOWN_TIMEOUT", "10s",
		"-auth-failure-rate-per-client", "AUTHSERVER_AUTH_FAILURE_RATE_PER_CLIENT", `default "10"`,
		"-auth-failure-burst-per-client", "AUTHSERVER_AUTH_FAILURE_BURST_PER_CLIENT",
		"-auth-failure-rate-per-addr", "AUTHSERVER_AUTH_FAILURE_RATE_PER_ADDR", `default "30"`,
		"-auth-failure-burst-per-addr", "AUTHSERVER_AUTH_FAILURE_BURST_PER_ADDR",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
}
