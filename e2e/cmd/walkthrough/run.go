package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/tokenbearer/e2e/walkthrough"
)

type config struct {
	authority, api                string
	clientID, clientSecret, scope string
	wait, timeout                 time.Duration
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: cfg.timeout}
	if cfg.wait > 0 {
		fmt.Fprintf(stdout, "Waiting up to %s for %s and %s to be ready...\n", cfg.wait, cfg.authority, cfg.api)
		wctx, cancel := context.WithTimeout(ctx, cfg.wait)
		defer cancel()
		if err := walkthrough.WaitReady(wctx, client, cfg.authority, cfg.api); err != nil {
			return err
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
	return err
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	var cfg config
	fs.StringVar(&cfg.authority, "authority", env("WALKTHROUGH_AUTHORITY", "http://localhost:44364"), "authserver base URL as this client reaches it (env WALKTHROUGH_AUTHORITY)")
	fs.StringVar(&cfg.api, "api", env("WALKTHROUGH_API", "http://localhost:44324"), "valuesapi base URL (env WALKTHROUGH_API)")
	fs.StringVar(&cfg.clientID, "client-id", env("WALKTHROUGH_CLIENT_ID", "ApiClient"), "client_id (env WALKTHROUGH_CLIENT_ID)")
	fs.StringVar(&cfg.clientSecret, "client-secret", env("WALKTHROUGH_CLIENT_SECRET", "secret"), "client_secret (env WALKTHROUGH_CLIENT_SECRET)")
	fs.StringVar(&cfg.scope, "scope", env("WALKTHROUGH_SCOPE", "auth.web.api"), "scope to ask for; empty asks for all the client's scopes (env WALKTHROUGH_SCOPE)")
	fs.DurationVar(&cfg.wait, "wait", 0, "wait this long for both /readyz endpoints before starting (0: do not wait)")
	fs.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "timeout of each HTTP request")
	if err := fs.Parse(args[1:]); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return cfg, nil
}
