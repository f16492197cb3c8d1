package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tokenbearer/authserver/internal/keystore"
	"github.com/tokenbearer/httpserver/envflag"
)

// keysCommands are the verbs of `authserver keys`.
var keysCommands = []envflag.Command{
	{Name: "list", Summary: "show every key with its algorithm, state and schedule"},
	{Name: "rotate", Summary: "announce a new key now; it signs after --key-announce, or at once with --now"},
	{Name: "retire", Summary: "withdraw the key KID at once: out of every JWKS, its tokens refused at the next refresh"},
	{Name: "import", Summary: "add the private key of FILE (PEM or JWK) as the next key; at once with --now"},
}

// keysConfig is what the keys command reads: the key store and its
// schedule, as serve reads them.
type keysConfig struct {
	config
	Now bool
}

// keysCmd runs `authserver keys VERB` against the key store of --key-dir or
// --store, the one the servers use.
func keysCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs := envflag.New("authserver keys <command> [flags]",
			"Manages the rotating signing keys of --key-dir or --store, the key store the servers share.", stderr)
		fs.Commands(keysCommands...)
		if err := fs.Parse(args, getenv); errors.Is(err, flag.ErrHelp) {
			return nil
		} else if err != nil {
			return err
		}
		return errors.New("keys: want a command: list, rotate, retire or import (see authserver keys --help)")
	}
	verb, rest := args[0], args[1:]
	var summary string
	for _, c := range keysCommands {
		if c.Name == verb {
			summary = c.Summary
		}
	}
	if summary == "" {
		return fmt.Errorf("keys: unknown command %q (want list, rotate, retire or import)", verb)
	}
	usage := "authserver keys " + verb + " [flags]"
	switch verb {
	case "retire":
		// A kid is base64url and may start with "-": put it after "--".
		usage = "authserver keys retire [flags] [--] KID"
	case "import":
		usage = "authserver keys import FILE [flags]"
	}
	var cfg keysConfig
	fs := envflag.New(usage, strings.ToUpper(summary[:1])+summary[1:]+".", stderr)
	fs.String(&cfg.Store, "store", "AUTHSERVER_STORE", "", "`URL` redis://HOST:PORT/DB of the key store, when it is not --key-dir")
	keyStoreFlags(fs, &cfg.config)
	fs.String(&cfg.SigningAlg, "signing-alg", "AUTHSERVER_SIGNING_ALG", keystore.RS256,
		"JWS `algorithm` of a new key (rotate), or of an RSA key imported from PEM: "+strings.Join(keystore.Algorithms, ", ")+"; without it, the algorithm of the key that signs now")
	fs.Duration(&cfg.TokenLifetime, "token-lifetime", "AUTHSERVER_TOKEN_LIFETIME", time.Hour, "access token lifetime of the servers, which --key-retain must cover")
	switch verb {
	case "rotate", "import":
		fs.Bool(&cfg.Now, "now", "AUTHSERVER_KEYS_NOW", false, "sign with the new key at once, skipping the announce period: for an emergency, "+
			"since resource servers refuse its tokens until they refetch the JWKS")
	}
	switch verb {
	case "retire":
		fs.Positional("KID")
	case "import":
		fs.Positional("FILE")
	}
	if err := fs.Parse(rest, getenv); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	cfg.KeyEncryptionKey = secretValue(getenv(keystore.EncryptionKeyEnv))
	if !cfg.rotating() {
		return errors.New("keys: give --key-dir or --store: the --key-file key never rotates, so there is nothing to manage")
	}
	if !slices.Contains(keystore.Algorithms, cfg.SigningAlg) {
		return fmt.Errorf("signing-alg: %q is not one of %s", cfg.SigningAlg, strings.Join(keystore.Algorithms, ", "))
	}
	if err := errors.Join(cfg.validateKeyStore()...); err != nil {
		return err
	}
	var rdb *redis.Client
	if cfg.Store != "" && cfg.KeyDir == "" {
		var err error
		if rdb, err = openStore(ctx, cfg.Store); err != nil {
			return err
		}
		defer rdb.Close()
	}
	src, desc, err := openKeySource(cfg.config, rdb)
	if err != nil {
		return err
	}
	now := time.Now()
	records, err := src.List(ctx)
	if err != nil {
		return fmt.Errorf("reading signing keys from the %s: %w", desc, err)
	}
	if !fs.IsSet("signing-alg") {
		// Without --signing-alg, new keys are of the algorithm that signs
		// now, not the default's: on an ES256 deployment `keys rotate`
		// makes an ES256 key.
		if alg := signingAlg(records, now, cfg.keyPolicy()); alg != "" {
			cfg.SigningAlg = alg
		}
	}
	switch verb {
	case "list":
		printKeys(stdout, records, now, cfg.keyPolicy())
		return nil
	case "retire":
		r, err := keystore.Retire(ctx, src, fs.Args()[0], now)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "retired key %s (slot %d). Every replica drops it from its JWKS and stops signing with it within --key-reload (%v); "+
			"resource servers refuse its tokens from their next JWKS refresh.\n", r.Key.ID, r.Slot, cfg.KeyReload)
		return nil
	}
	var key keystore.Key
	if verb == "import" {
		data, err := os.ReadFile(fs.Args()[0])
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		if key, err = keystore.ParsePrivateKey(data, cfg.SigningAlg); err != nil {
			return fmt.Errorf("import %s: %w", fs.Args()[0], err)
		}
	} else if key, err = keystore.Generate(cfg.SigningAlg); err != nil {
		return err
	}
	activates := now.Add(cfg.KeyAnnounce)
	if cfg.Now {
		activates = now
	}
	r, err := keystore.Introduce(ctx, src, key, now, activates, cfg.KeyRetain)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "added key %s (%s) in slot %d, published now, signing from %s.\n",
		r.Key.ID, r.Key.Algorithm, r.Slot, r.Activates.UTC().Format(time.RFC3339))
	if cfg.Now {
		fmt.Fprintf(stdout, "It signs at once: replicas switch within --key-reload (%v), and resource servers that have not refetched the JWKS "+
			"refuse its tokens until they do. To withdraw a leaked key, now run: authserver keys retire KID\n", cfg.KeyReload)
	}
	return nil
}

