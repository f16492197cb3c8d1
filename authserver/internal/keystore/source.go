package keystore

import (
	"context"
	"errors"
	"time"
)

// Record is one signing key as a Source keeps it: the key and the times
// that place it in the rotation schedule. The times are stored with the key,
// never derived from a replica's own settings, so every replica reading the
// same records computes the same schedule (Plan).
type Record struct {
	// Slot numbers the keys in the order they were created, from 1. A slot
	// is created at most once: Source.Create is the lock that keeps two
	// replicas from making two keys for one rotation.
	Slot int64
	Key  Key
	// Published is when the key entered the JWKS.
	Published time.Time
	// Activates is when it starts signing: Published plus the announce
	// period, so that resource servers have fetched it before they see a
	// token it signed (publish-before-use). It signs until a later key
	// activates.
	Activates time.Time
	// Retain is the --key-retain of the replica that made the key. A key
	// stays published after it stops signing for the longer of this and
	// the reading replica's own, so a replica with a shorter setting never
	// deletes a key whose tokens the others still issue for longer.
	Retain time.Duration
	// Retired is when an operator withdrew the key (authserver keys retire):
	// from then on it neither signs nor is published. Zero for a key in
	// its normal life.
	Retired time.Time
}

// ErrSlotTaken is Source.Create's error when the slot already holds a key:
// another replica (or the keys command) made the key for that rotation first.
var ErrSlotTaken = errors.New("key slot already taken")

// ErrNoSuchSlot is Source.Update's error for a slot that holds no key.
var ErrNoSuchSlot = errors.New("no key in that slot")

// Source is where the signing keys live, shared by every replica that uses
// it: a directory (keydir) or Redis (keyredis). Implementations are safe for
// concurrent use by several processes, and sourcetest.Run is the behaviour
// each must have.
type Source interface {
	// List returns every record, in slot order.
	List(ctx context.Context) ([]Record, error)
	// Create stores r in r.Slot if that slot is empty, atomically: of
	// several simultaneous creators of one slot exactly one succeeds, the
	// others get an error wrapping ErrSlotTaken.
	Create(ctx context.Context, r Record) error
	// Update replaces the record in r.Slot (to retire it); an empty slot is
	// an error wrapping ErrNoSuchSlot.
	Update(ctx context.Context, r Record) error
	// Delete removes the record in slot; an empty slot is not an error.
	Delete(ctx context.Context, slot int64) error
}
