package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/tokenbearer/authserver/internal/keystore"
	"github.com/tokenbearer/authserver/internal/keystore/keydir"
	"github.com/tokenbearer/authserver/internal/keystore/keyredis"
)

// openKeySource opens the key store of the configuration: --key-dir when
// given, else the Redis of --store (rdb). The caller checked cfg.rotating().
func openKeySource(cfg config, rdb *redis.Client) (keystore.Source, string, error) {
	var sealer *keystore.Sealer
	if cfg.KeyEncryptionKey != "" {
		var err error
		if sealer, err = keystore.NewSealer(string(cfg.KeyEncryptionKey)); err != nil {
			return nil, "", err
		}
	}
	if cfg.KeyDir != "" {
		dir, err := keydir.New(cfg.KeyDir, sealer)
		if err != nil {
			return nil, "", fmt.Errorf("key-dir: %w", err)
		}
		return dir, "directory " + cfg.KeyDir, nil
	}
	if rdb == nil {
		return nil, "", errors.New("key store: neither --key-dir nor --store")
	}
	src, err := keyredis.New(rdb, storePrefix, sealer)
	if err != nil {
		return nil, "", fmt.Errorf("store: %w", err)
	}
	return src, "redis " + redactURL(cfg.Store), nil
}

// rotatingKeys loads the keys of the key store into a Store, making the
// first one if the store is empty, and returns the Manager that keeps them
// in step (its Run is the caller's to start).
func rotatingKeys(ctx context.Context, cfg config, rdb *redis.Client, logger *slog.Logger) (*keystore.Manager, error) {
	src, desc, err := openKeySource(cfg, rdb)
	if err != nil {
		return nil, err
	}
	m := &keystore.Manager{Source: src, Policy: cfg.keyPolicy(), Store: keystore.New(), Reload: cfg.KeyReload, Logger: logger}
	syncErr := m.Sync(ctx)
	k, err := m.Store.Signing()
	if err != nil {
		return nil, fmt.Errorf("loading signing keys from the %s: %w", desc, errors.Join(syncErr, err))
	}
	if syncErr != nil {
		// A key signs, but the store refused a change (a read-only
		// directory, say): serve, and let Run retry.
		logger.Warn("signing keys loaded, but the key store refused a change", "source", desc, "err", syncErr)
	}
	if cfg.KeyAnnounce < 2*jwksCacheFor {
		logger.Warn("--key-announce is shorter than twice the JWKS max-age: a resource server that caches the JWKS as long as Cache-Control allows may see a token before its key",
			"key_announce", cfg.KeyAnnounce, "jwks_max_age", jwksCacheFor)
	}
	logger.Info("signing keys ready", "source", desc, "kid", k.ID, "alg", k.Algorithm, "published", len(m.Store.PublicJWKS().Keys))
	return m, nil
}
