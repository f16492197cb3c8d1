package keystore

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"

	"github.com/tokenbearer/authserver/internal/atomicfile"
)

// Algorithms are the JWS algorithms Generate and LoadOrCreate support, the
// article's RS256 first.
var Algorithms = []string{RS256, PS256, ES256, EdDSA}

// privateJWK is the key file format: a private JWK with its alg and kid.
// Which members are set depends on kty: RSA (RFC 7518 6.3), EC (RFC 7518
// 6.2; d is the private scalar) or OKP (RFC 8037 2; d is the Ed25519 seed).
type privateJWK struct {
	KeyType   string `json:"kty"`
	Use       string `json:"use,omitempty"`
	Algorithm string `json:"alg,omitempty"`
	KeyID     string `json:"kid,omitempty"`
	// EC and OKP
	Curve string `json:"crv,omitempty"`
	X     string `json:"x,omitempty"`
	Y     string `json:"y,omitempty"`
	// RSA
	N  string `json:"n,omitempty"`
	E  string `json:"e,omitempty"`
	D  string `json:"d"` // all three key types
	P  string `json:"p,omitempty"`
	Q  string `json:"q,omitempty"`
	DP string `json:"dp,omitempty"`
	DQ string `json:"dq,omitempty"`
	QI string `json:"qi,omitempty"`
}

// Generate returns a new key for alg: RSA-2048 for RS256 and PS256, P-256
// for ES256, Ed25519 for EdDSA.
func Generate(alg string) (Key, error) {
	var k Key
	var err error
	switch alg {
	case RS256, PS256:
		var priv *rsa.PrivateKey
		if priv, err = rsa.GenerateKey(rand.Reader, MinRSABits); err == nil {
			k, err = NewKey(alg, priv)
		}
	case ES256:
		var priv *ecdsa.PrivateKey
		if priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err == nil {
			k, err = NewKey(alg, priv)
		}
	case EdDSA:
		var priv ed25519.PrivateKey
		if _, priv, err = ed25519.GenerateKey(rand.Reader); err == nil {
			k, err = NewKey(alg, priv)
		}
	default:
		return Key{}, fmt.Errorf("unsupported signing algorithm %q", alg)
	}
	if err != nil {
		return Key{}, fmt.Errorf("generating %s key: %w", alg, err)
	}
	return k, nil
}

// AlgorithmMismatchError is LoadOrCreate's error for a key file that holds a
// key of another algorithm than the one asked for. The key is never
// replaced, nor used for the other algorithm: the caller decides.
type AlgorithmMismatchError struct {
	Path string
	Have string // the alg of the key in the file
	Want string
}

func (e *AlgorithmMismatchError) Error() string {
	return fmt.Sprintf("key file %s holds a key for %s, not %s", e.Path, e.Have, e.Want)
}

// LoadOrCreate returns the key stored at path, which must be a key for alg
// (else an *AlgorithmMismatchError). If no file exists it generates a key
// for alg (Generate) and creates the file atomically with mode 0600. Several
// processes sharing the file (replicas on one volume) starting at the same
// instant agree on one key: the first file to land wins and the others load
// it. An unreadable or invalid file is an error; it is never replaced.
func LoadOrCreate(path, alg string) (key Key, created bool, err error) {
	key, err = loadFor(path, alg)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	key, err = Generate(alg)
	if err != nil {
		return Key{}, false, err
	}
	data, err := MarshalJWK(key)
	if err != nil {
		return Key{}, false, err
	}
	err = createFileAtomic(path, data)
	if errors.Is(err, fs.ErrExist) {
		// Another process created the file since we looked: use its key,
		// if it is one for alg.
		key, err = loadFor(path, alg)
		return key, false, err
	}
	if err != nil {
		return Key{}, false, fmt.Errorf("writing key file: %w", err)
	}
	return key, true, nil
}

// loadFor is load, refusing a key for another algorithm than alg.
func loadFor(path, alg string) (Key, error) {
	key, err := load(path)
	if err == nil && key.Algorithm != alg {
		return Key{}, &AlgorithmMismatchError{Path: path, Have: key.Algorithm, Want: alg}
	}
	return key, err
}

// load reads the key file at path; a missing file is an error wrapping
// fs.ErrNotExist.
func load(path string) (Key, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Key{}, err
	}
	if err != nil {
		return Key{}, fmt.Errorf("reading key file: %w", err)
	}
	key, err := ParseJWK(data)
	if err != nil {
		return Key{}, fmt.Errorf("key file %s: %w", path, err)
	}
	return key, nil
}

