package keystore_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenbearer/authserver/internal/keystore"
	"github.com/tokenbearer/authserver/internal/throttle/throttletest"
)

// memSource is a Source in memory that counts creations and can be made
// to fail.
type memSource struct {
	mu         sync.Mutex
	records    map[int64]keystore.Record
	created    int
	fail       error
	failDelete error
}

func newMemSource() *memSource { return &memSource{records: map[int64]keystore.Record{}} }

func (s *memSource) List(context.Context) ([]keystore.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	var out []keystore.Record
	for _, r := range s.records {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b keystore.Record) int { return int(a.Slot - b.Slot) })
	return out, nil
}

func (s *memSource) Create(_ context.Context, r keystore.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if _, ok := s.records[r.Slot]; ok {
		return keystore.ErrSlotTaken
	}
	s.records[r.Slot] = r
	s.created++
	return nil
}

func (s *memSource) Update(_ context.Context, r keystore.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.records[r.Slot]; !ok {
		return keystore.ErrNoSuchSlot
	}
	s.records[r.Slot] = r
	return nil
}

func (s *memSource) Delete(_ context.Context, slot int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failDelete != nil {
		return s.failDelete
	}
	delete(s.records, slot)
	return nil
}

var _ keystore.Source = (*memSource)(nil)

var policy = keystore.Policy{Algorithm: keystore.EdDSA, Announce: 2 * time.Hour, Rotation: 10 * time.Hour, Retain: 3 * time.Hour}

// generate makes Ed25519 keys from a counter: fast, and distinct.
func generator() func(string) (keystore.Key, error) {
	var mu sync.Mutex
	var n uint16
	return func(alg string) (keystore.Key, error) {
		mu.Lock()
		defer mu.Unlock()
		n++
		seed := make([]byte, ed25519.SeedSize)
		seed[0], seed[1] = byte(n), byte(n>>8)
		return keystore.NewKey(alg, ed25519.NewKeyFromSeed(seed))
	}
}

// sharedGenerator is one generator for every manager of a test, as
// replicas' random keys never collide.
var sharedGenerator = generator()

func newManager(src keystore.Source, clk *throttletest.Clock, logs *bytes.Buffer) *keystore.Manager {
	return &keystore.Manager{
		Source: src, Policy: policy, Store: keystore.New(), Reload: time.Minute,
		Logger: slog.New(slog.NewTextHandler(logs, nil)), Now: clk.Now, Generate: sharedGenerator,
	}
}

func kids(s *keystore.Store) []string {
	var out []string
	for _, k := range s.PublicJWKS().Keys {
		out = append(out, k.KeyID)
	}
	return out
}

func TestManagerEmptySourceSignsAtOnce(t *testing.T) {
	src, clk := newMemSource(), throttletest.NewClock()
	m := newManager(src, clk, &bytes.Buffer{})
	if err := m.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	k, err := m.Store.Signing()
	if err != nil {
		t.Fatalf("no signing key after the first sync of an empty store: %v", err)
	}
	if got := kids(m.Store); !slices.Equal(got, []string{k.ID}) {
		t.Errorf("published %v, want only the signing key %s", got, k.ID)
	}
	if src.created != 1 {
		t.Errorf("created %d keys, want 1", src.created)
	}
}

// TestReplicasAgree runs three managers on one source through many
// rotations, syncing in a shuffled order at uneven instants: after each
// round they sign with the same key and publish the same set, and each
// slot was made once.
func TestReplicasAgree(t *testing.T) {
	src, clk := newMemSource(), throttletest.NewClock()
	var logs bytes.Buffer
	replicas := []*keystore.Manager{newManager(src, clk, &logs), newManager(src, clk, &logs), newManager(src, clk, &logs)}
	rng := rand.New(rand.NewPCG(3, 4))
	ctx := context.Background()
	signers := map[string]bool{}
	for round := range 300 {
		for _, i := range rng.Perm(len(replicas)) {
			if err := replicas[i].Sync(ctx); err != nil {
				t.Fatalf("round %d, replica %d: %v", round, i, err)
			}
		}
		want, _ := replicas[0].Store.Signing()
		signers[want.ID] = true
		for i, r := range replicas[1:] {
			got, _ := r.Store.Signing()
			if got.ID != want.ID || !slices.Equal(kids(r.Store), kids(replicas[0].Store)) {
				t.Fatalf("round %d: replica %d signs with %s and publishes %v; replica 0 %s and %v",
					round, i+1, got.ID, kids(r.Store), want.ID, kids(replicas[0].Store))
			}
		}
		clk.Advance(time.Duration(rng.Int64N(int64(time.Hour))))
	}
	if created := strings.Count(logs.String(), "created signing key"); created != src.created {
		t.Errorf("%d creations logged, %d stored: a slot was made twice", created, src.created)
	}
	// 300 rounds of 30 minutes on average: 150 hours, 15 rotations of 10.
	if len(signers) < 13 || len(signers) > 17 {
		t.Errorf("%d keys signed, want about 15", len(signers))
	}
}

