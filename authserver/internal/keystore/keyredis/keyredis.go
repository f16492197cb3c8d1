// Package keyredis keeps the signing keys (keystore.Source) in Redis, for
// replicas that share no volume.
//
// The records live in one hash, <prefix>signing-keys, one field per slot
// (the slot in decimal). Creating a slot is HSETNX, so of several replicas
// creating one slot at once exactly one succeeds. Records are always sealed
// (keystore.Sealer): a Redis is read by more people and tools than a key
// directory, and its dumps and replicas copy the keys elsewhere.
package keyredis

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/tokenbearer/authserver/internal/keystore"
)

// hashName follows the prefix in the name of the hash of the records.
const hashName = "signing-keys"

// updateScript sets field ARGV[1] of KEYS[1] to ARGV[2] only if the field
// exists, in one step, so an Update never creates a slot that a racing
// Delete emptied. It returns 1 when it set the field, 0 when there was none.
var updateScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`)

// Store is the signing keys in one Redis hash. It is safe for concurrent
// use, also by several processes.
type Store struct {
	rdb    redis.Cmdable
	key    string // the hash
	sealer *keystore.Sealer
}

var _ keystore.Source = (*Store)(nil)

// New returns the key store in rdb, its hash named prefix+"signing-keys"
// (authserver's prefix is "tokenbearer:", shared with the failure
// budgets). The sealer is required: private keys are encrypted at rest.
func New(rdb redis.Cmdable, prefix string, s *keystore.Sealer) (*Store, error) {
	if s == nil {
		return nil, fmt.Errorf("the Redis key store needs %s: private keys are encrypted at rest", keystore.EncryptionKeyEnv)
	}
	return &Store{rdb: rdb, key: prefix + hashName, sealer: s}, nil
}

func field(slot int64) string { return strconv.FormatInt(slot, 10) }

// List reads every record. A field that is not a slot, or whose record does
// not decode or holds another slot, fails the whole List with an error
// naming it: a caller keeps its last good keys rather than run without one.
func (s *Store) List(ctx context.Context) ([]keystore.Record, error) {
	fields, err := s.rdb.HGetAll(ctx, s.key).Result()
	if err != nil {
		return nil, fmt.Errorf("listing keys: %w", err)
	}
	rs := make([]keystore.Record, 0, len(fields))
	for f, value := range fields {
		slot, err := strconv.ParseInt(f, 10, 64)
		if err != nil || slot < 1 || field(slot) != f {
			return nil, fmt.Errorf("listing keys: field %q of %s is not a slot number", f, s.key)
		}
		r, err := keystore.DecodeRecord([]byte(value), s.sealer)
		if err != nil {
			return nil, fmt.Errorf("listing keys: field %q of %s: %w", f, s.key, err)
		}
		// The seal binds a record to the slot inside it, not to the field:
		// this refuses a record copied into another field.
		if r.Slot != slot {
			return nil, fmt.Errorf("listing keys: field %q of %s holds the key of slot %d", f, s.key, r.Slot)
		}
		rs = append(rs, r)
	}
	slices.SortFunc(rs, func(a, b keystore.Record) int { return cmp.Compare(a.Slot, b.Slot) })
	return rs, nil
}

// Create stores r if its slot is empty.
func (s *Store) Create(ctx context.Context, r keystore.Record) error {
	data, err := s.encode(r)
	if err != nil {
		return fmt.Errorf("creating key: %w", err)
	}
	set, err := s.rdb.HSetNX(ctx, s.key, field(r.Slot), data).Result()
	if err != nil {
		return fmt.Errorf("creating key of slot %d: %w", r.Slot, err)
	}
	if !set {
		return fmt.Errorf("creating key of slot %d: %w", r.Slot, keystore.ErrSlotTaken)
	}
	return nil
}

// Update replaces the record in r's slot.
func (s *Store) Update(ctx context.Context, r keystore.Record) error {
	data, err := s.encode(r)
	if err != nil {
		return fmt.Errorf("updating key: %w", err)
	}
	set, err := updateScript.Run(ctx, s.rdb, []string{s.key}, field(r.Slot), data).Int()
	if err != nil {
		return fmt.Errorf("updating key of slot %d: %w", r.Slot, err)
	}
	if set == 0 {
		return fmt.Errorf("updating key of slot %d: %w", r.Slot, keystore.ErrNoSuchSlot)
	}
	return nil
}

// Delete removes the record in slot.
func (s *Store) Delete(ctx context.Context, slot int64) error {
	if err := s.rdb.HDel(ctx, s.key, field(slot)).Err(); err != nil {
		return fmt.Errorf("deleting key of slot %d: %w", slot, err)
	}
	return nil
}

func (s *Store) encode(r keystore.Record) ([]byte, error) {
	// DecodeRecord refuses such a record, so storing one would fail every
	// replica's List.
	if r.Slot < 1 {
		return nil, fmt.Errorf("slot %d, want 1 or more", r.Slot)
	}
	return keystore.EncodeRecord(r, s.sealer)
}
