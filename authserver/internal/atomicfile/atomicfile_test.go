package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	if err := Create(path, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Create(path, []byte("second"), 0o600); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Create: got %v, want fs.ErrExist", err)
	}
	checkFile(t, path, "first", 0o600)
}

func TestReplace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cert")
	for _, data := range []string{"old", "new"} {
		if err := Replace(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	checkFile(t, path, "new", 0o644)
}

// checkFile also requires that no temporary file is left beside path.
func checkFile(t *testing.T, path, want string, mode os.FileMode) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Fatalf("got %q, %v; want %q", got, err, want)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != mode {
		t.Errorf("mode: got %v, %v; want %v", info.Mode().Perm(), err, mode)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("the folder holds %d entries, want only %s", len(entries), filepath.Base(path))
	}
}
