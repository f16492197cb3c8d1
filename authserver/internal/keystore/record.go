package keystore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Sealer encrypts records at rest with AES-256-GCM. The slot number is
// authenticated with each record, so a sealed record copied into another
// slot does not open.
type Sealer struct{ aead cipher.AEAD }

// EncryptionKeyEnv names the variable holding the key-encryption key: 32
// random bytes in base64 (openssl rand -base64 32).
const EncryptionKeyEnv = "AUTHSERVER_KEY_ENCRYPTION_KEY"

// NewSealer returns the sealer for a key given as base64 (standard or URL
// alphabet, padded or not) of exactly 32 bytes. Its errors never repeat the
// key.
func NewSealer(encoded string) (*Sealer, error) {
	encoded = strings.TrimSpace(encoded)
	var key []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err = enc.Strict().DecodeString(encoded); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s is not base64", EncryptionKeyEnv)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("%s decodes to %d bytes, want 32 (make one with: openssl rand -base64 32)", EncryptionKeyEnv, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

func recordAAD(slot int64) []byte {
	return []byte("tokenbearer authserver key record v1 slot " + strconv.FormatInt(slot, 10))
}

func (s *Sealer) seal(slot int64, plain []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return s.aead.Seal(nonce, nonce, plain, recordAAD(slot))
}

func (s *Sealer) open(slot int64, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed record too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], recordAAD(slot))
	if err != nil {
		return nil, fmt.Errorf("record does not open with %s (another key, or altered)", EncryptionKeyEnv)
	}
	return plain, nil
}

// plainRecord is a record in clear: the private JWK with its schedule.
type plainRecord struct {
	Slot      int64           `json:"slot"`
	Published time.Time       `json:"published,omitzero"`
	Activates time.Time       `json:"activates,omitzero"`
	Retain    string          `json:"retain,omitempty"` // a Go duration
	Retired   *time.Time      `json:"retired,omitempty"`
	Key       json.RawMessage `json:"key,omitempty"`
}

// storedRecord is what a Source writes: the plain record, or with a Sealer
// the same encrypted, beside the kid and alg so that an operator reading the
// store can tell the keys apart.
type storedRecord struct {
	plainRecord
	KeyID     string `json:"kid,omitempty"`
	Algorithm string `json:"alg,omitempty"`
	Sealed    string `json:"sealed,omitempty"`
}

// EncodeRecord encodes r for a Source, encrypted when s is not nil.
func EncodeRecord(r Record, s *Sealer) ([]byte, error) {
	jwk, err := MarshalJWK(r.Key)
	if err != nil {
		return nil, err
	}
	p := plainRecord{Slot: r.Slot, Published: r.Published.UTC(), Activates: r.Activates.UTC(), Key: jwk}
	if r.Retain > 0 {
		p.Retain = r.Retain.String()
	}
	if !r.Retired.IsZero() {
		t := r.Retired.UTC()
		p.Retired = &t
	}
	if s == nil {
		return json.MarshalIndent(p, "", "  ")
	}
	plain, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return json.Marshal(storedRecord{
		plainRecord: plainRecord{Slot: r.Slot},
		KeyID:       r.Key.ID, Algorithm: r.Key.Algorithm,
		Sealed: base64.RawURLEncoding.EncodeToString(s.seal(r.Slot, plain)),
	})
}

// DecodeRecord decodes what EncodeRecord wrote. With a Sealer it accepts
// only sealed records: a clear record in an encrypted store was not written
// by a holder of the key-encryption key. Without one a sealed record is an
// error that names the variable to set.
func DecodeRecord(data []byte, s *Sealer) (Record, error) {
	var st storedRecord
	if err := json.Unmarshal(data, &st); err != nil {
		return Record{}, fmt.Errorf("decoding key record: %w", err)
	}
	p := st.plainRecord
	switch {
	case st.Sealed != "" && s == nil:
		return Record{}, fmt.Errorf("key record of slot %d is encrypted: set %s", st.Slot, EncryptionKeyEnv)
	case st.Sealed == "" && s != nil:
		return Record{}, fmt.Errorf("key record of slot %d is not encrypted, but %s is set: refusing a key that a holder of the encryption key did not write", st.Slot, EncryptionKeyEnv)
	case st.Sealed != "":
		sealed, err := base64.RawURLEncoding.DecodeString(st.Sealed)
		if err != nil {
			return Record{}, fmt.Errorf("key record of slot %d: sealed is not base64url", st.Slot)
		}
		plain, err := s.open(st.Slot, sealed)
		if err != nil {
			return Record{}, fmt.Errorf("key record of slot %d: %w", st.Slot, err)
		}
		// Only the sealed members count: a retired (or any time) beside
		// the seal is not authenticated and must not reach the record.
		p = plainRecord{}
		if err := json.Unmarshal(plain, &p); err != nil {
			return Record{}, fmt.Errorf("key record of slot %d: %w", st.Slot, err)
		}
		if p.Slot != st.Slot {
			return Record{}, fmt.Errorf("key record of slot %d holds slot %d", st.Slot, p.Slot)
		}
	}
	if p.Slot < 1 {
		return Record{}, fmt.Errorf("key record: slot %d, want 1 or more", p.Slot)
	}
	key, err := ParseJWK(p.Key)
	if err != nil {
		return Record{}, fmt.Errorf("key record of slot %d: %w", p.Slot, err)
	}
	if st.Sealed != "" && (st.KeyID != key.ID || st.Algorithm != key.Algorithm) {
		return Record{}, fmt.Errorf("key record of slot %d: kid or alg beside the sealed key differ from the key's", p.Slot)
	}
	r := Record{Slot: p.Slot, Key: key, Published: p.Published, Activates: p.Activates}
	if p.Retain != "" {
		if r.Retain, err = time.ParseDuration(p.Retain); err != nil || r.Retain < 0 {
			return Record{}, fmt.Errorf("key record of slot %d: retain %q is not a duration", p.Slot, p.Retain)
		}
	}
	if p.Retired != nil {
		r.Retired = *p.Retired
	}
	if r.Published.IsZero() || r.Activates.IsZero() {
		return Record{}, fmt.Errorf("key record of slot %d: published and activates are required", p.Slot)
	}
	return r, nil
}
