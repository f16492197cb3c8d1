package keystore

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOrCreate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tempkey.jwk")

	k1, created, err := LoadOrCreate(path, RS256)
	if err != nil {
		t.Fatalf("first load: %v", err)
	}
	if !created {
		t.Error("first load did not report creating the key")
	}
	if k1.Algorithm != RS256 {
		t.Errorf("alg = %s, want RS256", k1.Algorithm)
	}
	if bits := k1.Signer.(*rsa.PrivateKey).N.BitLen(); bits != 2048 {
		t.Errorf("key has %d bits, want 2048", bits)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("key file mode = %o, want 600", mode)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after writing, want only the key file", len(entries))
	}
	var onDisk map[string]string
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &onDisk); err != nil {
		t.Fatalf("key file is not a JSON object: %v", err)
	}
	for _, m := range []string{"kty", "n", "e", "d", "p", "q", "dp", "dq", "qi", "kid", "alg"} {
		if onDisk[m] == "" {
			t.Errorf("key file lacks %q", m)
		}
	}
	if onDisk["kid"] != k1.ID || onDisk["kty"] != "RSA" {
		t.Errorf("key file kid/kty = %s/%s, want %s/RSA", onDisk["kid"], onDisk["kty"], k1.ID)
	}

	k2, created, err := LoadOrCreate(path, RS256)
	if err != nil {
		t.Fatalf("second load: %v", err)
	}
	if created {
		t.Error("second load created a new key")
	}
	if k2.ID != k1.ID || !k2.Signer.(*rsa.PrivateKey).Equal(k1.Signer) {
		t.Errorf("second load kid = %s, want the same key %s", k2.ID, k1.ID)
	}
}

// TestLoadOrCreateSimultaneousCreators: replicas sharing a key file and starting at the same instant end up with
// one key, the one in the file; exactly one of them reports creating it.
func TestLoadOrCreateSimultaneousCreators(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tempkey.jwk")
	const replicas = 6
	type result struct {
		kid     string
		created bool
		err     error
	}
	start := make(chan struct{})
	results := make(chan result, replicas)
	for range replicas {
		go func() {
			<-start
			k, created, err := LoadOrCreate(path, RS256)
			results <- result{k.ID, created, err}
		}()
	}
	close(start)
	onDisk := func() string {
		k, err := load(path)
		if err != nil {
			t.Fatalf("key file after the race: %v", err)
		}
		return k.ID
	}
	creators := 0
	for range replicas {
		r := <-results
		if r.err != nil {
			t.Fatalf("LoadOrCreate: %v", r.err)
		}
		if r.created {
			creators++
		}
		if want := onDisk(); r.kid != want {
			t.Errorf("a replica signs with kid %s, the file holds %s", r.kid, want)
		}
	}
	if creators != 1 {
		t.Errorf("%d replicas report creating the key, want 1", creators)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key file (temporary files removed)", len(entries))
	}
}

func TestLoadOrCreateRejectsBadFiles(t *testing.T) {
	valid, err := NewKey(RS256, testRSAKey(t))
	if err != nil {
		t.Fatal(err)
	}
	good, err := MarshalJWK(valid)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m map[string]string)) []byte {
		var m map[string]string
		json.Unmarshal(good, &m)
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallJWK, _ := MarshalJWK(Key{ID: "x", Algorithm: RS256, Signer: small})
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)

	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"garbage", []byte("not json"), "decoding jwk"},
		{"empty file", nil, "decoding jwk"},
		{"truncated", good[:len(good)/2], "decoding jwk"},
		{"symmetric key type", edit(func(m map[string]string) { m["kty"] = "oct" }), `kty is "oct"`},
		{"missing d", edit(func(m map[string]string) { delete(m, "d") }), `"d" missing`},
		{"wrong prime", edit(func(m map[string]string) { m["p"] = b64.EncodeToString(otherKey.Primes[0].Bytes()) }), "invalid rsa key"},
		{"kid not the thumbprint", edit(func(m map[string]string) { m["kid"] = "made-up" }), "not the key's thumbprint"},
		{"unsupported alg", edit(func(m map[string]string) { m["alg"] = "HS256" }), "unsupported signing algorithm"},
		{"1024-bit key", smallJWK, "1024 bits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "key.jwk")
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, _, err := LoadOrCreate(path, RS256)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error = %v, want one naming %s and containing %q", err, path, tt.wantErr)
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(after, tt.data) {
				t.Error("a bad key file was overwritten")
			}
		})
	}
}

// TestParseJWKRefusesExponentOutOfBounds: e is refused unless odd and
// from 3 to 2^31-1, before it is converted to an int. Each file holds an
// otherwise valid key; the e beyond 64 bits has 65537 as its low 64 bits, so
// a conversion that kept only those would load it as that key.
func TestParseJWKRefusesExponentOutOfBounds(t *testing.T) {
	k, err := NewKey(RS256, testRSAKey(t))
	if err != nil {
		t.Fatal(err)
	}
	good, err := MarshalJWK(k)
	if err != nil {
		t.Fatal(err)
	}
	withE := func(e *big.Int) []byte {
		var m map[string]string
		json.Unmarshal(good, &m)
		delete(m, "kid") // else the kid check would refuse every changed key
		m["e"] = b64.EncodeToString(e.Bytes())
		b, _ := json.Marshal(m)
		return b
	}
	pow2 := func(n uint) *big.Int { return new(big.Int).Lsh(big.NewInt(1), n) }
	plus := func(a *big.Int, b int64) *big.Int { return new(big.Int).Add(a, big.NewInt(b)) }
	tests := []struct {
		name string
		e    *big.Int
	}{
		{"e = 1", big.NewInt(1)},
		{"e = 2", big.NewInt(2)},
		{"e even (65536)", big.NewInt(65536)},
		{"e = 2^31+1", plus(pow2(31), 1)},
		{"e = 2^32+65537", plus(pow2(32), 65537)},
		{"e = 2^64+65537", plus(pow2(64), 65537)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseJWK(withE(tt.e))
			if err == nil || !strings.Contains(err.Error(), "jwk exponent e out of bounds") {
				t.Fatalf("got error %v, want an exponent out of bounds", err)
			}
		})
	}
	if _, err := ParseJWK(withE(big.NewInt(65537))); err != nil {
		t.Errorf("e = 65537: got error %v, want none", err)
	}
}

func TestLoadOrCreateUnwritableDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing-dir", "key.jwk")
	if _, _, err := LoadOrCreate(path, RS256); err == nil || !strings.Contains(err.Error(), "writing key file") {
		t.Fatalf("error = %v, want a writing key file error", err)
	}
}

func TestParseJWKWithoutKidOrAlg(t *testing.T) {
	k, err := NewKey(RS256, testRSAKey(t))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := MarshalJWK(k)
	var m map[string]string
	json.Unmarshal(data, &m)
	delete(m, "kid")
	delete(m, "alg")
	data, _ = json.Marshal(m)
	got, err := ParseJWK(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != k.ID || got.Algorithm != RS256 {
		t.Errorf("got kid %s alg %s, want %s RS256", got.ID, got.Algorithm, k.ID)
	}
}
