package devca

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteLeaf writes dir/tls.key (0600) and dir/tls.crt (0644), each
// replaced atomically so that a server reloading the pair never reads half
// a file. The key goes first: a reloader watching tls.crt then finds the
// key that matches it.
func WriteLeaf(dir string, certPEM, keyPEM []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating directory: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, LeafKeyFile), keyPEM, 0o600, true); err != nil {
		return fmt.Errorf("writing leaf key: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, LeafCertFile), certPEM, 0o644, true); err != nil {
		return fmt.Errorf("writing leaf certificate: %w", err)
	}
	return nil
}

// writeFileAtomic writes data to a temporary file beside path, with mode
// set before any byte is written (a key is never readable by others, even
// briefly), and then renames it over path, or, when replace is false, links
// it to path, which fails with fs.ErrExist if path has appeared meanwhile.
func writeFileAtomic(path string, data []byte, mode os.FileMode, replace bool) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a link, only the temporary name goes
	err = f.Chmod(mode)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if replace {
		err = os.Rename(tmp, path)
	} else if err = os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
		err = fmt.Errorf("%s was created by another run meanwhile; run again: %w", path, err)
	}
	if err != nil {
		return err
	}
	// Persist the new name itself; not every platform can sync a directory.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
