// Package atomicfile writes files so that a reader never sees a partial one:
// the data goes to a temporary file beside the target, with its mode set
// before any byte is written (a key is never readable by others, even
// briefly), synced, and then moved into place.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Create puts data at path only if nothing is there: the temporary file is
// hard-linked to path, which fails with an error wrapping fs.ErrExist when
// path exists, so of two simultaneous creators exactly one wins.
func Create(path string, data []byte, mode os.FileMode) error {
	return write(path, data, mode, os.Link)
}

// Replace puts data at path, replacing what is there, with a rename.
func Replace(path string, data []byte, mode os.FileMode) error {
	return write(path, data, mode, os.Rename)
}

func write(path string, data []byte, mode os.FileMode, place func(tmp, path string) error) error {
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
	if err := place(tmp, path); err != nil {
		return err
	}
	// Persist the new name itself; not every platform can sync a directory.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