// signingAlg is the algorithm of the key that signs now, empty without one.
func signingAlg(records []keystore.Record, now time.Time, p keystore.Policy) string {
	plan := keystore.Schedule(records, now, p)
	for _, r := range records {
		if r.Slot == plan.Signer {
			return r.Key.Algorithm
		}
	}
	return ""
}

// printKeys writes the table of `keys list`: each key's state now and the
// times of its schedule, then when the next key is due.
func printKeys(w io.Writer, records []keystore.Record, now time.Time, p keystore.Policy) {
	plan := keystore.Schedule(records, now, p)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SLOT\tKID\tALG\tSTATE\tPUBLISHED\tSIGNS FROM\tSIGNS UNTIL\tDELETED FROM")
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, r := range records {
		from, until := r.Activates, plan.Ends[r.Slot]
		if !r.Retired.IsZero() {
			until = r.Retired
			if !r.Retired.After(r.Activates) { // retired before it ever signed
				from, until = time.Time{}, time.Time{}
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Slot, r.Key.ID, r.Key.Algorithm, plan.States[r.Slot],
			stamp(r.Published), stamp(from), stamp(until), stamp(plan.Deletes[r.Slot]))
	}
	tw.Flush()
	switch {
	case len(records) == 0:
		fmt.Fprintln(w, "No keys: the first authserver to start makes one that signs at once.")
	case plan.Create != nil:
		fmt.Fprintln(w, "A new key is due now: the next replica to sync makes it.")
	default:
		fmt.Fprintf(w, "Next key: made at %s, announced for %s before it signs.\n", stamp(plan.Due), envflag.FormatPeriod(p.Announce))
	}
}
