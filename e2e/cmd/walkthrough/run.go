package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/tokenbearer/e2e/walkthrough"
	"github.com/tokenbearer/httpserver/envflag"
)

type config struct {
	authority, api                string
	clientID, clientSecret, scope string
	wait, timeout                 time.Duration
	// ca is a PEM file of CAs trusted besides the system's, for services with a development certificate.
	ca string
}

// startHint is what a learner most likely needs when nothing answers: the services are not running yet.
const startHint = "start both services with `make run` in another terminal, or add --wait 30s if they are still starting"

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	client, err := newClient(cfg)
	if err != nil {
		return err
	}
	if cfg.wait > 0 {
		fmt.Fprintf(stdout, "Waiting up to %s for %s and %s to be ready...\n", cfg.wait, cfg.authority, cfg.api)
		wctx, cancel := context.WithTimeout(ctx, cfg.wait)
		defer cancel()
		if err := walkthrough.WaitReady(wctx, client, cfg.authority, cfg.api); err != nil {
			return fmt.Errorf("%w (is it running? start both services with `make run` in another terminal)", err)
		}
	}
	_, err = walkthrough.Run(ctx, walkthrough.Config{
		Authority:    cfg.authority,
		API:          cfg.api,
		ClientID:     cfg.clientID,
		ClientSecret: cfg.clientSecret,
		Scope:        cfg.scope,
		HTTPClient:   client,
		Out:          stdout,
	})
	if errors.Is(err, walkthrough.ErrNotListening) {
		return fmt.Errorf("%w\n%s", err, startHint)
	}
	return err
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	if len(args) > 0 {
		args = args[1:]
	}
	// The help names the program, not args[0], which under `go run` sits deep in a build cache.
	s := envflag.New("walkthrough [flags]",
		"Replays the article's five Postman steps against running services, says what each answer means, and\n"+
			"exits non-zero when one differs from the article.", stderr)
	var cfg config
	s.String(&cfg.authority, "authority", "WALKTHROUGH_AUTHORITY", "http://localhost:44364", "authserver base `URL` as this client reaches it")
	s.String(&cfg.api, "api", "WALKTHROUGH_API", "http://localhost:44324", "valuesapi base `URL` as this client reaches it")
	s.String(&cfg.clientID, "client-id", "WALKTHROUGH_CLIENT_ID", "ApiClient", "`client_id` to authenticate as")
	s.String(&cfg.clientSecret, "client-secret", "WALKTHROUGH_CLIENT_SECRET", "secret", "`client_secret` of that client (the demo's is the default)")
	s.String(&cfg.scope, "scope", "WALKTHROUGH_SCOPE", "auth.web.api", "`scope` to ask for; --scope \"\" asks for all the client's scopes")
	s.Duration(&cfg.wait, "wait", "WALKTHROUGH_WAIT", 0, "wait this long for both /readyz endpoints before starting (0: do not wait)")
	s.Duration(&cfg.timeout, "timeout", "WALKTHROUGH_TIMEOUT", 10*time.Second, "timeout of each HTTP request")
	s.String(&cfg.ca, "ca", "WALKTHROUGH_CA", "", "PEM `file` of CA certificates trusted besides the system's, e.g. bin/dev-certs/ca.crt of `authserver dev-cert`")
	if err := s.Parse(args, getenv); err != nil {
		return config{}, err
	}
	if cfg.wait < 0 {
		return config{}, errors.New("--wait must not be negative")
	}
	if cfg.timeout <= 0 {
		// http.Client reads 0 as no timeout at all, which would let a stuck server hang the walkthrough.
		return config{}, errors.New("--timeout must be positive")
	}
	return cfg, nil
}

// newClient is the walkthrough's one HTTP client, trusting the system's roots plus those of --ca, so the
// article's https URLs work with a development certificate without trusting it machine-wide.
func newClient(cfg config) (*http.Client, error) {
	client := &http.Client{Timeout: cfg.timeout}
	if cfg.ca == "" {
		return client, nil
	}
	pem, err := os.ReadFile(cfg.ca)
	if err != nil {
		return nil, fmt.Errorf("reading --ca: %w", err)
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool() // no system store: the file alone is the trust
	}
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--ca %s: no PEM certificates", cfg.ca)
	}
	// A clone keeps DefaultTransport's proxy settings, timeouts and HTTP/2.
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	client.Transport = t
	return client, nil
}
