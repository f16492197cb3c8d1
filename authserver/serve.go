package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tokenbearer/authserver/internal/keystore"
	"github.com/tokenbearer/authserver/internal/registry"
	"github.com/tokenbearer/authserver/internal/secret"
	"github.com/tokenbearer/httpserver"
)

// serve runs the HTTP server until ctx is done, then shuts it down letting
// in-flight requests finish (httpserver.Serve).
func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	// Every line names the service, so logs of both services can be mixed.
	logger := slog.New(slog.NewTextHandler(stderr, nil)).With("service", "authserver")
	cfg, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading configuration: %w", err)
	}
	logger.Info("config", cfg.logAttrs()...)

	reg, err := loadRegistry(cfg.ConfigPath)
	if err != nil {
		return err
	}
	if cfg.ConfigPath == "" {
		logger.Warn("the embedded demo client is active (client ApiClient, secret \"secret\"); " +
			"replace it: run `authserver hash-secret` and pass a YAML file of your clients with --config")
	} else {
		// A file copied from the demo is as open as the demo itself.
		for _, id := range clientsWithDemoSecret(reg) {
			logger.Warn("a client of --config accepts the public demo secret; "+
				"replace it: run `authserver hash-secret` and put the new hash in its clientSecrets", "client_id", id)
		}
	}
	logger.Info("clients loaded", "client_ids", reg.ClientIDs(), "scopes", reg.Scopes())

	var roots *x509.CertPool
	if cfg.ClientCA != "" {
		roots, err = loadClientCAs(cfg.ClientCA)
		if err != nil {
			return err
		}
	}
	if err := checkCertificateClients(reg, cfg.TLSCert != "", roots != nil); err != nil {
		return err
	}

	var rdb *redis.Client
	if cfg.Store != "" {
		if rdb, err = openStore(ctx, cfg.Store); err != nil {
			return err
		}
		defer rdb.Close()
	}
	var keys *keystore.Store
	if cfg.rotating() {
		m, err := rotatingKeys(ctx, cfg, rdb, logger)
		if err != nil {
			return err
		}
		keys = m.Store
		ctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { m.Run(ctx); close(done) }()
		defer func() { stop(); <-done }()
	} else if keys, err = fileKey(cfg, logger); err != nil {
		return err
	}

	limiter := newAuthThrottle(cfg.FailuresPerClient, cfg.FailuresPerAddr, time.Now)
	if rdb != nil {
		limiter = newSharedAuthThrottle(rdb, cfg.FailuresPerClient, cfg.FailuresPerAddr, time.Now, logger)
		logger.Info("failure budgets shared through the store", "store", redactURL(cfg.Store))
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	ctls := clientTLS{on: cfg.TLSCert != "", roots: roots}
	srv := httpserver.New(NewServer(logger, cfg.Issuer, cfg.TokenLifetime, reg, keys, limiter, ctls), logger)
	if cfg.TLSCert != "" {
		certs, err := httpserver.LoadCertFiles(cfg.TLSCert, cfg.TLSKey, logger)
		if err != nil {
			ln.Close()
			return err
		}
		srv.TLSConfig = serverTLSConfig(certs)
	}
	return httpserver.Serve(ctx, srv, ln, cfg.ShutdownTimeout, logger)
}

// fileKey is the article's developer key: the one --key-file, made on the
// first start and never rotated.
func fileKey(cfg config, logger *slog.Logger) (*keystore.Store, error) {
	key, created, err := keystore.LoadOrCreate(cfg.KeyFile, cfg.SigningAlg)
	if mismatch := (*keystore.AlgorithmMismatchError)(nil); errors.As(err, &mismatch) {
		return nil, fmt.Errorf("loading signing key: %w", algorithmSwitchHelp(mismatch))
	}
	if err != nil {
		return nil, fmt.Errorf("loading signing key: %w", err)
	}
	keys := keystore.New()
	if err := keys.Set([]keystore.Key{key}, key.ID); err != nil {
		return nil, err
	}
	logger.Info("signing key ready", "kid", key.ID, "alg", key.Algorithm, "file", cfg.KeyFile, "created", created)
	return keys, nil
}

// storePrefix starts every key authserver writes in the Redis of --store:
// the failure budgets and the signing keys.
const storePrefix = "tokenbearer:"

