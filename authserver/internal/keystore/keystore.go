// Package keystore keeps the server's signing keys by key id (kid): one
// active key signs new tokens, and every key in the store is published for
// verification, so a key can be announced before use and kept after
// retirement when keys rotate.
package keystore

import (
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Store is a set of keys keyed by kid with one active signing key. It is
// safe for concurrent use.
type Store struct {
	mu     sync.RWMutex
	keys   []Key // publication order
	active string
}

// New returns an empty store; it has no signing key until Set.
func New() *Store { return &Store{} }

// Set replaces every key of the store and the one that signs, at once, so
// that a reader never sees a signer missing from the published keys. An
// empty active leaves the store without a signer.
func (s *Store) Set(keys []Key, active string) error {
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if seen[k.ID] {
			return fmt.Errorf("setting keys: kid %q twice", k.ID)
		}
		seen[k.ID] = true
	}
	if active != "" && !seen[active] {
		return fmt.Errorf("setting keys: signing kid %q not among them", active)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = slices.Clone(keys)
	s.active = active
	return nil
}

// Active returns the kid of the signing key, empty without one.
func (s *Store) Active() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.active
}

// ErrNoSigningKey is returned by Signing before a key was activated.
var ErrNoSigningKey = errors.New("no active signing key")

// Signing returns the active signing key.
func (s *Store) Signing() (Key, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, k := range s.keys {
		if k.ID == s.active {
			return k, nil
		}
	}
	return Key{}, ErrNoSigningKey
}

// PublicJWKS returns the public JWK set of every key in the store.
func (s *Store) PublicJWKS() JWKSet {
	s.mu.RLock()
	defer s.mu.RUnlock()
	set := JWKSet{Keys: make([]JWK, 0, len(s.keys))}
	for _, k := range s.keys {
		set.Keys = append(set.Keys, k.PublicJWK())
	}
	return set
}
