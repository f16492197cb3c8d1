package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"time"

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

	key, created, err := keystore.LoadOrCreateRSA(cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("loading signing key: %w", err)
	}
	keys := keystore.New()
	if err := keys.Add(key); err != nil {
		return err
	}
	if err := keys.Activate(key.ID); err != nil {
		return err
	}
	logger.Info("signing key ready", "kid", key.ID, "alg", key.Algorithm, "file", cfg.KeyFile, "created", created)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	limiter := newAuthThrottle(cfg.FailuresPerClient, cfg.FailuresPerAddr, time.Now)
	srv := httpserver.New(NewServer(logger, cfg.Issuer, cfg.TokenLifetime, reg, keys, limiter), logger)
	if cfg.TLSCert != "" {
		certs, err := httpserver.LoadCertFiles(cfg.TLSCert, cfg.TLSKey, logger)
		if err != nil {
			ln.Close()
			return err
		}
		srv.TLSConfig = httpserver.TLSConfig(certs)
	}
	return httpserver.Serve(ctx, srv, ln, cfg.ShutdownTimeout, logger)
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
