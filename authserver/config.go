package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tokenbearer/authserver/internal/keystore"
	"github.com/tokenbearer/authserver/internal/throttle"
	"github.com/tokenbearer/httpserver/envflag"
)

// config is the effective server configuration.
type config struct {
	Addr            string
	Issuer          string
	ConfigPath      string // empty: the embedded demo clients and API resources
	KeyFile         string
	SigningAlg      string // JWS alg of the signing key: one of keystore.Algorithms
	TokenLifetime   time.Duration
	ShutdownTimeout time.Duration
	// TLSCert and TLSKey are PEM files; both empty serves plain HTTP.
	TLSCert, TLSKey string
	// ClientCA is a PEM bundle of the authorities tls_client_auth
	// certificates chain to; empty: no client may use tls_client_auth.
	ClientCA string
	// Budgets of failed client authentications (brute-force protection).
	FailuresPerClient throttle.Limit
	FailuresPerAddr   throttle.Limit
	// Store is the redis://HOST:PORT/DB URL of the state replicas share:
	// the failure budgets and, without KeyDir, the signing keys. Empty keeps
	// the budgets in this process.
	Store string
	// KeyDir is a directory of rotating signing keys shared by replicas;
	// with it or a Store the keys rotate, without both KeyFile signs forever.
	KeyDir string
	// The rotation schedule (keystore.Policy) and how often replicas reread
	// the keys.
	KeyAnnounce, KeyRotation, KeyRetain, KeyReload time.Duration
	// KeyEncryptionKey is the base64 AES-256 key of AUTHSERVER_KEY_ENCRYPTION_KEY
	// (environment only: a flag would show it in the process list).
	KeyEncryptionKey secretValue
}

// rotating says the keys come from a key store and rotate, rather than from
// the one --key-file.
func (c config) rotating() bool { return c.KeyDir != "" || c.Store != "" }

// keyFileInUse is --key-file, or what replaces it with a key store.
func (c config) keyFileInUse() string {
	if c.rotating() {
		return "(none: the key store signs)"
	}
	return c.KeyFile
}

// keyPolicy is the rotation schedule of the configuration.
func (c config) keyPolicy() keystore.Policy {
	return keystore.Policy{Algorithm: c.SigningAlg, Announce: c.KeyAnnounce, Rotation: c.KeyRotation, Retain: c.KeyRetain}
}

// defaultAddr is where serve listens and healthcheck probes.
const defaultAddr = ":44364"

// defaultIssuer is the article's authority; with TLS on and no --issuer given it is https.
const defaultIssuer = "http://localhost:44364"

// tlsCertFlag is the one --tls-cert of serve and healthcheck, so the probe speaks what the server serves.
func tlsCertFlag(fs *envflag.Set, p *string) {
	fs.String(p, "tls-cert", "AUTHSERVER_TLS_CERT", "", "PEM certificate `file` (chain first) to serve HTTPS with, reloaded when it changes; empty serves plain HTTP")
}

// commands are the subcommands the top-level help lists.
var commands = []envflag.Command{
	{Name: "serve", Summary: "run the authorization server (the default)"},
	{Name: "hash-secret", Summary: "print a new client secret and the hash to put in the --config file"},
	{Name: "healthcheck", Summary: "succeed when the server on --addr is ready, for container health checks"},
	{Name: "dev-cert", Summary: "write a development CA and a TLS certificate for localhost signed by it, and how to trust it"},
	{Name: "keys", Summary: "list, rotate, retire or import the signing keys of --key-dir or --store"},
	{Name: "help", Summary: "print this help; help <command> prints the help of that command"},
}

// addrFlag is the one --addr of serve and healthcheck, so the probe goes
// where the server listens.
func addrFlag(fs *envflag.Set, p *string, usage string) {
	fs.String(p, "addr", "AUTHSERVER_ADDR", defaultAddr, usage)
}

