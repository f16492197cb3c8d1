package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"
)

// config is the effective server configuration.
type config struct {
	Addr            string
	Issuer          string
	ConfigPath      string // empty: the embedded demo clients and API resources
	KeyFile         string
	TokenLifetime   time.Duration
	ShutdownTimeout time.Duration
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
	str(&cfg.Addr, "addr", "AUTHSERVER_ADDR", ":44364", "listen address")
	str(&cfg.Issuer, "issuer", "AUTHSERVER_ISSUER", "http://localhost:44364", "issuer URL put in tokens and discovery; never taken from the Host header")
	str(&cfg.ConfigPath, "config", "AUTHSERVER_CONFIG", "", "YAML file of clients and API resources; empty uses the embedded demo client")
	str(&cfg.KeyFile, "key-file", "AUTHSERVER_KEY_FILE", "tempkey.jwk", "RSA private JWK used to sign tokens; created on first start")
	dur(&cfg.TokenLifetime, "token-lifetime", "AUTHSERVER_TOKEN_LIFETIME", time.Hour, "access token lifetime")
	dur(&cfg.ShutdownTimeout, "shutdown-timeout", "AUTHSERVER_SHUTDOWN_TIMEOUT", 10*time.Second, "time allowed for in-flight requests on shutdown")
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
	}
}
