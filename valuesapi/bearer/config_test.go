package bearer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestNewRefusesUnsafeConfig(t *testing.T) {
	ok := Config{Authority: "https://as.example", Audience: "api"}
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{"none", func(c *Config) { c.Algorithms = []string{"none"} }, `"none"`},
		{"HS256", func(c *Config) { c.Algorithms = []string{"RS256", "HS256"} }, `"HS256"`},
		{"unknown alg", func(c *Config) { c.Algorithms = []string{"RS257"} }, `"RS257"`},
		{"no authority", func(c *Config) { c.Authority = "" }, "authority"},
		{"relative authority", func(c *Config) { c.Authority = "as.example" }, "absolute"},
		{"ftp authority", func(c *Config) { c.Authority = "ftp://as.example" }, "http(s)"},
		{"authority without host", func(c *Config) { c.Authority = "http:///realms/x" }, "absolute"},
		{"authority with query", func(c *Config) { c.Authority = "https://as.example?x=1" }, "query"},
		{"authority with fragment", func(c *Config) { c.Authority = "https://as.example#x" }, "fragment"},
		{"no audience", func(c *Config) { c.Audience = "" }, "audience"},
		{"negative leeway", func(c *Config) { c.Leeway = -1 }, "leeway"},
		{"realm with quote", func(c *Config) { c.Realm = `a"b` }, "realm"},
		{"HS384 beside the defaults", func(c *Config) { c.Algorithms = append(slices.Clone(DefaultAlgorithms), "HS384") }, `"HS384"`},
		{"empty name in the list", func(c *Config) { c.Algorithms = []string{"RS256", ""} }, `""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.edit(&cfg)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, err := New(ctx, cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %v, want error mentioning %s", err, tt.wantErr)
			}
		})
	}

	c, err := ok.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Algorithms, []string{"RS256", "PS256", "ES256", "EdDSA"}) || c.FetchTimeout != DefaultFetchTimeout ||
		c.RefreshInterval != DefaultRefreshInterval || c.UnknownKIDInterval != DefaultUnknownKIDInterval {
		t.Errorf("defaults not applied: %+v", c)
	}
}

// TestAuthorityScheme: keys come over https, or over http only from this machine or when the configuration says the
// network is trusted (ASP.NET's RequireHttpsMetadata = false).
func TestAuthorityScheme(t *testing.T) {
	tests := []struct {
		authority     string
		allowInsecure bool
		wantRefused   bool
	}{
		{"https://as.example", false, false},
		{"https://10.0.0.1:8443/realms/x", false, false},
		{"http://authserver:44364", false, true},
		{"http://as.example", false, true},
		{"http://10.0.0.1", false, true},
		{"http://[2001:db8::1]:80", false, true},
		{"http://0.0.0.0:44364", false, true}, // the unspecified address is not loopback
		// Names are not resolved, so none that merely starts or ends like a loopback name passes.
		{"http://localhost.evil.example", false, true},
		{"http://127.0.0.1.nip.io", false, true},
		{"http://evil.localhost.example:1", false, true},
		{"http://localhost:44364", false, false},
		{"http://LocalHost:44364", false, false},
		{"http://127.0.0.1:44364", false, false},
		{"http://127.3.2.1", false, false},
		{"http://[::1]:44364", false, false},
		{"http://authserver:44364", true, false},
		{"http://as.example", true, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s allow=%v", tt.authority, tt.allowInsecure), func(t *testing.T) {
			_, err := Config{Authority: tt.authority, Audience: "api", AllowInsecureAuthority: tt.allowInsecure}.withDefaults()
			if !tt.wantRefused {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInsecureAuthority) {
				t.Fatalf("got %v, want ErrInsecureAuthority", err)
			}
			// The error names the setting that overrides it, for the reader of a start-up failure.
			if !strings.Contains(err.Error(), "AllowInsecureAuthority") || !strings.Contains(err.Error(), tt.authority) {
				t.Errorf("got %q, want it to name the authority and AllowInsecureAuthority", err)
			}
		})
	}
}

func TestIssuerMatches(t *testing.T) {
	tests := []struct {
		authority, issuer string
		want              bool
	}{
		{"http://as", "http://as", true},
		{"http://as/", "http://as", true},    // configured trailing slash ignored
		{"http://as/", "http://as/", true},   // issuer with slash, configured with slash
		{"http://as", "http://as/", false},   // the discovery side is not normalised
		{"http://as", "https://as", false},   // scheme differs
		{"http://as", "", false},             // no issuer at all
		{"http://as/t1", "http://as", false}, // path differs
	}
	for _, tt := range tests {
		if got := issuerMatches(tt.authority, tt.issuer); got != tt.want {
			t.Errorf("issuerMatches(%q, %q): got %v, want %v", tt.authority, tt.issuer, got, tt.want)
		}
	}
}
