package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The rotation schedule of these tests, in seconds where production has days: a key is published 2 s before it
// signs, signs for 3 s and stays published 3 s after (the token lifetime), so a key is made every 3 s and the
// first one is deleted about 6 s after the start. The resource servers refresh the JWKS every 500 ms, well inside
// the announce period, and are never rescued by a refetch on an unknown kid.
const (
	keyAnnounce    = 2 * time.Second
	keyRotation    = 3 * time.Second
	keyRetain      = 3 * time.Second
	keyReload      = 250 * time.Millisecond
	tokenLifetime  = 3 * time.Second
	jwksRefresh    = 500 * time.Millisecond
	settleMargin   = time.Second // scheduling slack on a busy 2-core machine
	rotationWindow = 30 * time.Second
)

// scheduleFlags are the rotation flags (with the token lifetime they are checked against) every replica and every `authserver keys` run gets.
var scheduleFlags = []string{
	"--key-announce", keyAnnounce.String(), "--key-rotation", keyRotation.String(),
	"--key-retain", keyRetain.String(), "--key-reload", keyReload.String(), "--token-lifetime", tokenLifetime.String(),
}

// rotationBackend is one home of the shared keys: a directory or a Redis.
type rotationBackend struct {
	name string
	alg  string
	// open prepares the store and returns the flags naming it; it may set the environment the replicas and the
	// keys command inherit. keyDir is the directory, or "" for Redis.
	open func(t *testing.T) (flags []string, keyDir string)
}

var rotationBackends = []rotationBackend{
	{name: "dir", alg: "EdDSA", open: func(t *testing.T) ([]string, string) {
		// In clear, so that the test can read a private key from its slot file.
		t.Setenv("AUTHSERVER_KEY_ENCRYPTION_KEY", "")
		dir := t.TempDir()
		return []string{"--key-dir", dir}, dir
	}},
	{name: "redis", alg: "ES256", open: func(t *testing.T) ([]string, string) {
		addr := startRedis(t)
		kek := make([]byte, 32)
		rand.Read(kek)
		t.Setenv("AUTHSERVER_KEY_ENCRYPTION_KEY", base64.StdEncoding.EncodeToString(kek))
		return []string{"--store", "redis://" + addr + "/0"}, ""
	}},
}

// TestRotationAcrossReplicas runs three authserver replicas sharing one key store behind a round-robin proxy,
// and valuesapi trusting the proxy, through at least two key rotations, once per backend. Under steady load every
// request must succeed, every token's kid must have been published before the token was issued, the replicas'
// JWKS must agree (up to one reload), and a replica killed in the middle must rejoin on the same keys. Then: a
// deleted key's tokens are refused, `keys list` shows what is published, `keys retire` withdraws a key within one
// refresh window, and the replicas' logs show each slot's key made by exactly one replica, announced before it
// signs (but the first).
func TestRotationAcrossReplicas(t *testing.T) {
	for _, backend := range rotationBackends {
		t.Run(backend.name, func(t *testing.T) {
			start := time.Now()
			storeFlags, keyDir := backend.open(t)
			d := startDeployment(t, backend.alg, storeFlags)

			// The first key, read from its file while it exists, to forge tokens with once it is deleted.
			var first *forger
			if keyDir != "" {
				first = readSlotKey(t, keyDir, 1)
				// Accepted while published: the later 401 is the deletion's doing, not the forging's.
				wantStatus(t, d.api.url, first.forge(t, d.proxy.url), http.StatusOK, "token forged with the published key of slot 1")
			}

			run := d.rotateUnderLoad(t)
			t.Logf("%s: %d requests, %d failed; signing kids in order %q; %d tokens of an older kid accepted; %d JWKS samples, %d transient disagreements; proxy failovers %d",
				backend.name, run.sent, run.failed, run.kids, run.olderKidAccepted, run.samples, run.transient, d.proxy.failovers.Load())
			if run.failed > 0 {
				t.Errorf("%d of %d requests failed, want 0; first failures:\n%s", run.failed, run.sent, strings.Join(run.failures, "\n"))
			}
			if len(run.kids) < 3 {
				t.Errorf("got %d distinct signing kids %q within %s, want at least 3 (two rotations)", len(run.kids), run.kids, rotationWindow)
			}
			if run.olderKidAccepted == 0 {
				t.Errorf("got no held token used after its key stopped signing, want some: the run did not show old tokens still work")
			}

			d.requireRejoined(t, 1)
			d.requireKeysListed(t, storeFlags)
			if first != nil {
				d.requireDeletedKeyRefused(t, keyDir, first)
			}
			d.requireRetireWithdraws(t, storeFlags)
			requireKeyCreations(t, d.logs())
			t.Logf("%s: %s", backend.name, time.Since(start).Round(100*time.Millisecond))
		})
	}
}

