package bearer

import (
	"context"
	"strings"
	"testing"
)

func TestNewRefusesUnsafeConfig(t *testing.T) {
	ok := Config{Authority: "http://as.example", Audience: "api"}
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
		{"authority with query", func(c *Config) { c.Authority = "http://as.example?x=1" }, "query"},
		{"authority with fragment", func(c *Config) { c.Authority = "http://as.example#x" }, "fragment"},
		{"no audience", func(c *Config) { c.Audience = "" }, "audience"},
		{"negative leeway", func(c *Config) { c.Leeway = -1 }, "leeway"},
		{"realm with quote", func(c *Config) { c.Realm = `a"b` }, "realm"},
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
	if len(c.Algorithms) != 1 || c.Algorithms[0] != "RS256" || c.FetchTimeout != DefaultFetchTimeout ||
		c.RefreshInterval != DefaultRefreshInterval || c.UnknownKIDInterval != DefaultUnknownKIDInterval {
		t.Errorf("defaults not applied: %+v", c)
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
