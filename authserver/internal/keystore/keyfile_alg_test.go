package keystore

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestLoadOrCreateEveryAlgorithm: a first start creates a key of the
// configured algorithm, stored with its alg, kid and the private members of
// its key type; the next start loads the same key.
func TestLoadOrCreateEveryAlgorithm(t *testing.T) {
	tests := []struct {
		alg         string
		wantKty     string
		wantMembers []string // all members in the file
		checkKey    func(k Key) string
	}{
		{RS256, "RSA", []string{"alg", "d", "dp", "dq", "e", "kid", "kty", "n", "p", "q", "qi", "use"}, func(k Key) string {
			if p, ok := k.Signer.(*rsa.PrivateKey); !ok || p.N.BitLen() != 2048 {
				return "not RSA-2048"
			}
			return ""
		}},
		{PS256, "RSA", []string{"alg", "d", "dp", "dq", "e", "kid", "kty", "n", "p", "q", "qi", "use"}, func(k Key) string {
			if p, ok := k.Signer.(*rsa.PrivateKey); !ok || p.N.BitLen() != 2048 {
				return "not RSA-2048"
			}
			return ""
		}},
		{ES256, "EC", []string{"alg", "crv", "d", "kid", "kty", "use", "x", "y"}, func(k Key) string {
			if p, ok := k.Signer.(*ecdsa.PrivateKey); !ok || p.Curve != elliptic.P256() {
				return "not ECDSA P-256"
			}
			return ""
		}},
		{EdDSA, "OKP", []string{"alg", "crv", "d", "kid", "kty", "use", "x"}, func(k Key) string {
			if _, ok := k.Signer.(ed25519.PrivateKey); !ok {
				return "not Ed25519"
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tempkey.jwk")
			k1, created, err := LoadOrCreate(path, tt.alg)
			if err != nil || !created {
				t.Fatalf("first start: got created %v, error %v; want a new key", created, err)
			}
			if k1.Algorithm != tt.alg {
				t.Errorf("got alg %s, want %s", k1.Algorithm, tt.alg)
			}
			if problem := tt.checkKey(k1); problem != "" {
				t.Errorf("got a %T key: %s", k1.Signer, problem)
			}
			if kid, _ := Thumbprint(k1.PublicJWK()); kid != k1.ID {
				t.Errorf("got kid %s, want the thumbprint %s", k1.ID, kid)
			}
			data, _ := os.ReadFile(path)
			var onDisk map[string]string
			if err := json.Unmarshal(data, &onDisk); err != nil {
				t.Fatalf("key file is not a JSON object of strings: %v", err)
			}
			var members []string
			for m, v := range onDisk {
				if v == "" {
					t.Errorf("key file member %q is empty", m)
				}
				members = append(members, m)
			}
			slices.Sort(members)
			if !slices.Equal(members, tt.wantMembers) {
				t.Errorf("got key file members %v, want %v", members, tt.wantMembers)
			}
			if onDisk["alg"] != tt.alg || onDisk["kty"] != tt.wantKty || onDisk["kid"] != k1.ID || onDisk["use"] != "sig" {
				t.Errorf("got key file alg %s kty %s kid %s use %s, want %s %s %s sig", onDisk["alg"], onDisk["kty"], onDisk["kid"], onDisk["use"], tt.alg, tt.wantKty, k1.ID)
			}

			k2, created, err := LoadOrCreate(path, tt.alg)
			if err != nil || created {
				t.Fatalf("second start: got created %v, error %v; want the stored key", created, err)
			}
			if k2.ID != k1.ID || k2.Algorithm != tt.alg || !k2.Signer.(interface{ Equal(crypto.PrivateKey) bool }).Equal(k1.Signer) {
				t.Errorf("second start: got kid %s alg %s, want the same key %s %s", k2.ID, k2.Algorithm, k1.ID, tt.alg)
			}
		})
	}
}

// TestLoadOrCreateRefusesAnotherAlgorithm: a key file is never used for
// another algorithm than asked for, nor replaced; the error says which two.
// PS256 after RS256 is refused too although the key would do: the JWKS
// publishes the key with its alg, and resource servers hold it to that.
func TestLoadOrCreateRefusesAnotherAlgorithm(t *testing.T) {
	for _, have := range Algorithms {
		path := filepath.Join(t.TempDir(), "tempkey.jwk")
		if _, _, err := LoadOrCreate(path, have); err != nil {
			t.Fatal(err)
		}
		before, _ := os.ReadFile(path)
		for _, want := range Algorithms {
			if want == have {
				continue
			}
			t.Run(have+" file, "+want+" wanted", func(t *testing.T) {
				k, created, err := LoadOrCreate(path, want)
				var mismatch *AlgorithmMismatchError
				if !errors.As(err, &mismatch) || mismatch.Have != have || mismatch.Want != want || mismatch.Path != path {
					t.Fatalf("got %v, created %v; want an AlgorithmMismatchError %s, %s, %s", err, created, path, have, want)
				}
				if msg := path + " holds a key for " + have + ", not " + want; !strings.Contains(err.Error(), msg) {
					t.Errorf("got %q, want it to contain %q", err, msg)
				}
				if k.Signer != nil || created {
					t.Errorf("got a key (%T, created %v) with the error", k.Signer, created)
				}
				if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
					t.Error("the key file was changed")
				}
			})
		}
	}
}