// rotationRun is what rotateUnderLoad saw.
type rotationRun struct {
	sent, failed       int64
	failures           []string // the first few
	kids               []string // signing kids in the order tokens first carried them
	samples, transient int      // JWKS agreement samples, and those that disagreed until a resample
	olderKidAccepted   int      // held tokens accepted after their key stopped signing
}

// failureLog counts failures and keeps the first few messages.
type failureLog struct {
	sent, failed atomic.Int64
	mu           sync.Mutex
	first        []string
}

func (f *failureLog) add(format string, args ...any) {
	f.failed.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.first) < 10 {
		f.first = append(f.first, time.Now().Format("15:04:05.000 ")+fmt.Sprintf(format, args...))
	}
}

// rotateUnderLoad sends tokens from the proxy to valuesapi until tokens carried three signing kids, killing and
// restarting replica 1 after the first rotation. Beside the load, it watches the replicas' JWKS and acts as a
// strict resource server of its own.
func (d *deployment) rotateUnderLoad(t *testing.T) rotationRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }() // also when a restart fails the test
	var fails failureLog
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}

	// The strict resource server: a snapshot of the JWKS refreshed on a timer and never on an unknown kid, so a
	// token signed with a key that was not published a refresh earlier is caught even if valuesapi were lenient.
	var snapshot atomic.Pointer[map[string]bool]
	refresh := func() error {
		keys, err := fetchJWKS(client, d.proxy.url)
		if err != nil {
			return fmt.Errorf("strict resource server: %w", err)
		}
		kids := map[string]bool{}
		for _, k := range keys {
			kids[k["kid"]] = true
		}
		snapshot.Store(&kids)
		return nil
	}
	if err := refresh(); err != nil {
		t.Fatal(err)
	}

	var kidsMu sync.Mutex
	var kids []string
	firstToken := map[string]time.Time{} // when a token first carried each kid
	wg.Go(func() {
		tick := time.NewTicker(jwksRefresh)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if err := refresh(); err != nil {
					fails.add("%v", err)
				}
			}
		}
	})
	var samples, transient atomic.Int64
	wg.Go(func() { d.watchJWKS(ctx, &fails, &samples, &transient) })

	const workers, maxIterations = 4, 5000
	const reuseFor = tokenLifetime / 2 // a held token outlives its key's signing but never its own exp
	var olderKidAccepted atomic.Int64  // held tokens of a key that no longer signs, accepted
	for w := range workers {
		wg.Go(func() {
			var held, heldKid string
			var heldAt time.Time
			for range maxIterations {
				if ctx.Err() != nil {
					return
				}
				fails.sent.Add(1)
				token, err := postToken(client, d.proxy.url, demoClient)
				if err != nil {
					fails.add("worker %d: %v", w, err)
					continue
				}
				header, err := decodeTokenHeader(token)
				kid, _ := header["kid"].(string)
				if err != nil || kid == "" {
					fails.add("worker %d: got token header %v (%v), want one with a kid", w, header, err)
					continue
				}
				kidsMu.Lock()
				if !slices.Contains(kids, kid) {
					kids = append(kids, kid)
					firstToken[kid] = time.Now()
				}
				kidsMu.Unlock()
				if known := *snapshot.Load(); !known[kid] {
					fails.add("worker %d: got a token signed with kid %s, want a kid of the JWKS published at least one refresh (%s) earlier %v: a key signed before it was published",
						w, kid, jwksRefresh, slices.Sorted(maps.Keys(known)))
				}
				fails.sent.Add(1)
				if err := callValues(client, d.api.url, token); err != nil {
					fails.add("worker %d: fresh token of kid %s: %v", w, kid, err)
				}
				if held == "" || time.Since(heldAt) > reuseFor {
					held, heldKid, heldAt = token, kid, time.Now()
				} else {
					fails.sent.Add(1)
					if err := callValues(client, d.api.url, held); err != nil {
						fails.add("worker %d: token of kid %s held for %s: %v", w, heldKid, time.Since(heldAt).Round(time.Millisecond), err)
					} else if heldKid != kid {
						olderKidAccepted.Add(1)
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}

	distinct := func() int {
		kidsMu.Lock()
		defer kidsMu.Unlock()
		return len(kids)
	}
	deadline := time.Now().Add(rotationWindow)
	restarted := false
	for time.Now().Before(deadline) {
		if !restarted && distinct() >= 2 {
			d.restart(t, 1)
			restarted = true
		}
		if restarted && distinct() >= 3 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !restarted {
		t.Errorf("no rotation within %s, so replica 1 was never restarted", rotationWindow)
	}
	cancel()
	wg.Wait()
	// Publish-before-use, measured: every kid but the first was in a replica's JWKS (sampled every 200 ms) for
	// at least half the announce period before the first token carried it. The snapshot check above only
	// catches a key signing within one refresh of its publication.
	d.seenMu.Lock()
	for _, kid := range kids[1:] {
		published, ok := d.firstSeen[kid]
		if gap := firstToken[kid].Sub(published); !ok || gap < keyAnnounce/2 {
			fails.add("kid %s: first token %s after it was first published (seen: %v), want at least %s of the %s announce period",
				kid, gap.Round(time.Millisecond), ok, keyAnnounce/2, keyAnnounce)
		}
	}
	d.seenMu.Unlock()
	return rotationRun{
		sent: fails.sent.Load(), failed: fails.failed.Load(), failures: fails.first, kids: kids,
		samples: int(samples.Load()), transient: int(transient.Load()), olderKidAccepted: int(olderKidAccepted.Load()),
	}
}

// watchJWKS fetches the JWKS of every serving replica directly every 200 ms and requires that they publish the
// same kids. A replica may lag by one reload, so a disagreement is sampled again until one reload and a margin
// have passed; only one that lasts that long counts as a failure.
func (d *deployment) watchJWKS(ctx context.Context, fails *failureLog, samples, transient *atomic.Int64) {
	client := &http.Client{Timeout: 2 * time.Second}
	sample := func() (map[string][]string, error) {
		sets := map[string][]string{}
		for _, s := range d.up() {
			keys, err := fetchJWKS(client, s.url)
			if err != nil {
				if !s.running() { // killed between up() and the fetch
					continue
				}
				return nil, fmt.Errorf("replica %s: %w", s.addr, err)
			}
			var kids []string
			for _, k := range keys {
				kids = append(kids, k["kid"])
			}
			slices.Sort(kids)
			sets[s.addr] = kids
			d.seenMu.Lock()
			for _, kid := range kids {
				if _, ok := d.firstSeen[kid]; !ok {
					d.firstSeen[kid] = time.Now()
				}
			}
			d.seenMu.Unlock()
		}
		return sets, nil
	}
	agree := func(sets map[string][]string) bool {
		var first []string
		for _, kids := range sets {
			if len(kids) == 0 {
				return false
			}
			if first == nil {
				first = kids
			} else if !slices.Equal(first, kids) {
				return false
			}
		}
		return true
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for range 1000 {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		samples.Add(1)
		sets, err := sample()
		if err != nil {
			fails.add("JWKS watch: %v", err)
			continue
		}
		if agree(sets) {
			continue
		}
		transient.Add(1)
		first := sets
		settled := time.Now().Add(keyReload + settleMargin)
		for !agree(sets) && time.Now().Before(settled) && ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
			if sets, err = sample(); err != nil {
				break
			}
		}
		if err != nil {
			fails.add("JWKS watch: %v", err)
		} else if !agree(sets) && ctx.Err() == nil {
			fails.add("JWKS watch: replicas published %v, still %v after %s, want one set of kids within one reload (%s)",
				first, sets, keyReload+settleMargin, keyReload)
		}
	}
}

// requireRejoined: the restarted replica publishes what the others publish and signs with the same key.
func (d *deployment) requireRejoined(t *testing.T, restarted int) {
	t.Helper()
	replicas := d.up()
	if len(replicas) != 3 {
		t.Fatalf("got %d replicas serving, want 3", len(replicas))
	}
	back, other := replicas[restarted], replicas[(restarted+1)%3]
	// Two reads can straddle a rotation or a key's creation: read again, a few times, until they agree.
	var gotBack, gotOther []string
	for range 5 {
		gotBack, gotOther = slices.Sorted(slices.Values(jwksKids(t, back.url))), slices.Sorted(slices.Values(jwksKids(t, other.url)))
		if slices.Equal(gotBack, gotOther) {
			break
		}
		time.Sleep(keyReload)
	}
	if !slices.Equal(gotBack, gotOther) {
		t.Errorf("restarted replica publishes %q, want %q as replica %s does", gotBack, gotOther, other.addr)
	}
	var kidBack, kidOther string
	for range 5 {
		kidBack, kidOther = tokenKid(t, fetchToken(t, back.url)), tokenKid(t, fetchToken(t, other.url))
		if kidBack == kidOther {
			break
		}
		time.Sleep(keyReload)
	}
	if kidBack != kidOther {
		t.Errorf("restarted replica signs with kid %s, want %s as replica %s does", kidBack, kidOther, other.addr)
	}
}

// requireKeysListed: `authserver keys list` on the running deployment shows every published kid with a state.
func (d *deployment) requireKeysListed(t *testing.T, storeFlags []string) {
	t.Helper()
	states := map[string]bool{"announced": true, "signing": true, "retained": true}
	// The published set may change while the command runs: try again until it is the same before and after.
	published := func() []string {
		var kids []string
		for _, s := range d.up() {
			kids = append(kids, jwksKids(t, s.url)...)
		}
		slices.Sort(kids)
		return slices.Compact(kids)
	}
	for attempt := 1; ; attempt++ {
		before := published()
		out := runKeys(t, append([]string{"list"}, storeFlags...)...)
		if !slices.Equal(before, published()) && attempt < 5 {
			continue
		}
		t.Logf("keys list, while the replicas publish %q:\n%s", before, out)
		for _, kid := range before {
			line := lineWith(out, kid)
			if line == "" || !slices.ContainsFunc(strings.Fields(line), func(f string) bool { return states[f] }) {
				t.Errorf("keys list shows published kid %s as %q, want a line with it and a state of announced, signing or retained; output:\n%s", kid, line, out)
			}
		}
		return
	}
}

// requireDeletedKeyRefused: once the first key is past its retain time (its file gone, its kid out of every
// replica's JWKS), a token freshly forged with it is refused within one valuesapi refresh.
func (d *deployment) requireDeletedKeyRefused(t *testing.T, keyDir string, first *forger) {
	t.Helper()
	file := slotFile(keyDir, 1)
	deadline := time.Now().Add(2*(keyRotation+keyRetain) + settleMargin)
	for {
		_, err := os.Stat(file)
		gone := errors.Is(err, os.ErrNotExist)
		for _, s := range d.up() {
			if slices.Contains(jwksKids(t, s.url), first.kid) {
				gone = false
			}
		}
		if gone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("key %s of slot 1 still in %s or a replica's JWKS at %s, want it deleted after %s of rotation and %s of retain",
				first.kid, file, time.Now().Format(time.TimeOnly), keyRotation, keyRetain)
		}
		time.Sleep(100 * time.Millisecond)
	}
	token := first.forge(t, d.proxy.url)
	status, challenge := pollStatus(t, d.api.url, token, http.StatusUnauthorized, jwksRefresh+settleMargin)
	if status != http.StatusUnauthorized || !strings.Contains(challenge, `error="invalid_token"`) {
		t.Errorf("token forged with the deleted key %s: got %d %q, want 401 invalid_token within %s of the deletion",
			first.kid, status, challenge, jwksRefresh+settleMargin)
	} else {
		t.Logf("token forged with the deleted key %s of slot 1 refused: %d %s", first.kid, status, challenge)
	}
}

// requireRetireWithdraws: `authserver keys retire KID` on the signing key makes valuesapi refuse its tokens within
// one refresh and one reload, and every replica signs with another key that valuesapi accepts.
func (d *deployment) requireRetireWithdraws(t *testing.T, storeFlags []string) {
	t.Helper()
	// Retire just after a rotation, while the key before is retained for most of --key-retain: it signs again.
	// Retired at another instant, the signer may be the only live key that can sign (its predecessor just
	// deleted, its successor not yet active), and authserver rightly makes a key that signs at once.
	token := fetchToken(t, d.proxy.url)
	was := tokenKid(t, token)
	kid := was
	for deadline := time.Now().Add(keyRotation + settleMargin); kid == was && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		token = fetchToken(t, d.proxy.url)
		kid = tokenKid(t, token)
	}
	if kid == was {
		t.Fatalf("tokens still signed with %s after %s, want a rotation within --key-rotation", kid, keyRotation+settleMargin)
	}
	wantStatus(t, d.api.url, token, http.StatusOK, "token before retiring its key")
	runKeys(t, append([]string{"retire", kid}, storeFlags...)...)
	retired := time.Now()

	within := jwksRefresh + keyReload + settleMargin
	status, challenge := pollStatus(t, d.api.url, token, http.StatusUnauthorized, within)
	if status != http.StatusUnauthorized {
		t.Errorf("token of the retired key %s: got %d %q %s after retiring, want 401 within %s", kid, status, challenge,
			time.Since(retired).Round(time.Millisecond), within)
	} else {
		t.Logf("token of the retired key %s refused %s after `keys retire` returned", kid, time.Since(retired).Round(time.Millisecond))
	}
	if line := lineWith(runKeys(t, append([]string{"list"}, storeFlags...)...), kid); !slices.Contains(strings.Fields(line), "retired") {
		t.Errorf("keys list shows the retired key as %q, want the state retired", line)
	}
	for _, s := range d.up() {
		got := tokenKid(t, fetchToken(t, s.url))
		for got == kid && time.Since(retired) < keyReload+settleMargin {
			time.Sleep(50 * time.Millisecond)
			got = tokenKid(t, fetchToken(t, s.url))
		}
		if got == kid {
			t.Errorf("replica %s still signs with the retired key %s %s after retiring, want another within %s", s.addr, kid,
				time.Since(retired).Round(time.Millisecond), keyReload+settleMargin)
		}
		if slices.Contains(jwksKids(t, s.url), kid) {
			t.Errorf("replica %s still publishes the retired key %s, want it withdrawn", s.addr, kid)
		}
	}
	fresh := fetchToken(t, d.proxy.url)
	if got := tokenKid(t, fresh); got == kid {
		t.Errorf("got a new token signed with the retired key %s, want another kid", kid)
	}
	wantStatus(t, d.api.url, fresh, http.StatusOK, "new token after retiring "+kid)
}

// createdKey is the log line of a replica that made the key of a slot.
var createdKey = regexp.MustCompile(`(?m)^\s*time=(\S+) .*msg="created signing key".* slot=(\d+) kid=(\S+) .*activates=(\S+)`)

// requireKeyCreations reads the "created signing key" lines of every replica: each slot's key was made by exactly
// one replica once (two lines for one slot mean the slot lock let two replicas in), at least three keys were made,
// and only the first key of the empty store was made to sign at once: every other one was published at least
// --key-announce before it signs.
func requireKeyCreations(t *testing.T, logs string) {
	t.Helper()
	bySlot := map[string][]string{}
	var immediate []string
	for _, m := range createdKey.FindAllStringSubmatch(logs, -1) {
		logged, err1 := time.Parse(time.RFC3339Nano, m[1])
		activates, err2 := time.Parse(time.RFC3339Nano, m[4])
		if err := errors.Join(err1, err2); err != nil {
			t.Errorf("created signing key line of slot %s: %v", m[2], err)
			continue
		}
		bySlot[m[2]] = append(bySlot[m[2]], m[3])
		// The log line comes a little after the key's publication: halfway between at once and announced.
		if activates.Sub(logged) < keyAnnounce/2 {
			immediate = append(immediate, fmt.Sprintf("slot %s (logged %s, activates %s)", m[2], m[1], m[4]))
		}
	}
	if len(bySlot) < 3 {
		t.Errorf("got created signing key lines for %d slots, want at least 3", len(bySlot))
	}
	for slot, kids := range bySlot {
		if len(kids) != 1 {
			t.Errorf("slot %s: got %d created signing key lines (kids %q), want exactly 1", slot, len(kids), kids)
		}
	}
	if len(immediate) > 1 {
		t.Errorf("got %d keys made to sign at once: %s; want only the first key of the empty store, every later one announced %s before it signs",
			len(immediate), strings.Join(immediate, ", "), keyAnnounce)
	}
}

// runKeys runs `authserver keys ARGS...` with the test's environment, requires exit 0 and returns its output.
func runKeys(t *testing.T, args ...string) string {
	t.Helper()
	args = append(append([]string{"keys"}, args...), scheduleFlags...)
	cmd := exec.Command(filepath.Join(binDir, "authserver"), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatalf("authserver %s: %v", strings.Join(args, " "), err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("authserver %s: got %v, want exit 0; output:\n%s", strings.Join(args, " "), err, out.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("authserver %s did not exit within 30s; output:\n%s", strings.Join(args, " "), out.String())
	}
	return out.String()
}

// pollStatus calls the API with the token until it answers want or the time is up, and returns the last answer.
func pollStatus(t *testing.T, apiURL, token string, want int, within time.Duration) (int, string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		status, challenge := getValues(t, apiURL, token)
		if status == want || time.Now().After(deadline) {
			return status, challenge
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tokenKid(t *testing.T, token string) string {
	t.Helper()
	kid, _ := tokenHeader(t, token)["kid"].(string)
	if kid == "" {
		t.Fatalf("token header %v has no kid", tokenHeader(t, token))
	}
	return kid
}

func lineWith(text, word string) string {
	for line := range strings.Lines(text) {
		if strings.Contains(line, word) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}
