// Package keystore keeps the server's signing keys by key id (kid): one
// active key signs new tokens, and every key in the store is published for
// verification, so a key can be announced before use and kept after
// retirement when keys rotate.
package keystore

import (
	"errors"
	"fmt"
	"sync"
)

// Store is a set of keys keyed by kid with one active signing key. It is
// safe for concurrent use.
type Store struct {
	mu     sync.RWMutex
	keys   []Key // publication order
	active string
}

// New returns an empty store; it has no signing key until Activate.
func New() *Store { return &Store{} }

// Add adds k as a verification key.
func (s *Store) Add(k Key) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, have := range s.keys {
		if have.ID == k.ID {
			return fmt.Errorf("adding key: kid %q already present", k.ID)
		}
	}
	s.keys = append(s.keys, k)
	return nil
}

// Activate makes the key kid, already added, the one that signs.
func (s *Store) Activate(kid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.keys {
		if k.ID == kid {
			s.active = kid
			return nil
		}
	}
	return fmt.Errorf("activating key: kid %q not in store", kid)
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