func TestManagerKeepsKeysWhileTheSourceFails(t *testing.T) {
	src, clk := newMemSource(), throttletest.NewClock()
	m := newManager(src, clk, &bytes.Buffer{})
	ctx := context.Background()
	if err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	before, _ := m.Store.Signing()
	src.fail = errors.New("connection refused")
	clk.Advance(9 * time.Hour) // past the moment the next key is due
	if err := m.Sync(ctx); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("got %v, want the source's error", err)
	}
	after, err := m.Store.Signing()
	if err != nil || after.ID != before.ID {
		t.Errorf("after a failed sync: signing %q (%v), want %q still", after.ID, err, before.ID)
	}
}

func TestManagerDropsRetiredKeyAtNextSync(t *testing.T) {
	src, clk := newMemSource(), throttletest.NewClock()
	m := newManager(src, clk, &bytes.Buffer{})
	ctx := context.Background()
	if err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	old, _ := m.Store.Signing()
	if _, err := keystore.Retire(ctx, src, old.ID, clk.Now()); err != nil {
		t.Fatal(err)
	}
	if err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	now, err := m.Store.Signing()
	if err != nil || now.ID == old.ID {
		t.Fatalf("signing %q (%v) after retiring %q, want another key", now.ID, err, old.ID)
	}
	if slices.Contains(kids(m.Store), old.ID) {
		t.Errorf("retired kid %s still published: %v", old.ID, kids(m.Store))
	}
}