// MarshalJWK encodes a key as a private JWK including kid, alg and use.
func MarshalJWK(k Key) ([]byte, error) {
	pub := publicJWK(k.Signer.Public())
	j := privateJWK{
		KeyType: pub.KeyType, Use: "sig", Algorithm: k.Algorithm, KeyID: k.ID,
		Curve: pub.Curve, X: pub.X, Y: pub.Y, N: pub.N, E: pub.E,
	}
	switch priv := k.Signer.(type) {
	case *rsa.PrivateKey:
		priv.Precompute()
		enc := func(n *big.Int) string { return b64.EncodeToString(n.Bytes()) }
		j.D, j.P, j.Q = enc(priv.D), enc(priv.Primes[0]), enc(priv.Primes[1])
		j.DP, j.DQ, j.QI = enc(priv.Precomputed.Dp), enc(priv.Precomputed.Dq), enc(priv.Precomputed.Qinv)
	case *ecdsa.PrivateKey:
		d, err := priv.Bytes() // fixed length, as RFC 7518 6.2.2.1 wants
		if err != nil {
			return nil, fmt.Errorf("marshaling key: %w", err)
		}
		j.D = b64.EncodeToString(d)
	case ed25519.PrivateKey:
		j.D = b64.EncodeToString(priv.Seed())
	default:
		return nil, fmt.Errorf("marshaling key: unsupported key type %T", k.Signer)
	}
	return json.MarshalIndent(j, "", "  ")
}

// ParseJWK decodes a private JWK (RSA, EC P-256 or Ed25519) and checks it is
// a sound key for its alg whose kid, if present, is its thumbprint. A key
// without alg is taken for what it can only be: RS256 for RSA (every key
// file before PS256, ES256 and EdDSA existed was an RS256 key without alg),
// ES256 for P-256, EdDSA for Ed25519.
func ParseJWK(data []byte) (Key, error) {
	var j privateJWK
	if err := json.Unmarshal(data, &j); err != nil {
		return Key{}, fmt.Errorf("decoding jwk: %w", err)
	}
	var k Key
	var err error
	switch j.KeyType {
	case "RSA":
		k, err = parseRSA(j)
	case "EC":
		k, err = parseEC(j)
	case "OKP":
		k, err = parseOKP(j)
	default:
		return Key{}, fmt.Errorf("jwk kty is %q, want RSA, EC or OKP", j.KeyType)
	}
	if err != nil {
		return Key{}, err
	}
	if j.KeyID != "" && j.KeyID != k.ID {
		return Key{}, fmt.Errorf("jwk kid %q is not the key's thumbprint %q", j.KeyID, k.ID)
	}
	return k, nil
}

// algOr is the JWK's alg, or def when it has none.
func algOr(j privateJWK, def string) string {
	if j.Algorithm == "" {
		return def
	}
	return j.Algorithm
}

func decodeMember(name, value string) ([]byte, error) {
	raw, err := b64.DecodeString(value)
	if err != nil || len(raw) == 0 {
		return nil, fmt.Errorf("jwk member %q missing or not base64url", name)
	}
	return raw, nil
}

func parseRSA(j privateJWK) (Key, error) {
	ints := map[string]*big.Int{}
	for _, m := range []struct{ name, value string }{{"n", j.N}, {"e", j.E}, {"d", j.D}, {"p", j.P}, {"q", j.Q}} {
		raw, err := decodeMember(m.name, m.value)
		if err != nil {
			return Key{}, err
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
	return NewKey(algOr(j, RS256), priv)
}

func parseEC(j privateJWK) (Key, error) {
	if j.Curve != "P-256" {
		return Key{}, fmt.Errorf("jwk crv %q is not P-256", j.Curve)
	}
	d, err := decodeMember("d", j.D)
	if err != nil {
		return Key{}, err
	}
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		return Key{}, fmt.Errorf("invalid ec key: %w", err)
	}
	// x and y are derived from d; a file whose x or y differ is corrupt.
	if pub := publicJWK(priv.Public()); pub.X != j.X || pub.Y != j.Y {
		return Key{}, errors.New("invalid ec key: x and y are not the public key of d")
	}
	return NewKey(algOr(j, ES256), priv)
}

func parseOKP(j privateJWK) (Key, error) {
	if j.Curve != "Ed25519" {
		return Key{}, fmt.Errorf("jwk crv %q is not Ed25519", j.Curve)
	}
	seed, err := decodeMember("d", j.D)
	if err != nil {
		return Key{}, err
	}
	if len(seed) != ed25519.SeedSize {
		return Key{}, fmt.Errorf("invalid ed25519 key: d must be %d bytes", ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	x, err := decodeMember("x", j.X)
	if err != nil {
		return Key{}, err
	}
	if !bytes.Equal(x, priv.Public().(ed25519.PublicKey)) {
		return Key{}, errors.New("invalid ed25519 key: x is not the public key of d")
	}
	return NewKey(algOr(j, EdDSA), priv)
}

// createFileAtomic puts the key file in place without ever replacing one (an
// existing file is an error wrapping fs.ErrExist), so a crash never leaves a
// partial key. On a file system without hard links it falls back to a rename,
// which is atomic but lets the last of two simultaneous creators win.
func createFileAtomic(path string, data []byte) error {
	err := atomicfile.Create(path, data, 0o600)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	return atomicfile.Replace(path, data, 0o600)
}
