package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/tokenbearer/valuesapi/bearer"
)

// config is the whole effective configuration of the service.
type config struct {
	Addr                   string
	Authority              string
	Audience               string
	Scope                  string
	Algorithms             []string
	Leeway                 time.Duration
	JWKSRefreshInterval    time.Duration
	JWKSUnknownKIDInterval time.Duration
	JWKSTimeout            time.Duration
	ShutdownTimeout        time.Duration
}

// flagEnv pairs each flag with its environment variable; the flag wins when both are set.
var flagEnv = []struct{ flag, env string }{
	{"addr", "VALUESAPI_ADDR"},
	{"authority", "VALUESAPI_AUTHORITY"},
	{"audience", "VALUESAPI_AUDIENCE"},
	{"scope", "VALUESAPI_SCOPE"},
	{"algorithms", "VALUESAPI_ALGORITHMS"},
	{"leeway", "VALUESAPI_LEEWAY"},
	{"jwks-refresh-interval", "VALUESAPI_JWKS_REFRESH_INTERVAL"},
	{"jwks-unknown-kid-interval", "VALUESAPI_JWKS_UNKNOWN_KID_INTERVAL"},
	{"jwks-timeout", "VALUESAPI_JWKS_TIMEOUT"},
	{"shutdown-timeout", "VALUESAPI_SHUTDOWN_TIMEOUT"},
}

// parseConfig reads flags from args (without the program name or subcommand), then fills every flag that was not
// given from its environment variable. It returns flag.ErrHelp after printing usage for -h/--help.
func parseConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	cfg := config{}
	algorithms := "RS256"
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Addr, "addr", ":44324", "listen address")
	fs.StringVar(&cfg.Authority, "authority", "http://localhost:44364", "issuer URL of the authorization server (discovery is fetched from it)")
	fs.StringVar(&cfg.Audience, "audience", "auth.web.api", "audience tokens must contain")
	fs.StringVar(&cfg.Scope, "scope", "auth.web.api", "scope required by GET /api/values")
	fs.StringVar(&algorithms, "algorithms", algorithms, "comma-separated JWS algorithms accepted (asymmetric only; HS* and none are refused)")
	fs.DurationVar(&cfg.Leeway, "leeway", 30*time.Second, "clock skew tolerated for exp, nbf and iat")
	fs.DurationVar(&cfg.JWKSRefreshInterval, "jwks-refresh-interval", 5*time.Minute, "how often the JWKS is refetched")
	fs.DurationVar(&cfg.JWKSUnknownKIDInterval, "jwks-unknown-kid-interval", 5*time.Second, "at most one JWKS refetch for an unknown kid per this window")
	fs.DurationVar(&cfg.JWKSTimeout, "jwks-timeout", 2*time.Second, "bound on any discovery/JWKS fetch, and on the time a request may wait for keys")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "time allowed for in-flight requests at shutdown")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s [healthcheck] [flags]\n\nFlags (each also read from its environment variable; the flag wins):\n", name)
		for _, fe := range flagEnv {
			f := fs.Lookup(fe.flag)
			fmt.Fprintf(fs.Output(), "  --%s (env %s, default %q)\n    \t%s\n", f.Name, fe.env, f.DefValue, f.Usage)
		}
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, fe := range flagEnv {
		if v := getenv(fe.env); v != "" && !given[fe.flag] {
			if err := fs.Set(fe.flag, v); err != nil {
				return cfg, fmt.Errorf("%s: %w", fe.env, err)
			}
		}
	}
	for _, a := range strings.Split(algorithms, ",") {
		if a = strings.TrimSpace(a); a != "" {
			cfg.Algorithms = append(cfg.Algorithms, a)
		}
	}
	if len(cfg.Algorithms) == 0 {
		return cfg, errors.New("--algorithms must list at least one algorithm")
	}
	if !bearer.IsScopeToken(cfg.Scope) {
		// Checked here so a bad --scope is a start-up error rather than a panic in bearer.Require.
		return cfg, fmt.Errorf("--scope %q is not a single RFC 6749 scope token", cfg.Scope)
	}
	if cfg.ShutdownTimeout <= 0 {
		return cfg, errors.New("--shutdown-timeout must be positive")
	}
	return cfg, nil
}

// bearerConfig is the token validation the flags ask for; realm is what every challenge names (SPEC:
// `Bearer realm="valuesapi"`).
func (c config) bearerConfig(logger *slog.Logger) bearer.Config {
	return bearer.Config{
		Authority:          c.Authority,
		Audience:           c.Audience,
		Algorithms:         c.Algorithms,
		Leeway:             c.Leeway,
		RefreshInterval:    c.JWKSRefreshInterval,
		UnknownKIDInterval: c.JWKSUnknownKIDInterval,
		FetchTimeout:       c.JWKSTimeout,
		Logger:             logger,
		Realm:              "valuesapi",
	}
}

// LogValue lets the whole config be logged as one group at start. Nothing in it is secret.
func (c config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("addr", c.Addr),
		slog.String("authority", c.Authority),
		slog.String("audience", c.Audience),
		slog.String("scope", c.Scope),
		slog.String("algorithms", strings.Join(c.Algorithms, ",")),
		slog.Duration("leeway", c.Leeway),
		slog.Duration("jwks_refresh_interval", c.JWKSRefreshInterval),
		slog.Duration("jwks_unknown_kid_interval", c.JWKSUnknownKIDInterval),
		slog.Duration("jwks_timeout", c.JWKSTimeout),
		slog.Duration("shutdown_timeout", c.ShutdownTimeout),
	)
}