func TestManagerRestoresAnEmptiedSource(t *testing.T) {
	src, clk := newMemSource(), throttletest.NewClock()
	var logs bytes.Buffer
	m := newManager(src, clk, &logs)
	ctx := context.Background()
	for _, step := range []time.Duration{0, 8 * time.Hour} { // the first key, then the next one announced
		clk.Advance(step)
		if err := m.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(kids(m.Store)); n != 2 {
		t.Fatalf("%d keys published, want 2", n)
	}
	before := kids(m.Store)
	src.records = map[int64]keystore.Record{} // a Redis restart without persistence
	if err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := kids(m.Store); !slices.Equal(got, before) {
		t.Errorf("after the store was emptied: published %v, want the same keys as before %v", got, before)
	}
	if !strings.Contains(logs.String(), "wrote back") {
		t.Errorf("no warning about the empty store in the logs:\n%s", logs.String())
	}
}

func TestIntroduceAndRetire(t *testing.T) {
	src, clk := newMemSource(), throttletest.NewClock()
	ctx := context.Background()
	gen := generator()
	k1, _ := gen(keystore.EdDSA)
	r, err := keystore.Introduce(ctx, src, k1, clk.Now(), clk.Now(), time.Hour)
	if err != nil || r.Slot != 1 {
		t.Fatalf("got slot %d, %v; want slot 1", r.Slot, err)
	}
	if _, err := keystore.Introduce(ctx, src, k1, clk.Now(), clk.Now(), time.Hour); err == nil || !strings.Contains(err.Error(), "already in the store") {
		t.Errorf("importing the same key twice: got %v, want an error", err)
	}
	k2, _ := gen(keystore.EdDSA)
	// Another replica takes slot 2 first: the key goes to slot 3.
	if err := src.Create(ctx, keystore.Record{Slot: 2, Key: k2, Published: clk.Now(), Activates: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	k3, _ := gen(keystore.EdDSA)
	if r, err := keystore.Introduce(ctx, src, k3, clk.Now(), clk.Now().Add(time.Hour), time.Hour); err != nil || r.Slot != 3 || !r.Activates.Equal(clk.Now().Add(time.Hour)) {
		t.Errorf("got %+v, %v; want slot 3 activating in an hour", r, err)
	}
	if _, err := keystore.Retire(ctx, src, k2.ID, clk.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := keystore.Retire(ctx, src, k2.ID, clk.Now()); err == nil || !strings.Contains(err.Error(), "already retired") {
		t.Errorf("retiring twice: got %v, want an error", err)
	}
	if _, err := keystore.Retire(ctx, src, "nope", clk.Now()); err == nil || !strings.Contains(err.Error(), `no key with kid "nope"`) {
		t.Errorf("retiring an unknown kid: got %v", err)
	}
}

// TestRunSyncsWhenAKeyActivates checks that Run does not wait for its
// Reload to switch signers: it wakes at the activation instant, so that
// replicas switch together.
func TestRunSyncsWhenAKeyActivates(t *testing.T) {
	src := newMemSource()
	gen := generator()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	now := time.Now()
	old, _ := gen(keystore.EdDSA)
	next, _ := gen(keystore.EdDSA)
	for i, r := range []keystore.Record{
		{Slot: 1, Key: old, Published: now.Add(-time.Hour), Activates: now.Add(-time.Hour)},
		{Slot: 2, Key: next, Published: now, Activates: now.Add(300 * time.Millisecond)},
	} {
		if err := src.Create(ctx, r); err != nil {
			t.Fatal(i, err)
		}
	}
	m := &keystore.Manager{Source: src, Policy: keystore.Policy{Algorithm: keystore.EdDSA, Announce: time.Hour, Rotation: 10 * time.Hour, Retain: time.Hour},
		Store: keystore.New(), Reload: time.Hour, Logger: slog.New(slog.DiscardHandler), Generate: gen}
	if err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if k, _ := m.Store.Signing(); k.ID != old.ID {
		t.Fatalf("signing %s before the activation, want %s", k.ID, old.ID)
	}
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if k, _ := m.Store.Signing(); k.ID == next.ID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still signing with the old key 10s after the new one activated (Reload is an hour)")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done

}

// racingSource is a memSource where another replica, whose clock runs
// ahead, creates the first slot between this replica's List and Create.
type racingSource struct {
	*memSource
	ahead time.Time
	raced bool
}

func (s *racingSource) Create(ctx context.Context, r keystore.Record) error {
	if !s.raced {
		s.raced = true
		k, _ := sharedGenerator(keystore.EdDSA)
		if err := s.memSource.Create(ctx, keystore.Record{Slot: r.Slot, Key: k, Published: s.ahead, Activates: s.ahead}); err != nil {
			return err
		}
	}
	return s.memSource.Create(ctx, r)
}

// TestLosingTheFirstSlotToAReplicaAhead: replicas starting together on an
// empty store make one key between them, even when the winner's clock is
// ahead, and all sign with it at once.
func TestLosingTheFirstSlotToAReplicaAhead(t *testing.T) {
	clk := throttletest.NewClock()
	src := &racingSource{memSource: newMemSource(), ahead: clk.Now().Add(50 * time.Millisecond)}
	var logs bytes.Buffer
	m := newManager(src, clk, &logs)
	if err := m.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if src.created != 1 {
		t.Errorf("%d keys in the store, want only the winner's\n%s", src.created, logs.String())
	}
	k, err := m.Store.Signing()
	if err != nil || k.ID != src.records[1].Key.ID {
		t.Errorf("signing with %q (%v), want the winner's key %s", k.ID, err, src.records[1].Key.ID)
	}
}

// TestManagerFollowsTheScheduleWhileTheSourceFails: a replica cut off from
// the store switches to the announced key when it activates and drops the
// old one after its retain time, as the replicas that can read the store do.
func TestManagerFollowsTheScheduleWhileTheSourceFails(t *testing.T) {
	src, clk := newMemSource(), throttletest.NewClock()
	m := newManager(src, clk, &bytes.Buffer{})
	ctx := context.Background()
	for _, step := range []time.Duration{0, 8 * time.Hour} { // slot 1, then slot 2 announced for 10h
		clk.Advance(step)
		if err := m.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	first, second := src.records[1].Key.ID, src.records[2].Key.ID
	src.fail = errors.New("connection refused")
	clk.Advance(2*time.Hour + time.Second)
	if err := m.Sync(ctx); err == nil {
		t.Fatal("got no error from a failing source")
	}
	if k, _ := m.Store.Signing(); k.ID != second {
		t.Errorf("cut off past the activation of slot 2: signing with %s, want %s", k.ID, second)
	}
	clk.Advance(3 * time.Hour)
	m.Sync(ctx)
	if got := kids(m.Store); slices.Contains(got, first) {
		t.Errorf("cut off past the retain time of slot 1: still publishing it: %v", got)
	}
}

// TestManagerAppliesDespiteFailedDeletes: a store that refuses deletes
// (read-only, or an ACL without HDEL) does not stop the signer switching.
func TestManagerAppliesDespiteFailedDeletes(t *testing.T) {
	src, clk := newMemSource(), throttletest.NewClock()
	src.failDelete = errors.New("READONLY")
	m := newManager(src, clk, &bytes.Buffer{})
	ctx := context.Background()
	var lastErr error
	for range 25 * 4 { // 25 hours in steps of 15 minutes: two rotations, slot 3 signing from 20h
		clk.Advance(15 * time.Minute)
		lastErr = m.Sync(ctx)
	}
	if lastErr == nil || !strings.Contains(lastErr.Error(), "READONLY") {
		t.Errorf("got %v, want the delete error reported", lastErr)
	}
	if k, _ := m.Store.Signing(); len(src.records) != 3 || k.ID != src.records[3].Key.ID {
		t.Errorf("%d keys made, signing with %s; want 3, and slot 3 signing", len(src.records), k.ID)
	}
	if n := len(kids(m.Store)); n > 3 {
		t.Errorf("publishing %d keys, want the expired ones dropped even though the store keeps them", n)
	}
}

// TestRetiredKeyStaysRetired: an old copy of a retired key's record written
// back into the store (by someone with write access, no encryption key
// needed) does not bring the key back.
func TestRetiredKeyStaysRetired(t *testing.T) {
	src, clk := newMemSource(), throttletest.NewClock()
	var logs bytes.Buffer
	m := newManager(src, clk, &logs)
	ctx := context.Background()
	if err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	leaked := src.records[1]
	next, _ := sharedGenerator(keystore.EdDSA)
	if _, err := keystore.Introduce(ctx, src, next, clk.Now(), clk.Now(), policy.Retain); err != nil {
		t.Fatal(err)
	}
	if _, err := keystore.Retire(ctx, src, leaked.Key.ID, clk.Now()); err != nil {
		t.Fatal(err)
	}
	if err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	src.records[1] = leaked // the old record, not retired
	delete(src.records, 2)  // and the key that replaced it gone
	clk.Advance(time.Minute)
	m.Sync(ctx)
	if slices.Contains(kids(m.Store), leaked.Key.ID) {
		t.Errorf("the retired key %s is published again after its old record was written back", leaked.Key.ID)
	}
	if !strings.Contains(logs.String(), "a retired key is back") {
		t.Errorf("no warning about the rollback:\n%s", logs.String())
	}
}

// TestReplicasDisagreeingOnTheAlgorithm: replicas with different
// --signing-alg (a rollout half done) switch the algorithm back and forth,
// but only once the other algorithm's last key is gone (announce plus
// retain, 5 hours here), not at every announce period (2 hours).
func TestReplicasDisagreeingOnTheAlgorithm(t *testing.T) {
	src, clk := newMemSource(), throttletest.NewClock()
	var logs bytes.Buffer
	ed, es := newManager(src, clk, &logs), newManager(src, clk, &logs)
	es.Policy.Algorithm = keystore.ES256
	gen := es.Generate
	es.Generate = func(string) (keystore.Key, error) { // ES256 in name only: a counter key is fast
		k, err := gen(keystore.EdDSA)
		k.Algorithm = keystore.ES256
		return k, err
	}
	ctx := context.Background()
	for range 100 * 4 { // 100 hours in steps of 15 minutes: 10 rotations of 10 hours
		for _, m := range []*keystore.Manager{ed, es} {
			if err := m.Sync(ctx); err != nil {
				t.Fatal(err)
			}
		}
		clk.Advance(15 * time.Minute)
	}
	if src.created > 25 {
		t.Errorf("%d keys in 100 hours, want at most 25: one per announce and retain\n%s", src.created, logs.String())
	}
}
