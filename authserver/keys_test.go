package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenbearer/authserver/internal/redistest"
)

// keys runs `authserver keys args...` and returns its output.
func keys(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), append([]string{"authserver", "keys"}, args...), envFrom(env), &out, io.Discard)
	return out.String(), err
}

var addedRE = regexp.MustCompile(`added key (\S+) \((\w+)\) in slot (\d+)`)

func TestKeysCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	d := []string{"--key-dir", dir, "--signing-alg", "EdDSA"}
	out, err := keys(t, nil, append([]string{"list"}, d...)...)
	if err != nil || !strings.Contains(out, "No keys") {
		t.Fatalf("list of an empty store: %q, %v", out, err)
	}

	out, err = keys(t, nil, append([]string{"rotate"}, d...)...)
	m := addedRE.FindStringSubmatch(out)
	if err != nil || m == nil || m[2] != "EdDSA" || m[3] != "1" {
		t.Fatalf("rotate: %q, %v; want an EdDSA key in slot 1", out, err)
	}
	announced := m[1]
	out, err = keys(t, nil, append([]string{"rotate", "--now"}, d...)...)
	m = addedRE.FindStringSubmatch(out)
	if err != nil || m == nil || m[3] != "2" || !strings.Contains(out, "signs at once") {
		t.Fatalf("rotate --now: %q, %v", out, err)
	}
	emergency := m[1]

	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(ed)
	pemFile := filepath.Join(t.TempDir(), "key.pem")
	os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	out, err = keys(t, nil, append([]string{"import", pemFile}, d...)...)
	if m = addedRE.FindStringSubmatch(out); err != nil || m == nil || m[3] != "3" {
		t.Fatalf("import: %q, %v", out, err)
	}
	imported := m[1]
	if _, err := keys(t, nil, append([]string{"import", pemFile}, d...)...); err == nil || !strings.Contains(err.Error(), "already in the store") {
		t.Errorf("importing the same key again: got %v, want it refused", err)
	}

	out, err = keys(t, nil, append([]string{"list"}, d...)...)
	if err != nil {
		t.Fatal(err)
	}
	for kid, state := range map[string]string{announced: "announced", emergency: "signing", imported: "announced"} {
		if !regexp.MustCompile(regexp.QuoteMeta(kid) + `\s+EdDSA\s+` + state + `\b`).MatchString(out) {
			t.Errorf("list does not show %s as %s:\n%s", kid, state, out)
		}
	}
	if !strings.Contains(out, "Next key: made at") {
		t.Errorf("list does not say when the next key is due:\n%s", out)
	}

	if out, err = keys(t, nil, append([]string{"retire", emergency}, d...)...); err != nil || !strings.Contains(out, "retired key "+emergency) {
		t.Fatalf("retire: %q, %v", out, err)
	}
	out, _ = keys(t, nil, append([]string{"list"}, d...)...)
	if !regexp.MustCompile(regexp.QuoteMeta(emergency) + `\s+EdDSA\s+retired\b`).MatchString(out) {
		t.Errorf("list does not show %s retired:\n%s", emergency, out)
	}

	// A key retired before it signed never signed: no times of signing.
	if _, err := keys(t, nil, append([]string{"retire", announced}, d...)...); err != nil {
		t.Fatal(err)
	}
	out, _ = keys(t, nil, append([]string{"list"}, d...)...)
	if !regexp.MustCompile(regexp.QuoteMeta(announced) + `\s+EdDSA\s+retired\s+\S+\s+-\s+-\s+\S+`).MatchString(out) {
		t.Errorf("list shows times of signing for %s, retired while announced:\n%s", announced, out)
	}

	for _, tt := range []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{"no key store", []string{"list"}, nil, "give --key-dir or --store"},
		{"unknown verb", []string{"shred"}, nil, `unknown command "shred"`},
		{"no verb", nil, nil, "want a command"},
		{"retire without KID", append([]string{"retire"}, d...), nil, "missing argument KID"},
		{"retire of an unknown kid", append([]string{"retire", "nope"}, d...), nil, `no key with kid "nope"`},
		{"retire twice", append([]string{"retire", emergency}, d...), nil, "already retired"},
		{"import of a missing file", append([]string{"import", "/nonexistent.pem"}, d...), nil, "import:"},
		{"now on list", append([]string{"list", "--now"}, d...), nil, "flag provided but not defined: -now"},
		{"redis without the encryption key", []string{"list", "--store", "redis://127.0.0.1:1/0"}, nil, "AUTHSERVER_KEY_ENCRYPTION_KEY"},
		{"encrypted dir without the key", append([]string{"list"}, d...), map[string]string{"AUTHSERVER_KEY_ENCRYPTION_KEY": testEncryptionKey}, "not encrypted"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := keys(t, tt.env, tt.args...); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestKeysCommandOnRedis(t *testing.T) {
	store := redistest.Start(t)
	env := map[string]string{"AUTHSERVER_STORE": "redis://" + store.Addr + "/0", "AUTHSERVER_KEY_ENCRYPTION_KEY": testEncryptionKey}
	out, err := keys(t, env, "rotate", "--now", "--signing-alg", "ES256")
	m := addedRE.FindStringSubmatch(out)
	if err != nil || m == nil || m[2] != "ES256" {
		t.Fatalf("rotate --now on Redis: %q, %v", out, err)
	}
	out, err = keys(t, env, "list")
	if err != nil || !regexp.MustCompile(regexp.QuoteMeta(m[1])+`\s+ES256\s+signing\b`).MatchString(out) {
		t.Fatalf("list on Redis: %q, %v", out, err)
	}
	// Without --signing-alg a new key is of the algorithm that signs, not RS256.
	out, err = keys(t, env, "rotate")
	if m := addedRE.FindStringSubmatch(out); err != nil || m == nil || m[2] != "ES256" {
		t.Errorf("rotate without --signing-alg on an ES256 store: %q, %v; want an ES256 key", out, err)
	}
	env["AUTHSERVER_KEY_ENCRYPTION_KEY"] = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{8}, 32))
	if _, err := keys(t, env, "list"); err == nil || !strings.Contains(err.Error(), "does not open") {
		t.Errorf("list with another encryption key: got %v, want the record refused", err)
	}
}

