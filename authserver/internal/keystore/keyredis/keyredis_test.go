package keyredis_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tokenbearer/authserver/internal/keystore"
	"github.com/tokenbearer/authserver/internal/keystore/keyredis"
	"github.com/tokenbearer/authserver/internal/keystore/sourcetest"
	"github.com/tokenbearer/authserver/internal/redistest"
)

var prefixes atomic.Int64

// newPrefix returns a key prefix no other store of the test binary uses.
func newPrefix() string { return fmt.Sprintf("test:%d:", prefixes.Add(1)) }

func testSealer(t *testing.T) *keystore.Sealer {
	t.Helper()
	s, err := keystore.NewSealer(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newStore(t *testing.T, rdb redis.Cmdable, prefix string) *keyredis.Store {
	t.Helper()
	s, err := keyredis.New(rdb, prefix, testSealer(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStore(t *testing.T) {
	srv := redistest.Start(t)
	sourcetest.Run(t, func(t *testing.T) (first, second keystore.Source) {
		prefix := newPrefix()
		// Two clients, as two replicas have.
		return newStore(t, srv.Client(t), prefix), newStore(t, srv.Client(t), prefix)
	})
}

func testRecord(t *testing.T, slot int64, alg string) keystore.Record {
	t.Helper()
	k, err := keystore.Generate(alg)
	if err != nil {
		t.Fatal(err)
	}
	published := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	return keystore.Record{Slot: slot, Key: k, Published: published, Activates: published.Add(time.Hour)}
}

// TestStoredRecordIsSealed: what Redis holds, in <prefix>signing-keys under
// the slot's number, shows the kid and alg but no private key member.
func TestStoredRecordIsSealed(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	store := newStore(t, rdb, "tokenbearer:")
	for i, alg := range keystore.Algorithms {
		t.Run(alg, func(t *testing.T) {
			r := testRecord(t, int64(i+1), alg)
			if err := store.Create(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			stored, err := rdb.HGet(context.Background(), "tokenbearer:signing-keys", fmt.Sprint(r.Slot)).Result()
			if err != nil {
				t.Fatalf("HGET tokenbearer:signing-keys %d: %v", r.Slot, err)
			}
			jwk, err := keystore.MarshalJWK(r.Key)
			if err != nil {
				t.Fatal(err)
			}
			var members map[string]string
			if err := json.Unmarshal(jwk, &members); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"d", "p", "q", "dp", "dq", "qi"} {
				if v := members[name]; v != "" && strings.Contains(stored, v) {
					t.Errorf("stored record holds the private member %s in clear: %s", name, stored)
				}
			}
			for _, want := range []string{r.Key.ID, alg} {
				if !strings.Contains(stored, want) {
					t.Errorf("stored record %s does not show %q", stored, want)
				}
			}
		})
	}
}

func TestListRefusesABadField(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	sealer := testSealer(t)
	r := testRecord(t, 1, keystore.EdDSA)
	sealed, err := keystore.EncodeRecord(r, sealer)
	if err != nil {
		t.Fatal(err)
	}
	clear, err := keystore.EncodeRecord(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		field   string
		value   []byte
		wantErr string
	}{
		{"clear record", "1", clear, "not encrypted"},
		{"sealed record of slot 1 copied to field 2", "2", sealed, "holds the key of slot 1"},
		{"not JSON", "1", []byte("secret"), "decoding key record"},
		{"field not a number", "one", sealed, "not a slot number"},
		{"field with a leading zero", "01", sealed, "not a slot number"},
		{"field 0", "0", sealed, "not a slot number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := newPrefix()
			store := newStore(t, rdb, prefix)
			if err := store.Create(context.Background(), testRecord(t, 3, keystore.EdDSA)); err != nil {
				t.Fatal(err)
			}
			if err := rdb.HSet(context.Background(), prefix+"signing-keys", tt.field, tt.value).Err(); err != nil {
				t.Fatal(err)
			}
			rs, err := store.List(context.Background())
			if err == nil {
				t.Fatalf("List: got %d records, want an error naming field %q", len(rs), tt.field)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("field %q", tt.field)) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("List: got %q, want an error naming field %q and containing %q", err, tt.field, tt.wantErr)
			}
		})
	}
}

func TestNewNeedsASealer(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	defer rdb.Close()
	s, err := keyredis.New(rdb, "tokenbearer:", nil)
	if err == nil || !strings.Contains(err.Error(), "AUTHSERVER_KEY_ENCRYPTION_KEY") {
		t.Errorf("New without a sealer: got %v, %v; want an error naming AUTHSERVER_KEY_ENCRYPTION_KEY", s, err)
	}
}
