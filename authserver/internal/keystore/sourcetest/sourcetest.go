// Package sourcetest is the behaviour every keystore.Source must have, as
// one suite run against each implementation: the key directory (keydir) and
// Redis (keyredis).
package sourcetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tokenbearer/authserver/internal/keystore"
)

// NewSources returns two handles onto one fresh, empty storage, as two
// replicas would open it. Each call must return storage sharing nothing
// with that of earlier calls.
type NewSources func(t *testing.T) (first, second keystore.Source)

// racers is how many creators race for one slot.
const racers = 16

// suite holds what every test of one run shares: the keys, made once
// because RSA is slow.
type suite struct {
	newSources NewSources
	byAlg      map[string]keystore.Key // one key of each keystore.Algorithms
	racing     []keystore.Key          // racers distinct keys
}

// Run runs the suite against the sources newSources makes.
func Run(t *testing.T, newSources NewSources) {
	s := &suite{newSources: newSources, byAlg: map[string]keystore.Key{}}
	for _, alg := range keystore.Algorithms {
		k, err := keystore.Generate(alg)
		if err != nil {
			t.Fatal(err)
		}
		s.byAlg[alg] = k
	}
	for range racers {
		k, err := keystore.Generate(keystore.EdDSA)
		if err != nil {
			t.Fatal(err)
		}
		s.racing = append(s.racing, k)
	}
	tests := []struct {
		name string
		test func(*suite, *testing.T)
	}{
		{"EmptyList", (*suite).testEmptyList},
		{"CreateThenListRoundTrips", (*suite).testCreateThenListRoundTrips},
		{"ListInSlotOrder", (*suite).testListInSlotOrder},
		{"CreateTakenSlot", (*suite).testCreateTakenSlot},
		{"RacingCreatorsOneWins", (*suite).testRacingCreatorsOneWins},
		{"UpdateRetiresForBothHandles", (*suite).testUpdateRetiresForBothHandles},
		{"UpdateEmptySlot", (*suite).testUpdateEmptySlot},
		{"Delete", (*suite).testDelete},
		{"SecondHandleSeesCreate", (*suite).testSecondHandleSeesCreate},
		{"CancelledContext", (*suite).testCancelledContext},
		{"SlotZeroRefused", (*suite).testSlotZeroRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.test(s, t) })
	}
}

// base is the schedule of the test records. Its zone is not UTC, so a
// backend that compares times with == instead of Equal, or loses the
// nanoseconds, fails.
var base = time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.FixedZone("UTC-5", -5*60*60))

// record returns the record of slot holding k, published at base plus slot
// hours and activating a day later.
func record(slot int64, k keystore.Key) keystore.Record {
	published := base.Add(time.Duration(slot) * time.Hour)
	return keystore.Record{Slot: slot, Key: k, Published: published, Activates: published.Add(24 * time.Hour), Retain: time.Duration(slot) * 90 * time.Minute}
}

func list(t *testing.T, src keystore.Source) []keystore.Record {
	t.Helper()
	rs, err := src.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return rs
}

func create(t *testing.T, src keystore.Source, r keystore.Record) {
	t.Helper()
	if err := src.Create(context.Background(), r); err != nil {
		t.Fatalf("Create of slot %d: %v", r.Slot, err)
	}
}

// summary describes records by slot and kid, for failure messages.
func summary(rs []keystore.Record) string {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d:%s", r.Slot, r.Key.ID)
	}
	b.WriteByte(']')
	return b.String()
}