// openStore connects to the Redis of --store and checks that it answers:
// a store that cannot be reached at start is a configuration error, not an
// outage to ride out. The client gives up on a call within about a second,
// with no retries, so an outage later costs a request little
// (redisbudget.Budgets then falls back to this process).
func openStore(ctx context.Context, storeURL string) (*redis.Client, error) {
	opts, err := redis.ParseURL(storeURL)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	opts.DialTimeout = time.Second
	opts.ReadTimeout = time.Second
	opts.WriteTimeout = time.Second
	opts.ContextTimeoutEnabled = true
	opts.MaxRetries = -1
	opts.DialerRetries = 1
	rdb := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("store %s: not reachable: %w", redactURL(storeURL), err)
	}
	return rdb, nil
}

// algorithmSwitchHelp says what to do about a key file for another
// algorithm than --signing-alg. Signing on with the old algorithm would
// ignore the flag, and replacing the key at once would make every resource
// server refuse the tokens of the new key until it refetches the JWKS. The
// rotating key store (--key-dir or --store) switches without that gap.
func algorithmSwitchHelp(m *keystore.AlgorithmMismatchError) error {
	return fmt.Errorf("%w as --signing-alg asks; the --key-file key is never replaced by itself. "+
		"To switch without refused tokens, move to a rotating key store: run `authserver keys import --now %s` with --key-dir DIR "+
		"(or --store), then start with that --key-dir and --signing-alg %s: the new key is announced and signs after --key-announce. "+
		"To switch by hand, stop every authserver using %s, delete or move that file, and start again with --signing-alg %s: "+
		"tokens of the old key are refused once resource servers refetch the JWKS. "+
		"To keep the current key, start with --signing-alg %s",
		m, m.Path, m.Want, m.Path, m.Want, m.Have)
}

// serverTLSConfig is httpserver's TLS with a request for a client
// certificate on every handshake, never a demand: a client without one, or
// with a secret, connects as before. The certificate is not verified here,
// since what it must be depends on the client's method; the token endpoint
// checks it (internal/clientauth).
func serverTLSConfig(certs *httpserver.CertFiles) *tls.Config {
	c := httpserver.TLSConfig(certs)
	c.ClientAuth = tls.RequestClientCert
	return c
}

// loadClientCAs reads the PEM bundle of --client-ca. Every block must be a
// CA certificate: anything else could not have issued a client certificate,
// and is more likely the wrong file than a harmless extra.
func loadClientCAs(path string) (*x509.CertPool, error) {
	certs, err := httpserver.ReadCertificates(path)
	if err != nil {
		return nil, fmt.Errorf("client-ca: %w", err)
	}
	pool := x509.NewCertPool()
	for i, cert := range certs {
		if !cert.BasicConstraintsValid || !cert.IsCA {
			return nil, fmt.Errorf("client-ca %s: certificate %d (%s) is not a CA certificate", path, i+1, cert.Subject)
		}
		pool.AddCert(cert)
	}
	return pool, nil
}

// checkCertificateClients refuses a configuration with clients that could
// never authenticate: certificate clients on a server without TLS, and
// tls_client_auth clients without the authorities their certificates
// chain to.
func checkCertificateClients(reg *registry.Registry, tlsOn, haveCAs bool) error {
	var errs []error
	for _, method := range []string{registry.AuthTLS, registry.AuthSelfSignedTLS} {
		if ids := reg.ClientsUsing(method); len(ids) > 0 && !tlsOn {
			errs = append(errs, fmt.Errorf("clients %v use %s, which needs --tls-cert: over plain HTTP no client certificate reaches the server", ids, method))
		}
	}
	if ids := reg.ClientsUsing(registry.AuthTLS); len(ids) > 0 && tlsOn && !haveCAs {
		errs = append(errs, fmt.Errorf("clients %v use %s, which needs --client-ca: the authorities their certificates chain to", ids, registry.AuthTLS))
	}
	return errors.Join(errs...)
}

// demoSecrets are the secrets published with the project: anyone who read
// the README or the article can present them.
var demoSecrets = []string{"secret"}

// clientsWithDemoSecret returns, sorted, the ids of the clients that accept
// one of demoSecrets, found by matching each stored hash as the token
// endpoint does, among however many secrets a client has.
func clientsWithDemoSecret(reg *registry.Registry) []string {
	var ids []string
	for _, id := range reg.ClientIDs() {
		client, _ := reg.Client(id)
		if slices.ContainsFunc(demoSecrets, func(plain string) bool { return secret.MatchesAny(client.Secrets, plain) }) {
			ids = append(ids, id)
		}
	}
	return ids
}

func loadRegistry(path string) (*registry.Registry, error) {
	if path == "" {
		return registry.Demo()
	}
	return registry.Load(path)
}