// parseConfig reads the server's flags from args and, for every flag not
// given, its environment variable; a flag wins over the environment. Its
// help is the top-level help, serve being the default command. It returns
// flag.ErrHelp after printing the help for --help.
func parseConfig(args []string, getenv func(string) string, output io.Writer) (config, error) {
	var cfg config
	fs := envflag.New("authserver [command] [flags]",
		"An OAuth 2.0 authorization server for the client credentials grant, issuing RFC 9068 JWT access tokens.\n"+
			"Without a command it serves, configured by the flags below.", output)
	fs.Commands(commands...)
	addrFlag(fs, &cfg.Addr, "listen `address`")
	fs.String(&cfg.Issuer, "issuer", "AUTHSERVER_ISSUER", defaultIssuer, "issuer `URL` put in tokens and discovery; never taken from the Host header (https://localhost:44364 with --tls-cert)")
	fs.String(&cfg.ConfigPath, "config", "AUTHSERVER_CONFIG", "", "YAML `file` of clients and API resources; empty uses the embedded demo client")
	fs.String(&cfg.KeyFile, "key-file", "AUTHSERVER_KEY_FILE", "tempkey.jwk", "private JWK `file` used to sign tokens, never rotated (the article's developer key); a key for --signing-alg is created on first start; not used with --key-dir or --store")
	fs.String(&cfg.SigningAlg, "signing-alg", "AUTHSERVER_SIGNING_ALG", keystore.RS256,
		"JWS `algorithm` tokens are signed with: "+strings.Join(keystore.Algorithms, ", ")+
			" (RSA-2048, RSA-2048 with PSS, ECDSA P-256, Ed25519); a --key-file holding a key for another algorithm is refused; with a key store, a change announces a key of the new algorithm")
	fs.Duration(&cfg.TokenLifetime, "token-lifetime", "AUTHSERVER_TOKEN_LIFETIME", time.Hour, "access token lifetime")
	fs.Duration(&cfg.ShutdownTimeout, "shutdown-timeout", "AUTHSERVER_SHUTDOWN_TIMEOUT", 10*time.Second, "time allowed for in-flight requests on shutdown")
	fs.Float64(&cfg.FailuresPerClient.PerMinute, "auth-failure-rate-per-client", "AUTHSERVER_AUTH_FAILURE_RATE_PER_CLIENT", 10,
		"failed client authentications allowed per minute for one client_id, once its burst is spent")
	fs.Int(&cfg.FailuresPerClient.Burst, "auth-failure-burst-per-client", "AUTHSERVER_AUTH_FAILURE_BURST_PER_CLIENT", 10,
		"failed client authentications allowed at once for one client_id")
	fs.Float64(&cfg.FailuresPerAddr.PerMinute, "auth-failure-rate-per-addr", "AUTHSERVER_AUTH_FAILURE_RATE_PER_ADDR", 30,
		"failed client authentications allowed per minute from one remote address (IPv6: one /64), once its burst is spent")
	fs.Int(&cfg.FailuresPerAddr.Burst, "auth-failure-burst-per-addr", "AUTHSERVER_AUTH_FAILURE_BURST_PER_ADDR", 30,
		"failed client authentications allowed at once from one remote address")
	fs.String(&cfg.Store, "store", "AUTHSERVER_STORE", "",
		"`URL` redis://HOST:PORT/DB of the Redis that replicas share: the failure budgets live there, one per client_id and per address for all replicas, and without --key-dir the rotating signing keys, encrypted under "+keystore.EncryptionKeyEnv+"; empty keeps the budgets per process")
	keyStoreFlags(fs, &cfg)
	tlsCertFlag(fs, &cfg.TLSCert)
	fs.String(&cfg.TLSKey, "tls-key", "AUTHSERVER_TLS_KEY", "", "PEM private key `file` of --tls-cert")
	fs.String(&cfg.ClientCA, "client-ca", "AUTHSERVER_CLIENT_CA", "",
		"PEM `file` of the CA certificates that tls_client_auth client certificates must chain to (RFC 8705); needs --tls-cert")
	if err := fs.Parse(args, getenv); err != nil {
		return config{}, err
	}
	cfg.KeyEncryptionKey = secretValue(getenv(keystore.EncryptionKeyEnv))
	if cfg.rotating() && fs.IsSet("key-file") {
		return config{}, errors.New("key-file: not used with --key-dir or --store, which keep the keys themselves; " +
			"to carry the key of the file over, run `authserver keys import --now FILE` with the same --key-dir or --store")
	}
	if cfg.TLSCert != "" && !fs.IsSet("issuer") {
		cfg.Issuer = "https" + strings.TrimPrefix(defaultIssuer, "http")
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
	if !slices.Contains(keystore.Algorithms, c.SigningAlg) {
		errs = append(errs, fmt.Errorf("signing-alg: %q is not one of %s", c.SigningAlg, strings.Join(keystore.Algorithms, ", ")))
	}
	if c.TokenLifetime < time.Second || c.TokenLifetime%time.Second != 0 {
		errs = append(errs, fmt.Errorf("token-lifetime: %v must be a whole number of seconds, at least 1s", c.TokenLifetime))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("shutdown-timeout: must be positive"))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("tls-cert, tls-key: give both, or neither for plain HTTP"))
	}
	// A client certificate reaches only a server that terminates TLS itself.
	if c.ClientCA != "" && c.TLSCert == "" {
		errs = append(errs, errors.New("client-ca: needs --tls-cert: client certificates reach only a server that speaks TLS itself"))
	}
	if c.Store != "" {
		if _, err := redis.ParseURL(c.Store); err != nil {
			errs = append(errs, fmt.Errorf("store: %w", err))
		}
	}
	errs = append(errs, c.validateKeyStore()...)
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

// redactURL hides the password a store URL may hold.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}

// logAttrs lists the effective settings, the store's password masked.
func (c config) logAttrs() []any {
	source := c.ConfigPath
	if source == "" {
		source = "embedded demo"
	}
	return []any{
		slog.String("addr", c.Addr),
		slog.String("issuer", c.Issuer),
		slog.String("config", source),
		slog.String("key_file", c.keyFileInUse()),
		slog.String("signing_alg", c.SigningAlg),
		slog.Duration("token_lifetime", c.TokenLifetime),
		slog.Duration("shutdown_timeout", c.ShutdownTimeout),
		slog.String("tls_cert", c.TLSCert),
		slog.String("client_ca", c.ClientCA),
		slog.Float64("auth_failure_rate_per_client", c.FailuresPerClient.PerMinute),
		slog.Int("auth_failure_burst_per_client", c.FailuresPerClient.Burst),
		slog.Float64("auth_failure_rate_per_addr", c.FailuresPerAddr.PerMinute),
		slog.Int("auth_failure_burst_per_addr", c.FailuresPerAddr.Burst),
		slog.String("store", redactURL(c.Store)),
		slog.String("key_dir", c.KeyDir),
		slog.Duration("key_announce", c.KeyAnnounce),
		slog.Duration("key_rotation", c.KeyRotation),
		slog.Duration("key_retain", c.KeyRetain),
		slog.Duration("key_reload", c.KeyReload),
		slog.Bool("key_encryption_key_set", c.KeyEncryptionKey != ""),
	}
}
