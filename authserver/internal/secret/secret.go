// Package secret hashes client secrets for storage and checks presented
// secrets against the stored hashes in constant time.
//
// The stored format is the IdentityServer one with an explicit algorithm
// prefix: "sha256:" followed by the standard base64 encoding of the SHA-256
// digest of the secret.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

const prefix = "sha256:"

// Hash is a parsed stored secret hash.
type Hash struct {
	digest [sha256.Size]byte
}

// HashOf returns the stored form of a plain secret.
func HashOf(plain string) string {
	sum := sha256.Sum256([]byte(plain))
	return prefix + base64.StdEncoding.EncodeToString(sum[:])
}

// Parse reads a stored hash of the form "sha256:<std base64 of 32 bytes>".
// Only the one canonical spelling is accepted, the one HashOf prints, so
// that a hash has one text to compare, grep or audit.
func Parse(stored string) (Hash, error) {
	enc, ok := strings.CutPrefix(stored, prefix)
	if !ok {
		return Hash{}, errors.New(`secret hash must start with "sha256:"`)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(enc)
	if err != nil {
		return Hash{}, fmt.Errorf("decoding secret hash: %w", err)
	}
	// Strict refuses missing padding and stray trailing bits but still
	// skips CR and LF anywhere; encoding back refuses every other spelling.
	if base64.StdEncoding.EncodeToString(raw) != enc {
		return Hash{}, errors.New("decoding secret hash: must be one line of canonical standard base64")
	}
	if len(raw) != sha256.Size {
		return Hash{}, fmt.Errorf("secret hash is %d bytes, want %d", len(raw), sha256.Size)
	}
	var h Hash
	copy(h.digest[:], raw)
	return h, nil
}

// compare is the one comparison of digests. It is a variable only so that
// tests can count its calls: == or bytes.Equal would stop at the first
// differing byte and tell an attacker how much of a digest they got right.
var compare = subtle.ConstantTimeCompare

// MatchesAny reports whether plain matches one of hashes. It checks all of
// them so the time taken does not tell which one matched.
func MatchesAny(hashes []Hash, plain string) bool {
	sum := sha256.Sum256([]byte(plain))
	match := 0
	for _, h := range hashes {
		match |= compare(sum[:], h.digest[:])
	}
	return match == 1
}

// Generate returns a fresh random secret: 32 bytes from crypto/rand,
// base64url encoded without padding.
func Generate() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails since Go 1.24
	return base64.RawURLEncoding.EncodeToString(b)
}
