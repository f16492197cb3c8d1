package secret

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestHashOfMatchesIdentityServerFormat(t *testing.T) {
	// "secret".Sha256() in IdentityServer, with the sha256: prefix.
	const want = "sha256:K7gNU3sdo+OL0wNhqoVWhr3g6s1xYv72ol/pe/Unols="
	if got := HashOf("secret"); got != want {
		t.Fatalf("HashOf(secret) = %q, want %q", got, want)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		stored  string
		wantErr string
	}{
		{"valid", HashOf("x"), ""},
		{"no prefix", "K7gNU3sdo+OL0wNhqoVWhr3g6s1xYv72ol/pe/Unols=", `must start with "sha256:"`},
		{"other algorithm", "sha512:K7gNU3sdo+OL0wNhqoVWhr3g6s1xYv72ol/pe/Unols=", `must start with "sha256:"`},
		{"plain secret", "secret", `must start with "sha256:"`},
		{"not base64", "sha256:not*base64", "decoding secret hash"},
		{"base64url instead of std", "sha256:K7gNU3sdo-OL0wNhqoVWhr3g6s1xYv72ol_pe_Unols=", "decoding secret hash"},
		{"too short", "sha256:" + base64.StdEncoding.EncodeToString(make([]byte, 16)), "is 16 bytes, want 32"},
		{"empty", "", `must start with "sha256:"`},
		// Only the spelling HashOf prints: one stored text per digest.
		{"trailing bits set", "sha256:K7gNU3sdo+OL0wNhqoVWhr3g6s1xYv72ol/pe/Unolt=", "decoding secret hash"},
		{"missing padding", "sha256:K7gNU3sdo+OL0wNhqoVWhr3g6s1xYv72ol/pe/Unols", "decoding secret hash"},
		{"extra padding", "sha256:K7gNU3sdo+OL0wNhqoVWhr3g6s1xYv72ol/pe/Unols==", "decoding secret hash"},
		{"newline inside", "sha256:K7gNU3sdo+OL0wNh\nqoVWhr3g6s1xYv72ol/pe/Unols=", "one line of canonical"},
		{"CRLF inside", "sha256:K7gNU3sdo+OL0wNh\r\nqoVWhr3g6s1xYv72ol/pe/Unols=", "one line of canonical"},
		{"trailing newline", "sha256:K7gNU3sdo+OL0wNhqoVWhr3g6s1xYv72ol/pe/Unols=\n", "one line of canonical"},
		{"space inside", "sha256:K7gNU3sdo+OL0wNh qoVWhr3g6s1xYv72ol/pe/Unols=", "decoding secret hash"},
		{"space after prefix", "sha256: K7gNU3sdo+OL0wNhqoVWhr3g6s1xYv72ol/pe/Unols=", "decoding secret hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.stored)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Parse(%q) error = %v, want containing %q", tt.stored, err, tt.wantErr)
			}
		})
	}
}

func TestMatches(t *testing.T) {
	h, err := Parse(HashOf("secret"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := Parse(HashOf("other"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		hashes []Hash
		plain  string
		want   bool
	}{
		{"right secret", []Hash{h}, "secret", true},
		{"wrong secret", []Hash{h}, "Secret", false},
		{"empty secret", []Hash{h}, "", false},
		{"second of two", []Hash{other, h}, "secret", true},
		{"none of two", []Hash{other, h}, "nope", false},
		{"no hashes", nil, "secret", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MatchesAny(tt.hashes, tt.plain); got != tt.want {
				t.Errorf("MatchesAny(%q) = %v, want %v", tt.plain, got, tt.want)
			}
		})
	}
	if !MatchesAny([]Hash{h}, "secret") || MatchesAny([]Hash{h}, "secret ") {
		t.Error("Matches disagrees with the hash of \"secret\"")
	}
}

// countCompares makes compare count its calls for the rest of the test.
func countCompares(t *testing.T) *int {
	t.Helper()
	calls := 0
	orig := compare
	compare = func(x, y []byte) int {
		calls++
		return orig(x, y)
	}
	t.Cleanup(func() { compare = orig })
	return &calls
}

// TestMatchesAnyComparesEveryHashInConstantTime: every stored hash goes
// through the constant-time comparison, also after a match, so neither
// the time of one comparison nor the number of them tells which hash
// matched or how close a guess came.
func TestMatchesAnyComparesEveryHashInConstantTime(t *testing.T) {
	var hashes []Hash
	for _, plain := range []string{"first", "second", "third"} {
		h, err := Parse(HashOf(plain))
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, h)
	}
	tests := []struct {
		name   string
		hashes []Hash
		plain  string
		want   bool
	}{
		{"wrong secret, one hash", hashes[:1], "wrong", false},
		{"matches the first of three", hashes, "first", true},
		{"matches the last of three", hashes, "third", true},
		{"matches none of three", hashes, "wrong", false},
		{"no hashes", nil, "first", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := countCompares(t)
			if got := MatchesAny(tt.hashes, tt.plain); got != tt.want {
				t.Errorf("MatchesAny(%q) = %v, want %v", tt.plain, got, tt.want)
			}
			if *calls != len(tt.hashes) {
				t.Errorf("got %d constant-time comparisons, want %d, one per stored hash", *calls, len(tt.hashes))
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	a, b := Generate(), Generate()
	if a == b {
		t.Fatal("two generated secrets are equal")
	}
	raw, err := base64.RawURLEncoding.DecodeString(a)
	if err != nil {
		t.Fatalf("secret %q is not unpadded base64url: %v", a, err)
	}
	if len(raw) != 32 {
		t.Fatalf("secret has %d random bytes, want 32", len(raw))
	}
}
