package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/tokenbearer/httpserver/envflag"
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
	// TokenCacheSize is how many verified tokens are remembered; 0 turns the cache off.
	TokenCacheSize  int
	ShutdownTimeout time.Duration
	// TLSCert and TLSKey are PEM files; both empty serves plain HTTP.
	TLSCert, TLSKey string
	// AuthorityCA is a PEM bundle of CAs trusted for the authority's HTTPS besides the system's; empty: the system's.
	AuthorityCA string
	// AllowInsecureAuthority lets an http authority name a host that is not loopback (bearer.Config).
	AllowInsecureAuthority bool
}

// defaultAddr is where serve listens and where healthcheck looks, unless told otherwise.
const defaultAddr = ":44324"

// defaultAuthority is the article's authority; with --tls-cert and no --authority it is https, as authserver's
// default issuer is with its own --tls-cert: the pair either both serves TLS or neither does.
const defaultAuthority = "http://localhost:44364"

// tlsCertFlag is the one --tls-cert of serve and healthcheck, so the probe speaks what the server serves.
func tlsCertFlag(s *envflag.Set, p *string) {
	s.String(p, "tls-cert", "VALUESAPI_TLS_CERT", "", "PEM certificate `file` (chain first) to serve HTTPS with, reloaded when it changes; empty serves plain HTTP")
}

// commands are the subcommands the top-level help lists.
var commands = []envflag.Command{
	{Name: "serve", Summary: "run the protected Web API (the default)"},
	{Name: "healthcheck", Summary: "succeed when the server on --addr is ready, for container health checks"},
	{Name: "help", Summary: "print this help; help <command> prints the help of that command"},
}

// parseConfig reads the serve flags from args (without the program name or subcommand), then fills every flag that
// was not given from its VALUESAPI_* variable. Its help is the top-level help, serve being the default command. It
// returns flag.ErrHelp after printing the help for -h/--help.
func parseConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	cfg := config{}
	algorithms := strings.Join(bearer.DefaultAlgorithms, ",")
	s := envflag.New(name+" [command] [flags]",
		"The protected Web API of the article: GET /api/values answers [\"value1\",\"value2\"] to a request bearing a valid\n"+
			"access token from the authority. Without a command it serves, configured by the flags below.", stderr)
	s.Commands(commands...)
	s.String(&cfg.Addr, "addr", "VALUESAPI_ADDR", defaultAddr, "listen `address`")
	s.String(&cfg.Authority, "authority", "VALUESAPI_AUTHORITY", defaultAuthority,
		"issuer `URL` of the authorization server (discovery is fetched from it); https://localhost:44364 with --tls-cert")
	s.String(&cfg.Audience, "audience", "VALUESAPI_AUDIENCE", "auth.web.api", "`audience` tokens must contain")
	s.String(&cfg.Scope, "scope", "VALUESAPI_SCOPE", "auth.web.api", "`scope` required by GET /api/values")
	s.String(&algorithms, "algorithms", "VALUESAPI_ALGORITHMS", algorithms, "comma-separated JWS `algorithms` accepted (asymmetric only; HS* and none are refused)")
	s.Duration(&cfg.Leeway, "leeway", "VALUESAPI_LEEWAY", 30*time.Second, "clock skew tolerated for exp, nbf and iat")
	s.Duration(&cfg.JWKSRefreshInterval, "jwks-refresh-interval", "VALUESAPI_JWKS_REFRESH_INTERVAL", 5*time.Minute, "how often the JWKS is refetched")
	s.Duration(&cfg.JWKSUnknownKIDInterval, "jwks-unknown-kid-interval", "VALUESAPI_JWKS_UNKNOWN_KID_INTERVAL", 5*time.Second, "at most one JWKS refetch for an unknown kid per this window")
	s.Duration(&cfg.JWKSTimeout, "jwks-timeout", "VALUESAPI_JWKS_TIMEOUT", 2*time.Second, "bound on any discovery/JWKS fetch, and on the time a request may wait for keys")
	s.Int(&cfg.TokenCacheSize, "token-cache-size", "VALUESAPI_TOKEN_CACHE_SIZE", bearer.DefaultTokenCacheSize,
		"verified `tokens` remembered, skipping the signature check on reuse (exp, nbf and scope are still checked); 0 turns the cache off")
	s.Duration(&cfg.ShutdownTimeout, "shutdown-timeout", "VALUESAPI_SHUTDOWN_TIMEOUT", 10*time.Second, "time allowed for in-flight requests at shutdown")
	tlsCertFlag(s, &cfg.TLSCert)
	s.String(&cfg.TLSKey, "tls-key", "VALUESAPI_TLS_KEY", "", "PEM private key `file` of --tls-cert")
	s.String(&cfg.AuthorityCA, "authority-ca", "VALUESAPI_AUTHORITY_CA", "",
		"PEM `file` of CA certificates trusted for the authority's HTTPS (discovery and JWKS), besides the system's")
	s.Bool(&cfg.AllowInsecureAuthority, "allow-insecure-authority", "VALUESAPI_ALLOW_INSECURE_AUTHORITY", false,
		"allow an http --authority on a host that is not loopback; anyone on the network path could then serve the signing keys")
	if err := s.Parse(args, getenv); err != nil {
		return cfg, err
	}
	if cfg.TLSCert != "" && !s.IsSet("authority") {
		cfg.Authority = "https" + strings.TrimPrefix(defaultAuthority, "http")
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return cfg, errors.New("--tls-cert, --tls-key: give both, or neither for plain HTTP")
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
	if cfg.TokenCacheSize < 0 {
		return cfg, errors.New("--token-cache-size must not be negative (0 turns the cache off)")
	}
	if cfg.ShutdownTimeout <= 0 {
		return cfg, errors.New("--shutdown-timeout must be positive")
	}
	return cfg, nil
}

