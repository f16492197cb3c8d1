package keystore

import (
	"crypto/ed25519"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// h is n hours after t0: the tests' schedule counts in hours.
func h(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Hour))) }

var testPolicy = Policy{Algorithm: EdDSA, Announce: 2 * time.Hour, Rotation: 10 * time.Hour, Retain: 3 * time.Hour}

// edKeys are distinct Ed25519 keys, cheap to make, by index.
var edKeys = sync.OnceValue(func() []Key {
	keys := make([]Key, 64)
	for i := range keys {
		seed := make([]byte, ed25519.SeedSize)
		seed[0], seed[1] = byte(i), 0xA5
		k, err := NewKey(EdDSA, ed25519.NewKeyFromSeed(seed))
		if err != nil {
			panic(err)
		}
		keys[i] = k
	}
	return keys
})

func rec(slot int64, activates time.Time) Record {
	return Record{Slot: slot, Key: edKeys()[slot], Published: activates.Add(-2 * time.Hour), Activates: activates}
}

func retiredAt(r Record, at time.Time) Record { r.Retired = at; return r }

func withAlg(r Record, alg string) Record { r.Key.Algorithm = alg; return r }

func withRetain(r Record, d time.Duration) Record { r.Retain = d; return r }

func TestSchedule(t *testing.T) {
	tests := []struct {
		name          string
		records       []Record
		now           time.Time
		policy        Policy
		wantSigner    int64
		wantPublished []int64
		wantDelete    []int64
		wantCreate    *Record // Slot, Published, Activates compared
		wantNext      time.Time
		wantDue       time.Time
		wantStates    map[int64]State
		wantDeletes   map[int64]time.Time
	}{
		{name: "empty store signs at once", now: h(0),
			wantCreate: &Record{Slot: 1, Published: h(0), Activates: h(0)}},
		{name: "one key signs until the next is due", records: []Record{rec(1, h(0))}, now: h(1),
			wantSigner: 1, wantPublished: []int64{1}, wantNext: h(8), wantDue: h(8), wantStates: map[int64]State{1: Signing}},
		{name: "next key is made an announce period before it signs", records: []Record{rec(1, h(0))}, now: h(8),
			wantSigner: 1, wantPublished: []int64{1}, wantCreate: &Record{Slot: 2, Published: h(8), Activates: h(10)}},
		{name: "announced key is published, not signing", records: []Record{rec(1, h(0)), rec(2, h(10))}, now: h(9),
			wantSigner: 1, wantPublished: []int64{1, 2}, wantNext: h(10), wantStates: map[int64]State{1: Signing, 2: Announced},
			wantDeletes: map[int64]time.Time{1: h(13)}},
		{name: "at its activation the new key signs and the old one is retained", records: []Record{rec(1, h(0)), rec(2, h(10))}, now: h(10),
			wantSigner: 1 + 1, wantPublished: []int64{1, 2}, wantNext: h(13), wantStates: map[int64]State{1: Retained, 2: Signing},
			wantDeletes: map[int64]time.Time{1: h(13)}},
		{name: "old key deleted after its retain time", records: []Record{rec(1, h(0)), rec(2, h(10))}, now: h(13),
			wantSigner: 2, wantPublished: []int64{2}, wantDelete: []int64{1}, wantNext: h(18), wantDue: h(18), wantStates: map[int64]State{1: Expired, 2: Signing}},
		{name: "a late replica still announces before use", records: []Record{rec(1, h(0))}, now: h(15),
			wantSigner: 1, wantPublished: []int64{1}, wantCreate: &Record{Slot: 2, Published: h(15), Activates: h(17)}, wantDue: h(15)},
		{name: "a new algorithm is announced at once", records: []Record{withAlg(rec(1, h(0)), ES256)}, now: h(1),
			wantSigner: 1, wantPublished: []int64{1}, wantCreate: &Record{Slot: 2, Published: h(1), Activates: h(3)}},
		{name: "a pending key of another algorithm is left to its schedule", records: []Record{rec(1, h(0)), withAlg(rec(2, h(10)), ES256)}, now: h(9),
			wantSigner: 1, wantPublished: []int64{1, 2}, wantNext: h(10)},
		{name: "retired signer: the retained key before it signs again", records: []Record{rec(1, h(0)), retiredAt(rec(2, h(10)), h(11))}, now: h(11),
			wantSigner: 1, wantPublished: []int64{1}, wantCreate: &Record{Slot: 3, Published: h(11), Activates: h(13)},
			wantStates: map[int64]State{1: Signing, 2: Retired}},
		{name: "every key retired: a key that signs at once", records: []Record{retiredAt(rec(1, h(0)), h(1))}, now: h(1),
			wantCreate: &Record{Slot: 2, Published: h(1), Activates: h(1)}, wantStates: map[int64]State{1: Retired}},
		{name: "the last live key signs on past its rotation", records: []Record{rec(1, h(0)), retiredAt(rec(2, h(10)), h(10))}, now: h(14),
			wantSigner: 1, wantPublished: []int64{1}, wantDelete: []int64{2}, wantCreate: &Record{Slot: 3, Published: h(14), Activates: h(16)}},
		{name: "retired keys past their time deleted, and a key that signs at once", records: []Record{retiredAt(rec(1, h(0)), h(1))}, now: h(5),
			wantDelete: []int64{1}, wantCreate: &Record{Slot: 2, Published: h(5), Activates: h(5)}},
		{name: "retired record kept for its retain time", records: []Record{rec(1, h(0)), retiredAt(rec(2, h(1)), h(1))}, now: h(3),
			wantSigner: 1, wantPublished: []int64{1}, wantNext: h(4), wantDeletes: map[int64]time.Time{2: h(4)}},
		{name: "retired record deleted after its retain time", records: []Record{rec(1, h(0)), retiredAt(rec(2, h(1)), h(1))}, now: h(4),
			wantSigner: 1, wantPublished: []int64{1}, wantDelete: []int64{2}, wantNext: h(8)},
		{name: "equal activation: the higher slot signs", records: []Record{rec(1, h(0)), rec(2, h(0))}, now: h(1),
			wantSigner: 2, wantPublished: []int64{1, 2}, wantNext: h(3), wantStates: map[int64]State{1: Retained, 2: Signing}},
		{name: "emergency key signs at once, the old one retained", records: []Record{rec(1, h(0)), rec(2, h(5))}, now: h(5),
			wantSigner: 2, wantPublished: []int64{1, 2}, wantNext: h(8)},
		{name: "a key made to sign at once on a clock ahead signs at once", records: []Record{{Slot: 1, Key: edKeys()[1], Published: h(0.001), Activates: h(0.001)}}, now: h(0),
			wantSigner: 1, wantPublished: []int64{1}, wantStates: map[int64]State{1: Signing}},
		{name: "an emergency key on a clock ahead takes over at once", records: []Record{rec(1, h(-1)), {Slot: 2, Key: edKeys()[2], Published: h(0.001), Activates: h(0.001)}}, now: h(0),
			wantSigner: 2, wantPublished: []int64{1, 2}, wantStates: map[int64]State{1: Retained, 2: Signing}},
		{name: "a key made with a longer retain is kept for it", records: []Record{withRetain(rec(1, h(0)), 5*time.Hour), rec(2, h(10))}, now: h(14),
			wantSigner: 2, wantPublished: []int64{1, 2}, wantNext: h(15), wantStates: map[int64]State{1: Retained},
			wantDeletes: map[int64]time.Time{1: h(15)}},
		{name: "a key made with a shorter retain is kept for this replica's", records: []Record{withRetain(rec(1, h(0)), time.Hour), rec(2, h(10))}, now: h(12),
			wantSigner: 2, wantPublished: []int64{1, 2}, wantNext: h(13)},
		{name: "no switch back to an algorithm while a key of this one is recent",
			records: []Record{withAlg(rec(1, h(0)), ES256), withAlg(rec(2, h(5)), EdDSA), withAlg(rec(3, h(7)), ES256)}, now: h(7.5),
			wantSigner: 3, wantPublished: []int64{1, 2, 3}, wantNext: h(8), wantDue: h(15)},
		{name: "next slot follows retired slots too", records: []Record{retiredAt(rec(7, h(0)), h(0))}, now: h(1),
			wantCreate: &Record{Slot: 8, Published: h(1), Activates: h(1)}, wantNext: h(3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.policy
			if p == (Policy{}) {
				p = testPolicy
			}
			got := Schedule(tt.records, tt.now, p)
			if got.Signer != tt.wantSigner {
				t.Errorf("signer: got slot %d, want %d", got.Signer, tt.wantSigner)
			}
			if !slices.Equal(got.Published, tt.wantPublished) {
				t.Errorf("published: got %v, want %v", got.Published, tt.wantPublished)
			}
			if !slices.Equal(got.Delete, tt.wantDelete) {
				t.Errorf("delete: got %v, want %v", got.Delete, tt.wantDelete)
			}
			switch {
			case (got.Create == nil) != (tt.wantCreate == nil):
				t.Errorf("create: got %+v, want %+v", got.Create, tt.wantCreate)
			case got.Create != nil && (got.Create.Slot != tt.wantCreate.Slot ||
				!got.Create.Published.Equal(tt.wantCreate.Published) || !got.Create.Activates.Equal(tt.wantCreate.Activates)):
				t.Errorf("create: got slot %d published %v activates %v, want slot %d published %v activates %v",
					got.Create.Slot, got.Create.Published, got.Create.Activates, tt.wantCreate.Slot, tt.wantCreate.Published, tt.wantCreate.Activates)
			}
			if !tt.wantDue.IsZero() && !got.Due.Equal(tt.wantDue) {
				t.Errorf("due: got %v, want %v", got.Due, tt.wantDue)
			}
			if !tt.wantNext.IsZero() && !got.Next.Equal(tt.wantNext) {
				t.Errorf("next: got %v, want %v", got.Next, tt.wantNext)
			}
			for slot, want := range tt.wantDeletes {
				if !got.Deletes[slot].Equal(want) {
					t.Errorf("deletion of slot %d: got %v, want %v", slot, got.Deletes[slot], want)
				}
			}
			for slot, want := range tt.wantStates {
				if got.States[slot] != want {
					t.Errorf("state of slot %d: got %q, want %q", slot, got.States[slot], want)
				}
			}
		})
	}
}

