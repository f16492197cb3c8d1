package keystore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Manager keeps a Store in step with a Source shared by replicas: it reads
// the records, makes the next key when the schedule says one is due, deletes
// the keys past their time, and sets the Store to the keys the plan
// publishes and the one that signs. It syncs every Reload, and also at the
// instant the plan changes by itself (a key activating), so that replicas
// switch signers together rather than one reload apart.
type Manager struct {
	Source Source
	Policy Policy
	Store  *Store
	Reload time.Duration
	Logger *slog.Logger
	// Now and Generate default to time.Now and Generate.
	Now      func() time.Time
	Generate func(alg string) (Key, error)

	// next is when the last plan said to sync again; zero: at Reload.
	next time.Time
	// known are the records of the last successful sync.
	known []Record
	// retired are the kids this process saw retired, and when.
	retired map[string]time.Time
}

// maxCreateRaces bounds how often Sync retries after losing a slot to
// another replica; each loss means a new key exists, so one retry suffices
// unless keys are being made faster than they can be read.
const maxCreateRaces = 3

// Sync reads the source once, applies the schedule and updates the Store.
// When the source cannot be read the Store follows the schedule of the
// records last read (the times are in them), so that a replica cut off from
// the store still switches signers with the others and drops expired keys.
// Failing to create or delete a key is reported after the Store is updated.
func (m *Manager) Sync(ctx context.Context) error {
	var now time.Time
	var plan Plan
	var records []Record
	var createErr error
	for attempt := 0; ; attempt++ {
		// Read the clock again after losing a slot: the winner's key
		// activates at the winner's now, which a stale now would place in
		// the future, leaving nothing that signs.
		now = m.now()
		var err error
		records, err = m.Source.List(ctx)
		if err != nil {
			m.follow(now)
			return fmt.Errorf("reading signing keys: %w", err)
		}
		if len(records) == 0 && len(m.known) > 0 {
			if records, err = m.restore(ctx, now); err != nil {
				m.follow(now)
				return err
			}
		}
		records = m.refuseUnretired(records)
		plan = Schedule(records, now, m.Policy)
		if plan.Create == nil || createErr != nil || attempt > maxCreateRaces {
			break
		}
		created, err := m.create(ctx, *plan.Create)
		switch {
		case err == nil:
			m.Logger.Info("created signing key", "slot", created.Slot, "kid", created.Key.ID,
				"alg", created.Key.Algorithm, "activates", created.Activates)
			// Read it back, once more, so that this replica uses exactly
			// what the others use; one key per sync is enough.
			attempt = maxCreateRaces
		case errors.Is(err, ErrSlotTaken):
			// Another replica made the key: read it back.
		default:
			createErr = err
		}
	}
	m.next = plan.Next
	m.known = slices.DeleteFunc(slices.Clone(records), func(r Record) bool { return slices.Contains(plan.Delete, r.Slot) })
	if err := m.apply(records, plan); err != nil {
		return err
	}
	if createErr == nil && plan.Create != nil {
		createErr = fmt.Errorf("creating signing key: slot %d is still due after %d tries", plan.Create.Slot, maxCreateRaces+1)
	}
	var errs []error
	if createErr != nil {
		errs = append(errs, createErr)
	}
	for _, slot := range plan.Delete {
		if err := m.Source.Delete(ctx, slot); err != nil {
			errs = append(errs, fmt.Errorf("deleting signing key of slot %d: %w", slot, err))
			continue
		}
		m.Logger.Info("deleted signing key", "slot", slot, "state", plan.States[slot])
	}
	return errors.Join(errs...)
}

// follow sets the Store to the schedule of the records last read, at now.
func (m *Manager) follow(now time.Time) {
	if len(m.known) == 0 {
		return
	}
	plan := Schedule(m.known, now, m.Policy)
	m.next = plan.Next
	if err := m.apply(m.known, plan); err != nil {
		m.Logger.Warn("signing keys: following the last records read", "err", err)
	}
}

// refuseUnretired keeps retired a key this process saw retired, whatever
// the source says now: a retired key back in its earlier record is a
// rollback (an old copy of a sealed record written back), and a retired key
// leaked.
func (m *Manager) refuseUnretired(records []Record) []Record {
	if m.retired == nil {
		m.retired = map[string]time.Time{}
	}
	for i, r := range records {
		at, seen := m.retired[r.Key.ID]
		switch {
		case !r.Retired.IsZero():
			if !seen {
				m.retired[r.Key.ID] = r.Retired
			}
		case seen:
			m.Logger.Warn("a retired key is back in the store as not retired: kept retired; someone with write access to the store may have written back an old record",
				"kid", r.Key.ID, "slot", r.Slot)
			records[i].Retired = at
		}
	}
	return records
}

// restore writes back the records this replica held when it finds the
// source empty: a Redis that restarted without persistence, say. Otherwise
// every replica would make a new key that signs at once, which resource
// servers have never seen. Replicas restoring together write the same
// records, and the slot lock keeps the first of each.
func (m *Manager) restore(ctx context.Context, now time.Time) ([]Record, error) {
	doomed := Schedule(m.known, now, m.Policy).Delete
	var written int
	for _, r := range m.known {
		if slices.Contains(doomed, r.Slot) {
			continue
		}
		err := m.Source.Create(ctx, r)
		if err != nil && !errors.Is(err, ErrSlotTaken) {
			return nil, fmt.Errorf("restoring signing keys into the empty store: %w", err)
		}
		if err == nil {
			written++
		}
	}
	m.Logger.Warn("the key store was empty: wrote back the keys this replica held", "keys", written)
	records, err := m.Source.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading signing keys: %w", err)
	}
	return records, nil
}

func (m *Manager) create(ctx context.Context, r Record) (Record, error) {
	generate := m.Generate
	if generate == nil {
		generate = Generate
	}
	key, err := generate(m.Policy.Algorithm)
	if err != nil {
		return Record{}, err
	}
	r.Key, r.Retain = key, m.Policy.Retain
	if err := m.Source.Create(ctx, r); err != nil {
		return Record{}, fmt.Errorf("creating signing key: %w", err)
	}
	return r, nil
}

// apply sets the Store to the plan's published keys and signer.
func (m *Manager) apply(records []Record, plan Plan) error {
	bySlot := make(map[int64]Key, len(records))
	for _, r := range records {
		bySlot[r.Slot] = r.Key
	}
	keys := make([]Key, 0, len(plan.Published))
	for _, slot := range plan.Published {
		keys = append(keys, bySlot[slot])
	}
	var active string
	if plan.Signer != 0 {
		active = bySlot[plan.Signer].ID
	}
	before := m.Store.Active()
	if err := m.Store.Set(keys, active); err != nil {
		return err
	}
	if active != before {
		m.Logger.Info("signing key in use", "kid", active, "slot", plan.Signer, "alg", bySlot[plan.Signer].Algorithm)
	}
	return nil
}

// Run syncs until ctx is done: at every Reload, and at the next instant the
// plan changes. Failures are logged, at most once per Reload window while
// they last, and retried at the next tick.
func (m *Manager) Run(ctx context.Context) {
	var failing bool
	for {
		wait := m.Reload
		if !m.next.IsZero() {
			wait = min(wait, m.next.Sub(m.now()))
		}
		t := time.NewTimer(max(wait, 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		err := m.Sync(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			m.Logger.Warn("signing keys not synced; following the schedule of the keys last read", "err", err)
			failing = true
		case failing:
			m.Logger.Info("signing keys synced again")
			failing = false
		}
	}
}

func (m *Manager) now() time.Time {
	if m.Now == nil {
		return time.Now()
	}
	return m.Now()
}
