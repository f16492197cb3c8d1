package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/tokenbearer/authserver/internal/throttle"
)

// config is the effective server configuration.
type config struct {
	Addr            string
	Issuer          string
	ConfigPath      string // empty: the embedded demo clients and API resources
	KeyFile         string
	TokenLifetime   time.Duration
	ShutdownTimeout time.Duration
	// Budgets of failed client authentications (brute-force protection).
	FailuresPerClient throttle.Limit
	FailuresPerAddr   throttle.Limit
}

// parseConfig reads flags from args and, for every flag not given, its
// environment variable; a flag wins over the environment. It returns
// flag.ErrHelp after printing usage for --help.
func parseConfig(cmd string, args []string, getenv func(string) string, output io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(output)
	env := map[string]string{}
	str := func(p *string, name, envName, def, usage string) {
		env[name] = envName
		fs.StringVar(p, name, def, fmt.Sprintf("%s (env %s)", usage, envName))
	}
	dur := func(p *time.Duration, name, envName string, def time.Duration, usage string) {
		env[name] = envName
		fs.DurationVar(p, name, def, fmt.Sprintf("%s (env %s)", usage, envName))
	}
	float := func(p *float64, name, envName string, def float64, usage string) {
		env[name] = envName
		fs.Float64Var(p, name, def, fmt.Sprintf("%s (env %s)", usage, envName))
	}
	num := func(p *int, name, envName string, def int, usage string) {
		env[name] = envName
		fs.IntVar(p, name, def, fmt.Sprintf("%s (env %s)", usage, envName))
	}
	str(&cfg.Addr, "addr", "AUTHSERVER_ADDR", ":44364", "listen address")
	str(&cfg.Issuer, "issuer", "AUTHSERVER_ISSUER", "http://localhost:44364", "issuer URL put in tokens and discovery; never taken from the Host header")
	str(&cfg.ConfigPath, "config", "AUTHSERVER_CONFIG", "", "YAML file of clients and API resources; empty uses the embedded demo client")
	str(&cfg.KeyFile, "key-file", "AUTHSERVER_KEY_FILE", "tempkey.jwk", "RSA private JWK used to sign tokens; created on first start")
	dur(&cfg.TokenLifetime, "token-lifetime", "AUTHSERVER_TOKEN_LIFETIME", time.Hour, "access token lifetime")
	dur(&cfg.ShutdownTimeout, "shutdown-timeout", "AUTHSERVER_SHUTDOWN_TIMEOUT", 10*time.Second, "time allowed for in-flight requests on shutdown")
	float(&cfg.FailuresPerClient.PerMinute, "auth-failure-rate-per-client", "AUTHSERVER_AUTH_FAILURE_RATE_PER_CLIENT", 10,
		"failed client authentications allowed per minute for one client_id, once its burst is spent")
	num(&cfg.FailuresPerClient.Burst, "auth-failure-burst-per-client", "AUTHSERVER_AUTH_FAILURE_BURST_PER_CLIENT", 10,
		"failed client authentications allowed at once for one client_id")
	float(&cfg.FailuresPerAddr.PerMinute, "auth-failure-rate-per-addr", "AUTHSERVER_AUTH_FAILURE_RATE_PER_ADDR", 30,
		"failed client authentications allowed per minute from one remote address (IPv6: one /64), once its burst is spent")
	num(&cfg.FailuresPerAddr.Burst, "auth-failure-burst-per-addr", "AUTHSERVER_AUTH_FAILURE_BURST_PER_ADDR", 30,
		"failed client authentications allowed at once from one remote address")
	fs.Usage = func() {
		fmt.Fprintf(output, "Usage: %s [flags]\n\nEvery flag can also be set by its environment variable; the flag wins.\n\n", cmd)
		fs.PrintDefaults()
	}

	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		if v := getenv(env[f.Name]); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", env[f.Name], err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return config{}, err
	}
	if err := cfg.validate(); err != nil {
		return config{}, err
	}
	return cfg, nil
}

func (c *config) validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr: %w", err))
	}
	iss, err := normalizeIssuer(c.Issuer)
	if err != nil {
		errs = append(errs, fmt.Errorf("issuer: %w", err))
	}
	c.Issuer = iss
	if c.KeyFile == "" {
		errs = append(errs, errors.New("key-file: must not be empty"))
	}
	if c.TokenLifetime < time.Second || c.TokenLifetime%time.Second != 0 {
		errs = append(errs, fmt.Errorf("token-lifetime: %v must be a whole number of seconds, at least 1s", c.TokenLifetime))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("shutdown-timeout: must be positive"))
	}
	for _, l := range []struct {
		name  string
		limit throttle.Limit
	}{{"per-client", c.FailuresPerClient}, {"per-addr", c.FailuresPerAddr}} {
		if !(l.limit.PerMinute > 0) || math.IsInf(l.limit.PerMinute, 0) {
			errs = append(errs, fmt.Errorf("auth-failure-rate-%s: %v must be a positive number", l.name, l.limit.PerMinute))
		}
		if l.limit.Burst < 1 {
			errs = append(errs, fmt.Errorf("auth-failure-burst-%s: %d must be at least 1", l.name, l.limit.Burst))
		}
	}
	return errors.Join(errs...)
}

// normalizeIssuer checks the issuer is an absolute http(s) URL without
// query or fragment (RFC 8414 2) and drops trailing slashes so that
// "{issuer}/connect/token" is well formed.
func normalizeIssuer(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("%q must be an http or https URL", s)
	case u.Host == "":
		return "", fmt.Errorf("%q has no host", s)
	case u.User != nil:
		return "", fmt.Errorf("%q must not contain user info", s)
	case u.RawQuery != "" || u.ForceQuery:
		return "", fmt.Errorf("%q must not have a query", s)
	case u.Fragment != "" || strings.Contains(s, "#"):
		return "", fmt.Errorf("%q must not have a fragment", s)
	}
	return strings.TrimRight(s, "/"), nil
}

// logAttrs lists the effective settings; none of them is secret.
func (c config) logAttrs() []any {
	source := c.ConfigPath
	if source == "" {
		source = "embedded demo"
	}
	return []any{
		slog.String("addr", c.Addr),
		slog.String("issuer", c.Issuer),
		slog.String("config", source),
		slog.String("key_file", c.KeyFile),
		slog.Duration("token_lifetime", c.TokenLifetime),
		slog.Duration("shutdown_timeout", c.ShutdownTimeout),
		slog.Float64("auth_failure_rate_per_client", c.FailuresPerClient.PerMinute),
		slog.Int("auth_failure_burst_per_client", c.FailuresPerClient.Burst),
		slog.Float64("auth_failure_rate_per_addr", c.FailuresPerAddr.PerMinute),
		slog.Int("auth_failure_burst_per_addr", c.FailuresPerAddr.Burst),
	}
}
