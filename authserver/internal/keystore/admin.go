package keystore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Introduce stores key in the next free slot of src, published at now,
// kept retain after it stops signing, and signing from activates: now plus the announce period for a planned
// rotation, now itself in an emergency. A key already in the store, under
// any slot, is refused. Losing the slot to a replica that rotated at the
// same instant moves the key to the slot after.
func Introduce(ctx context.Context, src Source, key Key, now, activates time.Time, retain time.Duration) (Record, error) {
	for range maxCreateRaces + 1 {
		records, err := src.List(ctx)
		if err != nil {
			return Record{}, fmt.Errorf("reading signing keys: %w", err)
		}
		var slot int64
		for _, r := range records {
			if r.Key.ID == key.ID {
				return Record{}, fmt.Errorf("key %s is already in the store, in slot %d", key.ID, r.Slot)
			}
			slot = max(slot, r.Slot)
		}
		r := Record{Slot: slot + 1, Key: key, Published: now, Activates: activates, Retain: retain}
		err = src.Create(ctx, r)
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, ErrSlotTaken) {
			return Record{}, fmt.Errorf("storing key: %w", err)
		}
	}
	return Record{}, errors.New("storing key: other replicas keep taking the next slot; try again")
}

// Retire withdraws the key kid at now: replicas stop publishing it and
// signing with it at their next reload, so resource servers refuse its
// tokens from their next JWKS refresh. Its record stays, marked, until the
// schedule deletes it.
func Retire(ctx context.Context, src Source, kid string, now time.Time) (Record, error) {
	records, err := src.List(ctx)
	if err != nil {
		return Record{}, fmt.Errorf("reading signing keys: %w", err)
	}
	for _, r := range records {
		if r.Key.ID != kid {
			continue
		}
		if !r.Retired.IsZero() {
			return r, fmt.Errorf("key %s was already retired at %s", kid, r.Retired.UTC().Format(time.RFC3339))
		}
		r.Retired = now
		if err := src.Update(ctx, r); err != nil {
			return Record{}, fmt.Errorf("retiring key: %w", err)
		}
		return r, nil
	}
	return Record{}, fmt.Errorf("no key with kid %q in the store (see authserver keys list)", kid)
}