// TestLoadOrCreateLegacyFileWithoutAlg: key files of earlier versions are
// RSA keys without alg (and perhaps without kid or use); they load as the
// RS256 keys they were, under the same kid, and are left as they are.
func TestLoadOrCreateLegacyFileWithoutAlg(t *testing.T) {
	k, err := NewKey(RS256, testRSAKey(t))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := MarshalJWK(k)
	var m map[string]string
	json.Unmarshal(data, &m)
	tests := []struct {
		name   string
		remove []string
	}{
		{"without alg", []string{"alg"}},
		{"without alg, kid and use", []string{"alg", "kid", "use"}},
		{"without alg and the CRT members", []string{"alg", "dp", "dq", "qi"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			legacy := map[string]string{}
			for name, v := range m {
				if !slices.Contains(tt.remove, name) {
					legacy[name] = v
				}
			}
			file, _ := json.Marshal(legacy)
			path := filepath.Join(t.TempDir(), "tempkey.jwk")
			os.WriteFile(path, file, 0o600)
			got, created, err := LoadOrCreate(path, RS256)
			if err != nil || created {
				t.Fatalf("got created %v, error %v; want the stored key", created, err)
			}
			if got.ID != k.ID || got.Algorithm != RS256 {
				t.Errorf("got kid %s alg %s, want %s RS256", got.ID, got.Algorithm, k.ID)
			}
			var mismatch *AlgorithmMismatchError
			if _, _, err := LoadOrCreate(path, PS256); !errors.As(err, &mismatch) || mismatch.Have != RS256 {
				t.Errorf("with PS256 wanted: got %v, want a mismatch naming RS256", err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, file) {
				t.Error("the legacy key file was rewritten")
			}
		})
	}
}

// TestLoadOrCreateSimultaneousCreatorsOfTwoAlgorithms: replicas started on
// one key file with different --signing-alg never sign with two keys: the
// first file to land decides, and the others are refused.
func TestLoadOrCreateSimultaneousCreatorsOfTwoAlgorithms(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tempkey.jwk")
	algs := []string{ES256, EdDSA, ES256, EdDSA, ES256, EdDSA}
	type result struct {
		alg string
		key Key
		err error
	}
	start := make(chan struct{})
	results := make(chan result, len(algs))
	for _, alg := range algs {
		go func() {
			<-start
			k, _, err := LoadOrCreate(path, alg)
			results <- result{alg, k, err}
		}()
	}
	close(start)
	var all []result
	for range algs {
		all = append(all, <-results)
	}
	onDisk, err := load(path)
	if err != nil {
		t.Fatalf("key file after the race: %v", err)
	}
	for _, r := range all {
		switch {
		case r.alg == onDisk.Algorithm && (r.err != nil || r.key.ID != onDisk.ID):
			t.Errorf("a %s replica: got kid %s, %v; want the file's key %s", r.alg, r.key.ID, r.err, onDisk.ID)
		case r.alg != onDisk.Algorithm && !errors.As(r.err, new(*AlgorithmMismatchError)):
			t.Errorf("a %s replica on a %s file: got %v, want an AlgorithmMismatchError", r.alg, onDisk.Algorithm, r.err)
		}
	}
}

// TestParseJWKRefusesBadECAndOKPFiles: an EC or OKP key file is loaded only
// when it is a sound key whose public members are those of its d.
func TestParseJWKRefusesBadECAndOKPFiles(t *testing.T) {
	ec, err := Generate(ES256)
	if err != nil {
		t.Fatal(err)
	}
	ed, err := Generate(EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := Generate(ES256)
	otherEd, _ := Generate(EdDSA)
	edit := func(k Key, f func(m map[string]string)) []byte {
		data, _ := MarshalJWK(k)
		var m map[string]string
		json.Unmarshal(data, &m)
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	member := func(k Key, name string) string {
		data, _ := MarshalJWK(k)
		var m map[string]string
		json.Unmarshal(data, &m)
		return m[name]
	}
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"EC P-384", edit(ec, func(m map[string]string) { m["crv"] = "P-384" }), `crv "P-384" is not P-256`},
		{"EC without d", edit(ec, func(m map[string]string) { delete(m, "d") }), `"d" missing`},
		{"EC d of another key", edit(ec, func(m map[string]string) { m["d"] = member(other, "d") }), "x and y are not the public key of d"},
		{"EC y of another key", edit(ec, func(m map[string]string) { m["y"] = member(other, "y") }), "x and y are not the public key of d"},
		{"EC d zero", edit(ec, func(m map[string]string) { m["d"] = b64.EncodeToString(make([]byte, 32)) }), "invalid ec key"},
		{"EC alg EdDSA", edit(ec, func(m map[string]string) { m["alg"] = EdDSA }), "Ed25519"},
		{"EC alg RS256", edit(ec, func(m map[string]string) { m["alg"] = RS256 }), "needs an RSA key"},
		{"EC kid not the thumbprint", edit(ec, func(m map[string]string) { m["kid"] = member(other, "kid") }), "not the key's thumbprint"},
		{"OKP X25519", edit(ed, func(m map[string]string) { m["crv"] = "X25519" }), `crv "X25519" is not Ed25519`},
		{"OKP short d", edit(ed, func(m map[string]string) { m["d"] = b64.EncodeToString([]byte{1, 2, 3}) }), "d must be 32 bytes"},
		{"OKP x of another key", edit(ed, func(m map[string]string) { m["x"] = member(otherEd, "x") }), "x is not the public key of d"},
		{"OKP alg ES256", edit(ed, func(m map[string]string) { m["alg"] = ES256 }), "P-256"},
		{"OKP alg HS256", edit(ed, func(m map[string]string) { m["alg"] = "HS256" }), "unsupported signing algorithm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseJWK(tt.data)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}

	// Without alg, an EC P-256 or Ed25519 key can only be for one algorithm.
	for _, k := range []Key{ec, ed} {
		got, err := ParseJWK(edit(k, func(m map[string]string) { delete(m, "alg") }))
		if err != nil || got.Algorithm != k.Algorithm || got.ID != k.ID {
			t.Errorf("%s key without alg: got %s %s (%v), want %s %s", k.Algorithm, got.Algorithm, got.ID, err, k.Algorithm, k.ID)
		}
	}
}

func TestGenerateRefusesOtherAlgorithms(t *testing.T) {
	for _, alg := range []string{"HS256", "none", "", "ES384", "rs256"} {
		if _, err := Generate(alg); err == nil || !strings.Contains(err.Error(), "unsupported signing algorithm") {
			t.Errorf("Generate(%q): got %v, want an unsupported signing algorithm", alg, err)
		}
	}
}
