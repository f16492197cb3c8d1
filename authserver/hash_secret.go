package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/tokenbearer/authserver/internal/secret"
	"github.com/tokenbearer/httpserver/envflag"
)

// hashSecret prints a fresh client secret and the hash to put in the
// clients YAML file.
func hashSecret(args []string, stdout, stderr io.Writer) error {
	fs := envflag.New("authserver hash-secret",
		"Prints a new random client secret and its hash. Give the secret to the client and put the hash\n"+
			"in its clientSecrets in the --config file; the server never stores the secret itself.", stderr)
	// It has no flags, so no variable is ever read.
	noEnv := func(string) string { return "" }
	if err := fs.Parse(args, noEnv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("hash-secret: %w", err)
	}
	s := secret.Generate()
	_, err := fmt.Fprintf(stdout, "secret: %s\nhash:   %s\n", s, secret.HashOf(s))
	return err
}