// checkRecord compares every field of got with want.
func checkRecord(t *testing.T, got, want keystore.Record) {
	t.Helper()
	if got.Slot != want.Slot {
		t.Errorf("slot: got %d, want %d", got.Slot, want.Slot)
	}
	if got.Key.ID != want.Key.ID {
		t.Errorf("slot %d kid: got %q, want %q", want.Slot, got.Key.ID, want.Key.ID)
	}
	if got.Key.Algorithm != want.Key.Algorithm {
		t.Errorf("slot %d alg: got %s, want %s", want.Slot, got.Key.Algorithm, want.Key.Algorithm)
	}
	if got.Key.Signer == nil {
		t.Errorf("slot %d: got no private key, want the %s key", want.Slot, want.Key.Algorithm)
	} else {
		gotJWK, err1 := keystore.MarshalJWK(got.Key)
		wantJWK, err2 := keystore.MarshalJWK(want.Key)
		if err1 != nil || err2 != nil || !bytes.Equal(gotJWK, wantJWK) {
			t.Errorf("slot %d: the private key did not round-trip (%v, %v)", want.Slot, err1, err2)
		}
	}
	if got.Retain != want.Retain {
		t.Errorf("slot %d retain: got %v, want %v", want.Slot, got.Retain, want.Retain)
	}
	for _, tm := range []struct {
		name      string
		got, want time.Time
	}{
		{"published", got.Published, want.Published},
		{"activates", got.Activates, want.Activates},
		{"retired", got.Retired, want.Retired},
	} {
		if !tm.got.Equal(tm.want) || tm.got.IsZero() != tm.want.IsZero() {
			t.Errorf("slot %d %s: got %v, want %v", want.Slot, tm.name, tm.got, tm.want)
		}
	}
}

// checkList compares a List result with want, record by record.
func checkList(t *testing.T, handle string, got, want []keystore.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("List on the %s handle: got %s, want %s", handle, summary(got), summary(want))
	}
	for i := range want {
		checkRecord(t, got[i], want[i])
	}
}

func (s *suite) testEmptyList(t *testing.T) {
	first, second := s.newSources(t)
	for _, h := range []struct {
		name string
		src  keystore.Source
	}{{"first", first}, {"second", second}} {
		if got := list(t, h.src); len(got) != 0 {
			t.Errorf("List on the %s handle of empty storage: got %s, want none", h.name, summary(got))
		}
	}
}

func (s *suite) testCreateThenListRoundTrips(t *testing.T) {
	first, _ := s.newSources(t)
	var want []keystore.Record
	for i, alg := range keystore.Algorithms {
		r := record(int64(i+1), s.byAlg[alg])
		if i%2 == 1 {
			r.Retired = r.Activates.Add(90*24*time.Hour + time.Nanosecond)
		}
		create(t, first, r)
		want = append(want, r)
	}
	checkList(t, "first", list(t, first), want)
}

func (s *suite) testListInSlotOrder(t *testing.T) {
	first, second := s.newSources(t)
	// 10 before 2 would be a lexicographic order.
	slots := []int64{10, 2, 1}
	for i, slot := range slots {
		create(t, first, record(slot, s.racing[i]))
	}
	want := []keystore.Record{record(1, s.racing[2]), record(2, s.racing[1]), record(10, s.racing[0])}
	checkList(t, "first", list(t, first), want)
	checkList(t, "second", list(t, second), want)
}

func (s *suite) testCreateTakenSlot(t *testing.T) {
	first, second := s.newSources(t)
	winner := record(1, s.racing[0])
	create(t, first, winner)
	for _, h := range []struct {
		name string
		src  keystore.Source
	}{{"first", first}, {"second", second}} {
		err := h.src.Create(context.Background(), record(1, s.racing[1]))
		if !errors.Is(err, keystore.ErrSlotTaken) {
			t.Errorf("second Create of slot 1 on the %s handle: got %v, want an error wrapping %v", h.name, err, keystore.ErrSlotTaken)
		}
	}
	checkList(t, "first", list(t, first), []keystore.Record{winner})
}

func (s *suite) testRacingCreatorsOneWins(t *testing.T) {
	first, second := s.newSources(t)
	errs := make([]error, racers)
	var ready, done sync.WaitGroup
	ready.Add(racers)
	for i := range racers {
		src := first
		if i%2 == 1 {
			src = second
		}
		done.Go(func() {
			ready.Done()
			ready.Wait() // all start together
			errs[i] = src.Create(context.Background(), record(1, s.racing[i]))
		})
	}
	done.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("creators %d and %d both created slot 1, want exactly one", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, keystore.ErrSlotTaken):
			t.Errorf("losing creator %d: got %v, want an error wrapping %v", i, err, keystore.ErrSlotTaken)
		}
	}
	if winner < 0 {
		t.Fatalf("none of %d creators created slot 1, want exactly one", racers)
	}
	want := []keystore.Record{record(1, s.racing[winner])}
	checkList(t, "first", list(t, first), want)
	checkList(t, "second", list(t, second), want)
}