// TestServeRotatesKeys runs two replicas on one key store with a schedule
// of seconds: tokens of each replica carry a kid both publish, and both
// sign with one key after another.
func TestServeRotatesKeys(t *testing.T) {
	tests := []struct {
		name  string
		store func(t *testing.T) (args []string, env map[string]string)
	}{
		{"directory", func(t *testing.T) ([]string, map[string]string) {
			return []string{"--key-dir", filepath.Join(t.TempDir(), "keys")}, nil
		}},
		{"redis", func(t *testing.T) ([]string, map[string]string) {
			s := redistest.Start(t)
			return []string{"--store", "redis://" + s.Addr + "/0"}, map[string]string{"AUTHSERVER_KEY_ENCRYPTION_KEY": testEncryptionKey}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storeArgs, env := tt.store(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			args := append([]string{"--addr", "127.0.0.1:0", "--signing-alg", "EdDSA", "--token-lifetime", "1s",
				"--key-announce", "1s", "--key-rotation", "2s", "--key-retain", "1s", "--key-reload", "200ms"}, storeArgs...)
			addrA, logsA, doneA := startRunEnv(t, ctx, args, env)
			addrB, _, doneB := startRunEnv(t, ctx, args, env)
			replicas := []string{"http://" + addrA, "http://" + addrB}
			signers := map[string]bool{}
			deadline := time.Now().Add(20 * time.Second)
			for len(signers) < 3 && time.Now().Before(deadline) {
				for _, base := range replicas {
					kid := tokenKid(t, base)
					signers[kid] = true
					if published := jwksKids(t, base); !slices.Contains(published, kid) {
						t.Fatalf("%s signed with %s, which it does not publish: %v", base, kid, published)
					}
				}
				time.Sleep(100 * time.Millisecond)
			}
			if !strings.Contains(logsA.String(), "shorter than twice the JWKS max-age") {
				t.Errorf("no warning that a 1s --key-announce is under the JWKS max-age:\n%s", logsA)
			}
			if len(signers) < 3 {
				t.Fatalf("saw %d signing keys in 20 s, want 3 (rotation every 2 s)\n%s", len(signers), logsA)
			}
			var a, b []string
			for range 20 {
				if a, b = jwksKids(t, replicas[0]), jwksKids(t, replicas[1]); slices.Equal(a, b) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if !slices.Equal(a, b) {
				t.Errorf("replicas publish %v and %v, want the same keys", a, b)
			}
			cancel()
			for _, done := range []<-chan error{doneA, doneB} {
				if err := <-done; err != nil {
					t.Errorf("run returned %v", err)
				}
			}
		})
	}
}

// tokenKid gets a token of the demo client and returns the kid of its header.
func tokenKid(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.PostForm(base+"/connect/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"ApiClient"}, "client_secret": {"secret"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != 200 {
		t.Fatalf("token from %s: status %d, %v", base, resp.StatusCode, err)
	}
	rawHeader, _, _ := strings.Cut(tok.AccessToken, ".")
	headerJSON, _ := base64.RawURLEncoding.DecodeString(rawHeader)
	var header struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(headerJSON, &header); err != nil || header.Kid == "" {
		t.Fatalf("token header %s: %v", headerJSON, err)
	}
	return header.Kid
}

// jwksKids returns the kids a server publishes, sorted.
func jwksKids(t *testing.T, base string) []string {
	t.Helper()
	resp, err := http.Get(base + "/.well-known/openid-configuration/jwks")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	slices.Sort(kids)
	return kids
}
