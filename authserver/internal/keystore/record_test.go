package keystore

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordTestKeys are one key of each algorithm, made once: RSA is slow.
var recordTestKeys = sync.OnceValues(func() (map[string]Key, error) {
	keys := map[string]Key{}
	for _, alg := range Algorithms {
		k, err := Generate(alg)
		if err != nil {
			return nil, err
		}
		keys[alg] = k
	}
	return keys, nil
})

func recordTestKey(t *testing.T, alg string) Key {
	t.Helper()
	keys, err := recordTestKeys()
	if err != nil {
		t.Fatal(err)
	}
	return keys[alg]
}

func testSealer(t *testing.T, fill byte) *Sealer {
	t.Helper()
	s, err := NewSealer(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{fill}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// privateMembers returns the values of k's private JWK members (d, and for
// RSA p, q, dp, dq, qi).
func privateMembers(t *testing.T, k Key) map[string]string {
	t.Helper()
	jwk, err := MarshalJWK(k)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(jwk, &m); err != nil {
		t.Fatal(err)
	}
	priv := map[string]string{}
	for _, name := range []string{"d", "p", "q", "dp", "dq", "qi"} {
		if v := m[name]; v != "" {
			priv[name] = v
		}
	}
	if priv["d"] == "" {
		t.Fatalf("%s key's JWK has no d", k.Algorithm)
	}
	return priv
}

var (
	published = time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	activates = published.Add(24 * time.Hour)
	// retired is in another zone: a record keeps the instant, not the zone.
	retired = published.Add(40 * 24 * time.Hour).In(time.FixedZone("UTC+2", 2*60*60))
)

func TestRecordRoundTrip(t *testing.T) {
	sealers := []struct {
		name   string
		sealer *Sealer
	}{
		{"plain", nil},
		{"sealed", testSealer(t, 1)},
	}
	for _, alg := range Algorithms {
		key := recordTestKey(t, alg)
		for _, s := range sealers {
			for _, ret := range []time.Time{{}, retired} {
				name := alg + "/" + s.name + "/active"
				if !ret.IsZero() {
					name = alg + "/" + s.name + "/retired"
				}
				t.Run(name, func(t *testing.T) {
					in := Record{Slot: 7, Key: key, Published: published, Activates: activates, Retired: ret, Retain: 14 * 24 * time.Hour}
					data, err := EncodeRecord(in, s.sealer)
					if err != nil {
						t.Fatalf("EncodeRecord: %v", err)
					}
					got, err := DecodeRecord(data, s.sealer)
					if err != nil {
						t.Fatalf("DecodeRecord: %v", err)
					}
					if got.Slot != in.Slot || got.Retain != in.Retain {
						t.Errorf("slot, retain: got %d %v, want %d %v", got.Slot, got.Retain, in.Slot, in.Retain)
					}
					if got.Key.ID != key.ID || got.Key.Algorithm != key.Algorithm {
						t.Errorf("key: got kid %q alg %s, want kid %q alg %s", got.Key.ID, got.Key.Algorithm, key.ID, key.Algorithm)
					}
					gotJWK, _ := MarshalJWK(got.Key)
					wantJWK, _ := MarshalJWK(key)
					if !bytes.Equal(gotJWK, wantJWK) {
						t.Errorf("private JWK: got\n%s\nwant\n%s", gotJWK, wantJWK)
					}
					for _, tm := range []struct {
						name      string
						got, want time.Time
					}{
						{"published", got.Published, in.Published},
						{"activates", got.Activates, in.Activates},
						{"retired", got.Retired, in.Retired},
					} {
						if !tm.got.Equal(tm.want) || tm.got.IsZero() != tm.want.IsZero() {
							t.Errorf("%s: got %v, want %v", tm.name, tm.got, tm.want)
						}
					}
				})
			}
		}
	}
}

// editOuter decodes an encoded record as JSON, applies edit to its members
// and encodes it again.
func editOuter(t *testing.T, data []byte, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDecodeRecordRefuses(t *testing.T) {
	key := recordTestKey(t, ES256)
	sealer := testSealer(t, 1)
	r := Record{Slot: 3, Key: key, Published: published, Activates: activates}
	sealed, err := EncodeRecord(r, sealer)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := EncodeRecord(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		data    []byte
		sealer  *Sealer
		wantErr string // a part of the error text
	}{
		{"sealed opened with another key", sealed, testSealer(t, 2), EncryptionKeyEnv},
		{"flipped byte in sealed", editOuter(t, sealed, func(m map[string]any) {
			b, err := base64.RawURLEncoding.DecodeString(m["sealed"].(string))
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 1
			m["sealed"] = base64.RawURLEncoding.EncodeToString(b)
		}), sealer, "altered"},
		{"sealed without a sealer", sealed, nil, EncryptionKeyEnv},
		{"plain with a sealer", plain, sealer, "not encrypted"},
		{"sealed with its outer slot edited", editOuter(t, sealed, func(m map[string]any) { m["slot"] = 4 }), sealer, "slot 4"},
		{"sealed with its outer kid edited", editOuter(t, sealed, func(m map[string]any) { m["kid"] = "other" }), sealer, "kid or alg"},
		{"sealed with sealed not base64url", editOuter(t, sealed, func(m map[string]any) { m["sealed"] = "!!" }), sealer, "base64url"},
		{"sealed too short", editOuter(t, sealed, func(m map[string]any) { m["sealed"] = "AAAA" }), sealer, "too short"},
		{"not JSON", []byte("slot 3"), nil, "decoding key record"},
		{"slot 0", editOuter(t, plain, func(m map[string]any) { m["slot"] = 0 }), nil, "want 1 or more"},
		{"no key", editOuter(t, plain, func(m map[string]any) { delete(m, "key") }), nil, "slot 3"},
		{"no activates", editOuter(t, plain, func(m map[string]any) { delete(m, "activates") }), nil, "activates are required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeRecord(tt.data, tt.sealer)
			if err == nil {
				t.Fatalf("got record of slot %d, kid %q, want an error containing %q", got.Slot, got.Key.ID, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %q, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestSealedScheduleComesFromTheSeal: the times beside a sealed record are
// not authenticated, so edits there must not reach the record: whoever can
// write the store but lacks the encryption key cannot retire a key or move
// its activation.
func TestSealedScheduleComesFromTheSeal(t *testing.T) {
	sealer := testSealer(t, 1)
	r := Record{Slot: 3, Key: recordTestKey(t, EdDSA), Published: published, Activates: activates}
	sealed, err := EncodeRecord(r, sealer)
	if err != nil {
		t.Fatal(err)
	}
	forged := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339Nano)
	edited := editOuter(t, sealed, func(m map[string]any) {
		m["published"], m["activates"], m["retired"] = forged, forged, forged
	})
	got, err := DecodeRecord(edited, sealer)
	if err != nil {
		t.Fatalf("DecodeRecord: %v", err)
	}
	if !got.Published.Equal(published) || !got.Activates.Equal(activates) || !got.Retired.IsZero() {
		t.Errorf("got published %v, activates %v, retired %v; want %v, %v, zero",
			got.Published, got.Activates, got.Retired, published, activates)
	}
}

func TestSealedRecordHidesPrivateKey(t *testing.T) {
	sealer := testSealer(t, 1)
	for _, alg := range Algorithms {
		t.Run(alg, func(t *testing.T) {
			key := recordTestKey(t, alg)
			data, err := EncodeRecord(Record{Slot: 1, Key: key, Published: published, Activates: activates}, sealer)
			if err != nil {
				t.Fatal(err)
			}
			for name, v := range privateMembers(t, key) {
				if bytes.Contains(data, []byte(v)) {
					t.Errorf("sealed record contains the private member %s in clear:\n%s", name, data)
				}
			}
			// Beside the seal, kid and alg tell an operator the keys apart.
			for _, want := range []string{key.ID, key.Algorithm} {
				if !bytes.Contains(data, []byte(want)) {
					t.Errorf("sealed record %s does not show %q", data, want)
				}
			}
		})
	}
}

func TestNewSealer(t *testing.T) {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(0xf8 + i) // bytes that encode to + and / (- and _ in URL base64)
	}
	tests := []struct {
		name    string
		encoded string
		wantErr string // empty: accepted
	}{
		{"standard padded", base64.StdEncoding.EncodeToString(key), ""},
		{"standard unpadded", base64.RawStdEncoding.EncodeToString(key), ""},
		{"URL padded", base64.URLEncoding.EncodeToString(key), ""},
		{"URL unpadded", base64.RawURLEncoding.EncodeToString(key), ""},
		{"openssl output with newline", base64.StdEncoding.EncodeToString(key) + "\n", ""},
		{"not base64", "this is not base64 at all!", "not base64"},
		{"empty", "", "0 bytes"},
		{"31 bytes", base64.StdEncoding.EncodeToString(key[:31]), "31 bytes, want 32"},
		{"33 bytes", base64.StdEncoding.EncodeToString(append(key, 0)), "33 bytes, want 32"},
		{"64 bytes", base64.StdEncoding.EncodeToString(append(key, key...)), "64 bytes, want 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSealer(tt.encoded)
			if tt.wantErr == "" {
				if err != nil || s == nil {
					t.Fatalf("got %v, %v; want a sealer", s, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got a sealer, want an error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), EncryptionKeyEnv) {
				t.Errorf("got error %q, want one containing %q and %s", err, tt.wantErr, EncryptionKeyEnv)
			}
			if in := strings.TrimSpace(tt.encoded); in != "" && strings.Contains(err.Error(), in) {
				t.Errorf("error %q repeats the key", err)
			}
		})
	}
	// The four encodings of one key make one sealer: a record sealed with
	// one opens with the others.
	r := Record{Slot: 1, Key: recordTestKey(t, EdDSA), Published: published, Activates: activates}
	std, _ := NewSealer(base64.StdEncoding.EncodeToString(key))
	data, err := EncodeRecord(r, std)
	if err != nil {
		t.Fatal(err)
	}
	url, _ := NewSealer(base64.RawURLEncoding.EncodeToString(key))
	if _, err := DecodeRecord(data, url); err != nil {
		t.Errorf("a record sealed with the standard encoding of a key does not open with its URL encoding: %v", err)
	}
}