func (s *suite) testUpdateRetiresForBothHandles(t *testing.T) {
	first, second := s.newSources(t)
	other := record(2, s.racing[1])
	r := record(1, s.racing[0])
	create(t, first, r)
	create(t, first, other)
	r.Retired = r.Activates.Add(time.Hour)
	if err := first.Update(context.Background(), r); err != nil {
		t.Fatalf("Update: %v", err)
	}
	want := []keystore.Record{r, other}
	checkList(t, "first", list(t, first), want)
	checkList(t, "second", list(t, second), want)
}

func (s *suite) testUpdateEmptySlot(t *testing.T) {
	first, second := s.newSources(t)
	create(t, first, record(1, s.racing[0]))
	err := second.Update(context.Background(), record(2, s.racing[1]))
	if !errors.Is(err, keystore.ErrNoSuchSlot) {
		t.Errorf("Update of empty slot 2: got %v, want an error wrapping %v", err, keystore.ErrNoSuchSlot)
	}
	checkList(t, "first", list(t, first), []keystore.Record{record(1, s.racing[0])})
}

func (s *suite) testDelete(t *testing.T) {
	first, second := s.newSources(t)
	for slot := int64(1); slot <= 3; slot++ {
		create(t, first, record(slot, s.racing[slot]))
	}
	tests := []struct {
		name   string
		src    keystore.Source
		slot   int64
		remain []keystore.Record
	}{
		{"slot 2 on the first handle", first, 2, []keystore.Record{record(1, s.racing[1]), record(3, s.racing[3])}},
		{"slot 1 on the second handle", second, 1, []keystore.Record{record(3, s.racing[3])}},
		{"slot 1 again", first, 1, []keystore.Record{record(3, s.racing[3])}},
		{"never created slot 99", second, 99, []keystore.Record{record(3, s.racing[3])}},
	}
	for _, tt := range tests {
		if err := tt.src.Delete(context.Background(), tt.slot); err != nil {
			t.Fatalf("Delete of %s: got %v, want nil", tt.name, err)
		}
		checkList(t, "first", list(t, first), tt.remain)
		checkList(t, "second", list(t, second), tt.remain)
	}
	// A deleted slot is empty: it can be created again.
	create(t, second, record(2, s.racing[0]))
}

func (s *suite) testSecondHandleSeesCreate(t *testing.T) {
	first, second := s.newSources(t)
	if got := list(t, second); len(got) != 0 { // nothing cached from before
		t.Fatalf("List on the second handle of empty storage: got %s, want none", summary(got))
	}
	r := record(1, s.byAlg[keystore.RS256])
	create(t, first, r)
	checkList(t, "second", list(t, second), []keystore.Record{r})
}

func (s *suite) testCancelledContext(t *testing.T) {
	first, second := s.newSources(t)
	kept := record(1, s.racing[0])
	create(t, first, kept)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	retired := kept
	retired.Retired = kept.Activates
	ops := []struct {
		name string
		call func() error
	}{
		{"List", func() error { _, err := first.List(ctx); return err }},
		{"Create", func() error { return first.Create(ctx, record(2, s.racing[1])) }},
		{"Update", func() error { return first.Update(ctx, retired) }},
		{"Delete", func() error { return first.Delete(ctx, 1) }},
	}
	for _, op := range ops {
		if err := op.call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: got %v, want an error wrapping %v", op.name, err, context.Canceled)
		}
	}
	checkList(t, "second", list(t, second), []keystore.Record{kept})
}

// testSlotZeroRefused: slots start at 1, and a record stored in slot 0
// would not decode, failing every replica's List.
func (s *suite) testSlotZeroRefused(t *testing.T) {
	first, second := s.newSources(t)
	if err := first.Create(context.Background(), record(0, s.racing[0])); err == nil {
		t.Error("Create of slot 0: got nil, want an error")
	}
	if got := list(t, second); len(got) != 0 {
		t.Errorf("List after Create of slot 0: got %s, want none", summary(got))
	}
}
