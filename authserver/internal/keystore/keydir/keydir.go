// Package keydir keeps the signing keys (keystore.Source) in a directory,
// one file per slot, for replicas sharing a volume.
//
// A slot's file is created with a hard link (atomicfile.Create), which fails
// when the name exists: the link is the slot's lock, so of several replicas
// creating one slot at once exactly one succeeds, on any file system with
// hard links. Files are never written in place, so a reader never sees a
// partial one.
package keydir

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tokenbearer/authserver/internal/atomicfile"
	"github.com/tokenbearer/authserver/internal/keystore"
)

const (
	dirMode  = 0o700
	fileMode = 0o600
	// A slot's file is slot-%06d.json; slots past 999999 have longer names.
	filePrefix = "slot-"
	fileSuffix = ".json"
)

// Dir is a key directory. It is safe for concurrent use, also by several
// processes.
type Dir struct {
	path   string
	sealer *keystore.Sealer
}

var _ keystore.Source = (*Dir)(nil)

// New returns the key directory at dir, creating it (mode 0700) if missing.
// With a sealer the records are encrypted; without one the private keys are
// in clear, protected by the file modes alone.
func New(dir string, s *keystore.Sealer) (*Dir, error) {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("creating key directory: %w", err)
	}
	// MkdirAll succeeds on an existing directory but not on a file; this
	// also catches a symlink to something else than a directory.
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("opening key directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("key directory %s is not a directory", dir)
	}
	// Anyone who can write here can add a key that signs. Group write is
	// left alone: a Kubernetes volume with an fsGroup is group-writable.
	if fi.Mode().Perm()&0o002 != 0 {
		return nil, fmt.Errorf("key directory %s is writable by every user (mode %04o): chmod o-w it", dir, fi.Mode().Perm())
	}
	removeStaleTemps(dir)
	return &Dir{path: dir, sealer: s}, nil
}

func (d *Dir) file(slot int64) string {
	return filepath.Join(d.path, fmt.Sprintf("%s%06d%s", filePrefix, slot, fileSuffix))
}

// slotOf returns the slot a file name is for, or false for a name that is
// not a slot's file.
func slotOf(name string) (int64, bool) {
	digits, ok := strings.CutPrefix(name, filePrefix)
	if !ok {
		return 0, false
	}
	digits, ok = strings.CutSuffix(digits, fileSuffix)
	if !ok {
		return 0, false
	}
	slot, err := strconv.ParseInt(digits, 10, 64)
	// Only the name Create writes counts: slot-1.json or slot-0000001.json
	// would be a second file for slot 1.
	if err != nil || slot < 1 || fmt.Sprintf("%06d", slot) != digits {
		return 0, false
	}
	return slot, true
}

// List reads every slot's file. Any file that does not decode, or holds
// another slot than its name says, fails the whole List with an error naming
// it: a caller keeps its last good keys rather than run without one.
func (d *Dir) List(ctx context.Context) ([]keystore.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("listing keys: %w", err)
	}
	entries, err := os.ReadDir(d.path)
	if err != nil {
		return nil, fmt.Errorf("listing keys: %w", err)
	}
	var rs []keystore.Record
	for _, e := range entries {
		slot, ok := slotOf(e.Name()) // skips atomicfile's temporary files, which start with "."
		if !ok {
			continue
		}
		path := filepath.Join(d.path, e.Name())
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since ReadDir
		}
		if err != nil {
			return nil, fmt.Errorf("listing keys: %w", err)
		}
		r, err := keystore.DecodeRecord(data, d.sealer)
		if err != nil {
			return nil, fmt.Errorf("listing keys: %s: %w", path, err)
		}
		if r.Slot != slot {
			return nil, fmt.Errorf("listing keys: %s holds the key of slot %d", path, r.Slot)
		}
		rs = append(rs, r)
	}
	// ReadDir sorts by name, which is slot order only up to slot 999999.
	slices.SortFunc(rs, func(a, b keystore.Record) int { return cmp.Compare(a.Slot, b.Slot) })
	return rs, nil
}

// Create writes r's file if the slot has none.
func (d *Dir) Create(ctx context.Context, r keystore.Record) error {
	data, err := d.encode(ctx, r)
	if err != nil {
		return fmt.Errorf("creating key: %w", err)
	}
	err = atomicfile.Create(d.file(r.Slot), data, fileMode)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("creating key of slot %d: %w", r.Slot, keystore.ErrSlotTaken)
	}
	if err != nil {
		return fmt.Errorf("creating key of slot %d: %w", r.Slot, err)
	}
	return nil
}

// Update replaces the file of r's slot. The check and the rename are two
// steps: an Update racing a Delete of the same slot may leave the file
// there, as if the Delete had come first.
func (d *Dir) Update(ctx context.Context, r keystore.Record) error {
	data, err := d.encode(ctx, r)
	if err != nil {
		return fmt.Errorf("updating key: %w", err)
	}
	path := d.file(r.Slot)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("updating key of slot %d: %w", r.Slot, keystore.ErrNoSuchSlot)
	} else if err != nil {
		return fmt.Errorf("updating key of slot %d: %w", r.Slot, err)
	}
	if err := atomicfile.Replace(path, data, fileMode); err != nil {
		return fmt.Errorf("updating key of slot %d: %w", r.Slot, err)
	}
	return nil
}

// Delete removes the slot's file.
func (d *Dir) Delete(ctx context.Context, slot int64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("deleting key: %w", err)
	}
	if slot < 1 {
		return nil // no file can hold it
	}
	if err := os.Remove(d.file(slot)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("deleting key of slot %d: %w", slot, err)
	}
	return nil
}

func (d *Dir) encode(ctx context.Context, r keystore.Record) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.Slot < 1 {
		return nil, fmt.Errorf("slot %d, want 1 or more", r.Slot)
	}
	return keystore.EncodeRecord(r, d.sealer)
}

// staleAfter is how old a temporary file of atomicfile must be to be the
// leftover of a crash rather than a write in progress.
const staleAfter = 10 * time.Minute

// removeStaleTemps deletes the temporary files a crash between write and
// link left behind: each holds a private key, in clear without a sealer.
func removeStaleTemps(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "."+filePrefix) || !strings.Contains(e.Name(), ".tmp-") {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleAfter {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
