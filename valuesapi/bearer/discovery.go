package bearer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxDiscoveryBytes caps the discovery document we are willing to read; real ones are a few KiB.
const maxDiscoveryBytes = 1 << 20

// discovery holds the members of the authority's metadata (OIDC Discovery 1.0 / RFC 8414) that a resource
// server needs.
type discovery struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
}

// fetchDiscovery GETs {authority}/.well-known/openid-configuration and checks that its issuer is the authority
// (RFC 8414 3.3), which stops a misconfigured or spoofed metadata endpoint from choosing whose tokens we accept.
//
// secure says whether the jwks_uri may be fetched: the keys must travel as safely as the discovery document did.
func fetchDiscovery(ctx context.Context, client *http.Client, authority string, secure func(*url.URL) bool) (discovery, error) {
	where := discoveryURL(authority)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, where, nil)
	if err != nil {
		return discovery{}, fmt.Errorf("building discovery request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		// The client's error names the URL and the cause: connection refused, no such host, deadline exceeded.
		return discovery{}, fmt.Errorf("fetching discovery document: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return discovery{}, fmt.Errorf("discovery document %s: status %d, want 200", where, resp.StatusCode)
	}
	var d discovery
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDiscoveryBytes)).Decode(&d); err != nil {
		return discovery{}, fmt.Errorf("decoding discovery document %s: %w", where, err)
	}
	// The members quoted below come from the authority; %.200q keeps a garbage document from flooding the log.
	if !issuerMatches(authority, d.Issuer) {
		return discovery{}, fmt.Errorf("discovery issuer %.200q does not match authority %q", d.Issuer, authority)
	}
	u, err := url.Parse(d.JWKSURI)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return discovery{}, fmt.Errorf("discovery document %s: jwks_uri %.200q is not an absolute http(s) URL", where, d.JWKSURI)
	}
	if !secure(u) {
		return discovery{}, fmt.Errorf("discovery document %s: jwks_uri %.200q: %w", where, d.JWKSURI, ErrInsecureAuthority)
	}
	return d, nil
}

// discoveryURL appends the well-known path after dropping one trailing slash, as RFC 8414 3.1 describes.
func discoveryURL(authority string) string {
	return strings.TrimSuffix(authority, "/") + "/.well-known/openid-configuration"
}

// issuerMatches compares the discovery issuer to the configured authority. Only the configured side is normalised
// (with or without its trailing slash), so "--authority http://as/" works against an issuer "http://as"; the
// discovery issuer is taken verbatim because tokens must carry exactly that string.
func issuerMatches(authority, issuer string) bool {
	return issuer != "" && (issuer == authority || issuer == strings.TrimSuffix(authority, "/"))
}
