package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/tokenbearer/authserver/internal/secret"
)

// hashSecret prints a fresh client secret and the hash to put in the
// clients YAML file.
func hashSecret(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("authserver hash-secret", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: authserver hash-secret\n\nPrints a new random client secret and its hash for clientSecrets in --config.")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("hash-secret: unexpected arguments: %q", fs.Args())
	}
	s := secret.Generate()
	_, err := fmt.Fprintf(stdout, "secret: %s\nhash:   %s\n", s, secret.HashOf(s))
	return err
}
