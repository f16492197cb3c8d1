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
// generates an RSA-2048 key and writes it there atomically with mode 0600.
// An unreadable or invalid file is an error; it is never replaced.
func LoadOrCreateRSA(path string) (key Key, created bool, err error) {
	data, err := os.ReadFile(path)
	if err == nil {
		key, err := ParseRSAJWK(data)
		if err != nil {
			return Key{}, false, fmt.Errorf("key file %s: %w", path, err)
		}
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return Key{}, false, fmt.Errorf("reading key file: %w", err)
	}
	priv, err := rsa.GenerateKey(rand.Reader, MinRSABits)
	if err != nil {
		return Key{}, false, fmt.Errorf("generating rsa key: %w", err)
	}
	key, err = NewKey(RS256, priv)
	if err != nil {
		return Key{}, false, err
	}
	data, err = MarshalRSAJWK(key)
	if err != nil {
		return Key{}, false, err
	}
	if err := writeFileAtomic(path, data); err != nil {
		return Key{}, false, fmt.Errorf("writing key file: %w", err)
	}
	return key, true, nil
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
	if !ints["e"].IsInt64() || ints["e"].Int64() > 1<<31-1 {
		return Key{}, errors.New("jwk exponent too large")
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

// writeFileAtomic writes data to a temporary file in path's directory with
// mode 0600 and renames it into place, so a crash never leaves a partial key.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	// Persist the rename itself; not every platform can sync a directory.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