// TestScheduleOverManyRotations plays the schedule forward on a fake clock
// in uneven steps, as replicas syncing at odd moments would, and checks the
// promises of the rotation at every step.
func TestScheduleOverManyRotations(t *testing.T) {
	p := testPolicy
	rng := rand.New(rand.NewPCG(1, 2))
	var records []Record
	now := t0
	signedAt := map[int64]time.Time{} // last instant each slot was seen signing
	var made int
	for step := 0; step < 2000; step++ {
		plan := Schedule(records, now, p)
		if plan.Create != nil {
			r := *plan.Create
			r.Key = edKeys()[(r.Slot)%int64(len(edKeys()))]
			records = append(records, r)
			made++
			if made > 1 && r.Activates.Sub(r.Published) < p.Announce {
				t.Fatalf("step %d: key of slot %d signs %v after it was published, want at least %v", step, r.Slot, r.Activates.Sub(r.Published), p.Announce)
			}
			plan = Schedule(records, now, p)
		}
		if plan.Create != nil {
			t.Fatalf("step %d: a second key due at once after %+v", step, records[len(records)-1])
		}
		if plan.Signer == 0 {
			t.Fatalf("step %d at %v: no key signs", step, now)
		}
		for slot, at := range signedAt {
			if !slices.Contains(plan.Published, slot) && now.Before(at.Add(p.Retain)) {
				t.Fatalf("step %d: slot %d signed at %v and was unpublished at %v, before its retain time", step, slot, at, now)
			}
		}
		for _, r := range records {
			if r.Slot == plan.Signer && r.Activates.After(now) {
				t.Fatalf("step %d at %v: slot %d signs before its activation %v", step, now, r.Slot, r.Activates)
			}
		}
		signedAt[plan.Signer] = now
		if len(plan.Published) > 3 {
			t.Fatalf("step %d: %d keys published, want at most 3 (retained, signing, announced)", step, len(plan.Published))
		}
		records = slices.DeleteFunc(records, func(r Record) bool { return slices.Contains(plan.Delete, r.Slot) })
		now = now.Add(time.Duration(rng.Int64N(int64(90 * time.Minute))))
	}
	// 2000 steps of 45 minutes on average are about 1500 hours: 150 rotations of 10 hours.
	if made < 140 || made > 152 {
		t.Errorf("made %d keys over %v, want about one per rotation (150)", made, now.Sub(t0))
	}
}
