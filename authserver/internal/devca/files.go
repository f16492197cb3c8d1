package devca

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/tokenbearer/authserver/internal/atomicfile"
)

// WriteLeaf writes dir/tls.key (0600) and dir/tls.crt (0644), each
// replaced atomically so that a server reloading the pair never reads half
// a file. The key goes first: a reloader watching tls.crt then finds the
// key that matches it.
func WriteLeaf(dir string, certPEM, keyPEM []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating directory: %w", err)
	}
	if err := atomicfile.Replace(filepath.Join(dir, LeafKeyFile), keyPEM, 0o600); err != nil {
		return fmt.Errorf("writing leaf key: %w", err)
	}
	if err := atomicfile.Replace(filepath.Join(dir, LeafCertFile), certPEM, 0o644); err != nil {
		return fmt.Errorf("writing leaf certificate: %w", err)
	}
	return nil
}
