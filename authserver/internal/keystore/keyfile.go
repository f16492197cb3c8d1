package keystore

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
)

// privateRSAJWK is the key file format: an RSA private JWK (RFC 7518 6.3).
type privateRSAJWK struct {
	KeyType   string `json:"kty"`
	Use       string `json:"use,omitempty"`
	Algorithm string `json:"alg,omitempty"`
	KeyID     string `json:"kid,omitempty"`
	N         string `json:"n"`
	E         string `json:"e"`
	D         string `json:"d"`
	P         string `json:"p"`
	Q         string `json:"q"`
	DP        string `json:"dp,omitempty"`
	DQ        string `json:"dq,omitempty"`
	QI        string `json:"qi,omitempty"`
}

// LoadOrCreateRSA returns the RS256 key stored at path. If no file exists it
// generates an RSA-2048 key and creates the file atomically with mode 0600.
// Several processes sharing the file (replicas on one volume) starting at the
// same instant agree on one key: the first file to land wins and the others
// load it. An unreadable or invalid file is an error; it is never replaced.
func LoadOrCreateRSA(path string) (key Key, created bool, err error) {
	key, err = loadRSA(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	priv, err := rsa.GenerateKey(rand.Reader, MinRSABits)
	if err != nil {
		return Key{}, false, fmt.Errorf("generating rsa key: %w", err)
	}
	key, err = NewKey(RS256, priv)
	if err != nil {
		return Key{}, false, err
	}
	data, err := MarshalRSAJWK(key)
	if err != nil {
		return Key{}, false, err
	}
	err = createFileAtomic(path, data)
	if errors.Is(err, fs.ErrExist) {
		// Another process created the file since we looked: use its key.
		key, err = loadRSA(path)
		return key, false, err
	}
	if err != nil {
		return Key{}, false, fmt.Errorf("writing key file: %w", err)
	}
	return key, true, nil
}

// loadRSA reads the key file at path; a missing file is an error wrapping
// fs.ErrNotExist.
func loadRSA(path string) (Key, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Key{}, err
	}
	if err != nil {
		return Key{}, fmt.Errorf("reading key file: %w", err)
	}
	key, err := ParseRSAJWK(data)
	if err != nil {
		return Key{}, fmt.Errorf("key file %s: %w", path, err)
	}
	return key, nil
}

// MarshalRSAJWK encodes an RSA key as a private JWK including kid and alg.
func MarshalRSAJWK(k Key) ([]byte, error) {
	priv, ok := k.Signer.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("marshaling key: want an RSA key, got %T", k.Signer)
	}
	priv.Precompute()
	enc := func(n *big.Int) string { return b64.EncodeToString(n.Bytes()) }
	pub := publicJWK(priv.Public())
	j := privateRSAJWK{
		KeyType: "RSA", Use: "sig", Algorithm: k.Algorithm, KeyID: k.ID,
		N: pub.N, E: pub.E, D: enc(priv.D), P: enc(priv.Primes[0]), Q: enc(priv.Primes[1]),
		DP: enc(priv.Precomputed.Dp), DQ: enc(priv.Precomputed.Dq), QI: enc(priv.Precomputed.Qinv),
	}
	return json.MarshalIndent(j, "", "  ")
}

// ParseRSAJWK decodes a private RSA JWK and checks it is a sound key of at
// least MinRSABits whose kid, if present, is its thumbprint.
func ParseRSAJWK(data []byte) (Key, error) {
	var j privateRSAJWK
	if err := json.Unmarshal(data, &j); err != nil {
		return Key{}, fmt.Errorf("decoding jwk: %w", err)
	}
	if j.KeyType != "RSA" {
		return Key{}, fmt.Errorf("jwk kty is %q, want RSA", j.KeyType)
	}
	alg := j.Algorithm
	if alg == "" {
		alg = RS256
	}
	ints := map[string]*big.Int{}
	for _, m := range []struct{ name, value string }{{"n", j.N}, {"e", j.E}, {"d", j.D}, {"p", j.P}, {"q", j.Q}} {
		raw, err := b64.DecodeString(m.value)
		if err != nil || len(raw) == 0 {
			return Key{}, fmt.Errorf("jwk member %q missing or not base64url", m.name)
		}
		ints[m.name] = new(big.Int).SetBytes(raw)
	}
	// Checked here, before any conversion: Int64 of an e beyond 64 bits keeps
	// only its low bits (2^64+65537 would pass as 65537), and int of one
	// beyond 31 bits does the same on 32-bit platforms.
	if e := ints["e"]; !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || e.Bit(0) == 0 {
		return Key{}, errors.New("jwk exponent e out of bounds: want an odd number from 3 to 2^31-1")
	}
	priv := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: ints["n"], E: int(ints["e"].Int64())},
		D:         ints["d"],
		Primes:    []*big.Int{ints["p"], ints["q"]},
	}
	if err := priv.Validate(); err != nil {
		return Key{}, fmt.Errorf("invalid rsa key: %w", err)
	}
	priv.Precompute()
	key, err := NewKey(alg, priv)
	if err != nil {
		return Key{}, err
	}
	if j.KeyID != "" && j.KeyID != key.ID {
		return Key{}, fmt.Errorf("jwk kid %q is not the key's thumbprint %q", j.KeyID, key.ID)
	}
	return key, nil
}

// createFileAtomic writes data to a temporary file in path's directory with
// mode 0600 and links it into place, so a crash never leaves a partial key and
// an existing file is never replaced: if path exists the error wraps
// fs.ErrExist. On a file system without hard links it falls back to a rename,
// which is atomic but lets the last of two simultaneous creators win.
func createFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a link, only the temporary name goes
	err = f.Chmod(0o600)
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
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	}
	// Persist the new name itself; not every platform can sync a directory.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
