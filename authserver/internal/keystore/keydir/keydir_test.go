package keydir_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenbearer/authserver/internal/keystore"
	"github.com/tokenbearer/authserver/internal/keystore/keydir"
	"github.com/tokenbearer/authserver/internal/keystore/sourcetest"
)

func testSealer(t *testing.T) *keystore.Sealer {
	t.Helper()
	s, err := keystore.NewSealer(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newDir(t *testing.T, dir string, s *keystore.Sealer) *keydir.Dir {
	t.Helper()
	d, err := keydir.New(dir, s)
	if err != nil {
		t.Fatalf("New(%s): %v", dir, err)
	}
	return d
}

func TestDir(t *testing.T) {
	for _, tt := range []struct {
		name   string
		sealer *keystore.Sealer
	}{
		{"plain", nil},
		{"sealed", testSealer(t)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sourcetest.Run(t, func(t *testing.T) (first, second keystore.Source) {
				dir := t.TempDir()
				return newDir(t, dir, tt.sealer), newDir(t, dir, tt.sealer)
			})
		})
	}
}

func testRecord(t *testing.T, slot int64) keystore.Record {
	t.Helper()
	k, err := keystore.Generate(keystore.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	published := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	return keystore.Record{Slot: slot, Key: k, Published: published, Activates: published.Add(time.Hour)}
}

func encode(t *testing.T, r keystore.Record) []byte {
	t.Helper()
	data, err := keystore.EncodeRecord(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("mode of %s: got %v, want %v", path, got, want)
	}
}

func TestModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "keys")
	d := newDir(t, dir, nil)
	checkMode(t, dir, 0o700)
	r := testRecord(t, 1)
	if err := d.Create(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "slot-000001.json")
	checkMode(t, file, 0o600)
	r.Retired = r.Activates
	if err := d.Update(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	checkMode(t, file, 0o600)
}

func TestNewRefusesAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := keydir.New(file, nil); err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("New of a regular file: got %v, want an error naming %s", err, file)
	}
}

// TestFileNames: a slot's file is named for it, and List sorts by slot
// where the names do not (slot-999999 after slot-1000000).
func TestFileNames(t *testing.T) {
	dir := t.TempDir()
	d := newDir(t, dir, nil)
	for _, slot := range []int64{1000000, 999999, 42} {
		if err := d.Create(context.Background(), testRecord(t, slot)); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"slot-000042.json", "slot-999999.json", "slot-1000000.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("file of the slot: got %v, want %s", err, name)
		}
	}
	rs, err := d.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, r := range rs {
		got = append(got, r.Slot)
	}
	if len(got) != 3 || got[0] != 42 || got[1] != 999999 || got[2] != 1000000 {
		t.Errorf("List: got slots %v, want [42 999999 1000000]", got)
	}
}

// TestListIgnoresOtherFiles: atomicfile's temporary files (dotfiles) and
// names Create never writes are not keys, whatever they hold.
func TestListIgnoresOtherFiles(t *testing.T) {
	dir := t.TempDir()
	d := newDir(t, dir, nil)
	r := testRecord(t, 1)
	if err := d.Create(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		".slot-000001.json.tmp-123",
		".slot-000002.json",
		"README",
		"slot-1.json",
		"slot-0000001.json",
		"slot-+00001.json",
		"slot-000000.json",
		"slot-000003.json.bak",
		"slot-000004.jwk",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("not a record"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := d.List(context.Background())
	if err != nil {
		t.Fatalf("List: got %v, want the key of slot 1", err)
	}
	if len(rs) != 1 || rs[0].Slot != 1 || rs[0].Key.ID != r.Key.ID {
		t.Errorf("List: got %d records, want the key of slot 1 alone", len(rs))
	}
}

func TestListRefusesABadFile(t *testing.T) {
	tests := []struct {
		name    string
		data    func(t *testing.T) []byte // written to slot-000001.json
		wantErr string
	}{
		{"corrupt", func(*testing.T) []byte { return []byte(`{"slot": 1, "key": {"kty": "OK`) }, "decoding key record"},
		{"empty", func(*testing.T) []byte { return nil }, "decoding key record"},
		{"another slot inside", func(t *testing.T) []byte { return encode(t, testRecord(t, 2)) }, "holds the key of slot 2"},
		{"sealed in a plain directory", func(t *testing.T) []byte {
			data, err := keystore.EncodeRecord(testRecord(t, 1), testSealer(t))
			if err != nil {
				t.Fatal(err)
			}
			return data
		}, keystore.EncryptionKeyEnv},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			d := newDir(t, dir, nil)
			if err := d.Create(context.Background(), testRecord(t, 3)); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(dir, "slot-000001.json")
			if err := os.WriteFile(file, tt.data(t), 0o600); err != nil {
				t.Fatal(err)
			}
			rs, err := d.List(context.Background())
			if err == nil {
				t.Fatalf("List: got %d records, want an error naming %s", len(rs), file)
			}
			if !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("List: got %q, want an error naming %s and containing %q", err, file, tt.wantErr)
			}
		})
	}
}

func TestNewRefusesAWorldWritableDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := keydir.New(dir, nil); err == nil || !strings.Contains(err.Error(), "writable by every user") {
		t.Errorf("got %v, want a world-writable key directory refused", err)
	}
}

func TestNewRemovesStaleTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	stale, fresh := filepath.Join(dir, ".slot-000001.json.tmp-1"), filepath.Join(dir, ".slot-000002.json.tmp-2")
	for _, f := range []string{stale, fresh} {
		if err := os.WriteFile(f, []byte(`{"d":"secret"}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := keydir.New(dir, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a temporary file an hour old is still there (%v), want it removed", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a fresh temporary file, perhaps a write in progress, was removed: %v", err)
	}
}