// parseHealthcheck reads the two flags healthcheck needs. It defines no other, so a bad value in an unrelated
// VALUESAPI_* variable cannot fail the container's probe while the server itself runs fine.
func parseHealthcheck(name string, args []string, getenv func(string) string, stderr io.Writer) (addr, tlsCert string, err error) {
	s := envflag.New(name+" healthcheck [flags]",
		"Asks the server listening on --addr for GET /readyz (on 127.0.0.1 when --addr names no host) and\n"+
			"succeeds when it answers 200 within 2 s, over HTTPS when --tls-cert is set. For container health checks;\n"+
			"reads no other setting.", stderr)
	s.String(&addr, "addr", "VALUESAPI_ADDR", defaultAddr, "`address` the server listens on, as given to serve")
	tlsCertFlag(s, &tlsCert)
	err = s.Parse(args, getenv)
	return addr, tlsCert, err
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
		TokenCacheSize:     c.tokenCacheSize(),
		Logger:             logger,
		Realm:              "valuesapi",
		// HTTPClient is set by serve, which reads --authority-ca.
		AllowInsecureAuthority: c.AllowInsecureAuthority,
	}
}

// tokenCacheSize maps the flag, where 0 turns the cache off, to bearer.Config, where 0 means the default and a
// negative size turns it off.
func (c config) tokenCacheSize() int {
	if c.TokenCacheSize == 0 {
		return -1
	}
	return c.TokenCacheSize
}

// LogValue lets the whole config be logged as one group at start. Nothing in it is secret: the TLS key is a path.
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
		slog.Int("token_cache_size", c.TokenCacheSize),
		slog.Duration("shutdown_timeout", c.ShutdownTimeout),
		slog.String("tls_cert", c.TLSCert),
		slog.String("tls_key", c.TLSKey),
		slog.String("authority_ca", c.AuthorityCA),
		slog.Bool("allow_insecure_authority", c.AllowInsecureAuthority),
	)
}
