package main

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tokenbearer/authserver/internal/keystore"
	"github.com/tokenbearer/httpserver/envflag"
)

// Defaults of the rotation schedule: a key is announced two weeks before it
// signs, signs for about a quarter, and stays published two weeks after,
// longer than any common resource server caches a JWKS.
const (
	defaultKeyAnnounce = 14 * 24 * time.Hour
	defaultKeyRotation = 90 * 24 * time.Hour
	defaultKeyRetain   = 14 * 24 * time.Hour
	defaultKeyReload   = 30 * time.Second
)

// secretValue is a setting that must never be printed: formatted or
// logged, it shows only whether it is set.
type secretValue string

func (s secretValue) String() string {
	if s == "" {
		return "(unset)"
	}
	return "(set)"
}

// LogValue keeps the value out of slog output.
func (s secretValue) LogValue() slog.Value { return slog.StringValue(s.String()) }

// GoString keeps it out of %#v.
func (s secretValue) GoString() string { return s.String() }

// keyStoreFlags are the flags of the rotating key store, shared by serve and
// the keys command so that both read the same keys the same way.
func keyStoreFlags(fs *envflag.Set, cfg *config) {
	fs.String(&cfg.KeyDir, "key-dir", "AUTHSERVER_KEY_DIR", "",
		"`directory` of rotating signing keys that replicas share (one file per key, mode 0600); keys are encrypted there when "+keystore.EncryptionKeyEnv+" is set")
	fs.Period(&cfg.KeyAnnounce, "key-announce", "AUTHSERVER_KEY_ANNOUNCE", defaultKeyAnnounce,
		"`period` for which a new key is published before it signs (publish-before-use); longer than resource servers cache the JWKS")
	fs.Period(&cfg.KeyRotation, "key-rotation", "AUTHSERVER_KEY_ROTATION", defaultKeyRotation, "`period` for which each key signs before the next one takes over")
	fs.Period(&cfg.KeyRetain, "key-retain", "AUTHSERVER_KEY_RETAIN", defaultKeyRetain,
		"`period` for which a key stays published after it stopped signing, at least --token-lifetime; then it is deleted")
	fs.Period(&cfg.KeyReload, "key-reload", "AUTHSERVER_KEY_RELOAD", defaultKeyReload, "`period` between two reads of the key store by each replica; every replica also wakes when a key starts signing")
}

// validateKeyStore checks the key store settings; they matter only with
// --key-dir or --store.
func (c *config) validateKeyStore() []error {
	var errs []error
	if c.KeyEncryptionKey != "" {
		if _, err := keystore.NewSealer(string(c.KeyEncryptionKey)); err != nil {
			errs = append(errs, err)
		}
	}
	if !c.rotating() {
		return errs
	}
	if c.Store != "" && c.KeyDir == "" && c.KeyEncryptionKey == "" {
		errs = append(errs, fmt.Errorf("store: the signing keys in Redis are encrypted at rest: set %s to 32 random bytes in base64 "+
			"(openssl rand -base64 32), the same for every replica, or keep the keys in a --key-dir", keystore.EncryptionKeyEnv))
	}
	if c.KeyRotation <= 0 {
		errs = append(errs, errors.New("key-rotation: must be positive"))
	}
	// A rotation shorter than the announce period keeps several announced
	// keys at once, and the JWKS grows with every rotation.
	if c.KeyRotation > 0 && c.KeyRotation < c.KeyAnnounce {
		errs = append(errs, fmt.Errorf("key-rotation: %v must be at least --key-announce (%v)", c.KeyRotation, c.KeyAnnounce))
	}
	if c.KeyReload < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("key-reload: %v must be at least 100ms", c.KeyReload))
	}
	// Every replica must have read a new key before it signs, or replicas
	// would disagree on the signer until their next reload.
	if c.KeyAnnounce < c.KeyReload {
		errs = append(errs, fmt.Errorf("key-announce: %v must be at least --key-reload (%v), so that every replica knows a key before it signs", c.KeyAnnounce, c.KeyReload))
	}
	if c.KeyRetain < c.TokenLifetime {
		errs = append(errs, fmt.Errorf("key-retain: %v must be at least --token-lifetime (%v): the last tokens of a key must verify until they expire", c.KeyRetain, c.TokenLifetime))
	}
	return errs
}
