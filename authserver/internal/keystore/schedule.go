package keystore

import (
	"cmp"
	"slices"
	"time"
)

// Policy is the rotation schedule of a key store.
type Policy struct {
	// Algorithm is the JWS alg new keys are made for. When the newest key
	// that signs is of another algorithm, and no key of this one was
	// published within a Rotation and an Announce (the life of a key so
	// far), a key of this one is announced at once and signs after
	// Announce, as any new key does.
	Algorithm string
	// Announce is how long a new key is published before it signs, longer
	// than any resource server caches the JWKS.
	Announce time.Duration
	// Rotation is how long a key signs before the next one takes over.
	Rotation time.Duration
	// Retain is how long a key stays published after it stopped signing,
	// at least the token lifetime, so its last tokens verify until they
	// expire. A retired key's record is kept as long, for `keys list`.
	Retain time.Duration
}

// State is what a key does at an instant.
type State string

// The states of a key in its life, in order, and retired, which ends it
// early.
const (
	Announced State = "announced" // published, not signing yet
	Signing   State = "signing"
	Retained  State = "retained" // published, no longer signing
	Expired   State = "expired"  // past its retain time: deleted at the next sync
	Retired   State = "retired"  // retired by an operator: neither signs nor is published
)

// Plan is what the schedule says about a set of records at one instant.
// Every replica computing it from the same records and clock reaches the
// same plan.
type Plan struct {
	// Signer is the slot of the key that signs now; 0 when none may.
	Signer int64
	// Published are the slots whose keys are in the JWKS, in slot order.
	Published []int64
	// States gives each record's state, by slot.
	States map[int64]State
	// Ends gives, for each key that stopped or will stop signing, when:
	// the activation of the key after it.
	Ends map[int64]time.Time
	// Deletes gives, for each record whose end is known (a later key
	// activates, or it was retired), when it is deleted: its end plus its
	// retain time.
	Deletes map[int64]time.Time
	// Due is when the next key is to be made; with Create set, now.
	Due time.Time
	// Create, when not nil, is the record of the next key to make, in the
	// next free slot, without its key.
	Create *Record
	// Delete are the slots whose records are past their time.
	Delete []int64
	// Next is the next instant the plan changes by itself (a key activates,
	// expires or is due): the caller syncs again then. Zero: never.
	Next time.Time
}

// Schedule computes the plan for records at now under p.
//
// The key that signs is the live (not retired) one that activated last, by
// its stored Activates time, ties going to the higher slot, so every replica
// switches at the same instant. Keys are never signed with before their
// Activates: a key for a new slot is made Announce before it is needed, and
// only when no live key can sign at all (an empty store, or every key
// retired or expired) is one made that signs at once.
func Schedule(records []Record, now time.Time, p Policy) Plan {
	plan := Plan{States: map[int64]State{}, Ends: map[int64]time.Time{}, Deletes: map[int64]time.Time{}}
	var live []Record
	var next int64
	for _, r := range records {
		next = max(next, r.Slot)
		if r.Retired.IsZero() {
			live = append(live, r)
			continue
		}
		plan.States[r.Slot] = Retired
		del := r.Retired.Add(retain(r, p))
		plan.Deletes[r.Slot] = del
		plan.Next = earliest(plan.Next, now, del)
		if !now.Before(del) {
			plan.Delete = append(plan.Delete, r.Slot)
		}
	}
	next++
	slices.SortFunc(live, func(a, b Record) int {
		return cmp.Or(a.Activates.Compare(b.Activates), cmp.Compare(a.Slot, b.Slot))
	})
	// A key made to sign at once (Activates equal to Published: the first
	// key of an empty store, or an emergency) signs from its creation, even
	// when the clock of the replica that made it runs a little ahead of
	// this one's: else this replica would see nothing signing and make a
	// second such key.
	active := func(r Record) bool { return !r.Activates.After(now) || r.Activates.Equal(r.Published) }
	var latestSigning *Record
	for i, r := range live {
		if !active(r) {
			plan.States[r.Slot] = Announced
			plan.Next = earliest(plan.Next, now, r.Activates)
			plan.Published = append(plan.Published, r.Slot)
			continue
		}
		if i+1 == len(live) || !active(live[i+1]) {
			plan.States[r.Slot] = Signing
			plan.Signer = r.Slot
			plan.Published = append(plan.Published, r.Slot)
			latestSigning = &live[i]
			if i+1 < len(live) {
				plan.Ends[r.Slot] = live[i+1].Activates
				plan.Deletes[r.Slot] = live[i+1].Activates.Add(retain(r, p))
			}
			continue
		}
		end := live[i+1].Activates
		del := end.Add(retain(r, p))
		plan.Ends[r.Slot], plan.Deletes[r.Slot] = end, del
		if now.Before(del) {
			plan.States[r.Slot] = Retained
			plan.Published = append(plan.Published, r.Slot)
			plan.Next = earliest(plan.Next, now, del)
			continue
		}
		plan.States[r.Slot] = Expired
		plan.Delete = append(plan.Delete, r.Slot)
	}
	slices.Sort(plan.Published)
	slices.Sort(plan.Delete)

	switch {
	case latestSigning == nil:
		// Nothing can sign: tokens would be refused until a pending key
		// activates, so a key that signs at once is the lesser evil.
		plan.Due = now
		plan.Create = &Record{Slot: next, Published: now, Activates: now}
	default:
		newest := live[len(live)-1]
		if newest.Slot == latestSigning.Slot && newest.Key.Algorithm != p.Algorithm && !publishedSince(live, p.Algorithm, now.Add(-p.Rotation-p.Announce)) {
			plan.Due = now
			plan.Create = &Record{Slot: next, Published: now, Activates: now.Add(p.Announce)}
			break
		}
		due := newest.Activates.Add(p.Rotation - p.Announce)
		plan.Due = later(now, due)
		if !now.Before(due) {
			plan.Create = &Record{Slot: next, Published: now,
				Activates: later(now.Add(p.Announce), newest.Activates.Add(p.Rotation))}
		} else {
			plan.Next = earliest(plan.Next, now, due)
		}
	}
	return plan
}

// publishedSince says whether a key of alg was published after t. Replicas
// of a deployment that disagree on --signing-alg (a rollout half done)
// would otherwise each switch the algorithm back at every key.
func publishedSince(live []Record, alg string, t time.Time) bool {
	return slices.ContainsFunc(live, func(r Record) bool { return r.Key.Algorithm == alg && r.Published.After(t) })
}

// retain is how long r stays published after it stops signing: the longer
// of its maker's --key-retain and this replica's.
func retain(r Record, p Policy) time.Duration { return max(r.Retain, p.Retain) }

// earliest is the earlier of a (zero: none) and b, ignoring a b not after now.
func earliest(a, now, b time.Time) time.Time {
	if !b.After(now) {
		return a
	}
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
