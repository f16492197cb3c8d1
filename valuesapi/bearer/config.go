package bearer

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults applied by New to zero-valued Config fields.
const (
	DefaultRefreshInterval    = 5 * time.Minute
	DefaultUnknownKIDInterval = 5 * time.Second
	DefaultFetchTimeout       = 2 * time.Second
)

// DefaultAlgorithms are the algorithms a Validator accepts unless Config.Algorithms says otherwise: every one an
// authserver may sign with (RSA, RSA-PSS, ECDSA P-256 and Ed25519 keys), so an authority can switch to another
// without its resource servers being reconfigured first.
var DefaultAlgorithms = []string{"RS256", "PS256", "ES256", "EdDSA"}

// Config configures a Validator. Authority and Audience are required; every other field has a safe default.
type Config struct {
	// Authority is the issuer identifier of the authorization server. Its discovery document is fetched from
	// {Authority}/.well-known/openid-configuration and its "issuer" must equal Authority (a trailing slash on the
	// configured value is ignored for that comparison; the discovery issuer is used as-is).
	Authority string
	// Audience must appear in the token's aud claim.
	Audience string
	// Algorithms is the allow-list of JWS algorithms (default DefaultAlgorithms). "none" and HMAC algorithms are
	// refused: a resource server holds no shared secret, and accepting HS* with a public key is the classic
	// key-confusion attack. Whatever the list, a token's alg must also be its key's: the JWK's alg when it has one,
	// else one that fits the key's type.
	Algorithms []string
	// Leeway is the clock skew tolerated for exp, nbf and iat. Zero means none.
	Leeway time.Duration
	// RefreshInterval is how often the JWKS is refetched in the background (default 5m).
	RefreshInterval time.Duration
	// UnknownKIDInterval allows at most one JWKS refetch per window when a token names an unknown kid (default 5s),
	// so a stream of forged kids cannot turn the API into a load generator against the authority.
	UnknownKIDInterval time.Duration
	// FetchTimeout bounds every network fetch: each discovery/JWKS attempt, and the total time a request may spend
	// waiting for keys (default 2s).
	FetchTimeout time.Duration
	// HTTPClient is used for discovery and JWKS fetches (default: a client on http.DefaultTransport; deadlines come
	// from contexts, not from the client). New uses a copy whose response bodies are capped at 1 MiB. To trust an
	// authority whose certificate chains to a private CA, give it a transport whose TLSClientConfig.RootCAs holds
	// that CA.
	HTTPClient *http.Client
	// AllowInsecureAuthority lets an http:// Authority (and jwks_uri) name a host that is not a loopback address.
	// Without it New refuses one, since whoever sits on the path could serve their own keys and have their tokens
	// accepted; loopback (localhost, 127.0.0.0/8, ::1) never leaves the machine and is always allowed. It is
	// ASP.NET's RequireHttpsMetadata = false.
	AllowInsecureAuthority bool
	// Logger receives key-loading and refresh failures (default slog.Default()).
	Logger *slog.Logger
	// Realm is sent as the realm parameter of WWW-Authenticate challenges; empty omits it.
	Realm string
	// TokenCacheSize is how many verified tokens are remembered (default DefaultTokenCacheSize); a negative value
	// turns the cache off, so every request is verified in full. A remembered token presented again skips the
	// signature and claim checks but not exp, nbf and iat, nor the route's scopes; it is forgotten when its key
	// leaves the JWKS, and the least recently used one makes room for a new one. Each takes at most 2 KiB.
	TokenCacheSize int
}

// ErrInsecureAuthority is New's error (compare with errors.Is) for an http:// authority on a host that is not a
// loopback address while Config.AllowInsecureAuthority is false, so a program can name its own setting for it.
var ErrInsecureAuthority = errors.New("plain http to a host that is not a loopback address lets anyone on the path serve the signing keys")

// secureEnough reports whether keys may be fetched from u: over https, over http to a loopback host, or over any
// http when the configuration allows it.
func (c Config) secureEnough(u *url.URL) bool {
	return u.Scheme == "https" || c.AllowInsecureAuthority || isLoopback(u.Hostname())
}

// isLoopback reports whether host is "localhost" or a literal loopback address (127.0.0.0/8, ::1). Other names are
// not resolved: what a name resolves to is what an attacker on the network may control.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// asymmetricAlgorithms are the JWS algorithms a Validator may be configured with: only those verified with a public key.
var asymmetricAlgorithms = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true,
	"EdDSA": true,
}

// withDefaults returns a copy of c with defaults filled in, or an error describing the first invalid field.
func (c Config) withDefaults() (Config, error) {
	u, err := url.Parse(c.Authority)
	switch {
	case c.Authority == "":
		return c, errors.New("authority is required")
	case err != nil:
		return c, fmt.Errorf("authority: %w", err)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return c, errors.New("authority must be an absolute http(s) URL")
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(c.Authority, "?") || strings.HasSuffix(c.Authority, "#"):
		return c, errors.New("authority must not have a query or fragment")
	case !c.secureEnough(u):
		return c, fmt.Errorf("authority %q: %w; use https, or set AllowInsecureAuthority", c.Authority, ErrInsecureAuthority)
	}
	if c.Audience == "" {
		return c, errors.New("audience is required")
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = DefaultAlgorithms
	}
	c.Algorithms = append([]string(nil), c.Algorithms...)
	for _, alg := range c.Algorithms {
		if !asymmetricAlgorithms[alg] {
			return c, fmt.Errorf("algorithm %q is not allowed (asymmetric JWS algorithms only; never none or HMAC)", alg)
		}
	}
	if c.Leeway < 0 {
		return c, errors.New("leeway must not be negative")
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"refresh interval", &c.RefreshInterval, DefaultRefreshInterval},
		{"unknown kid interval", &c.UnknownKIDInterval, DefaultUnknownKIDInterval},
		{"fetch timeout", &c.FetchTimeout, DefaultFetchTimeout},
	} {
		if *d.v < 0 {
			return c, fmt.Errorf("%s must not be negative", d.name)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if c.TokenCacheSize == 0 {
		c.TokenCacheSize = DefaultTokenCacheSize
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	c.HTTPClient = limitResponses(c.HTTPClient, maxResponseBytes)
	c.HTTPClient.CheckRedirect = refuseInsecureRedirects(c.HTTPClient.CheckRedirect, c.secureEnough)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Realm != sanitizeParam(c.Realm) {
		return c, errors.New("realm must be printable ASCII without quotes or backslashes")
	}
	return c, nil
}

// refuseInsecureRedirects wraps a client's redirect policy (nil: net/http's default of at most 10) so that an https
// authority cannot be redirected to plain http on the network, which would undo the scheme rule of New.
func refuseInsecureRedirects(next func(*http.Request, []*http.Request) error, secure func(*url.URL) bool) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if !secure(req.URL) {
			return fmt.Errorf("redirected to %s: %w", req.URL.Redacted(), ErrInsecureAuthority)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
}
