package walkthrough

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// verifyAlgorithms are the asymmetric algorithms a JWKS can hold; HMAC and none are never accepted.
var verifyAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// decodeToken shows the three parts of the JWT like jwt.io does, then checks the signature against the keys the
// server publishes and the claims against the discovery document.
func (w *walker) decodeToken(ctx context.Context) error {
	parts := strings.Split(w.res.Token, ".")
	if len(parts) != 3 {
		return deviation("the access token has %d parts, want 3 (header.payload.signature)", len(parts))
	}
	header, err := decodeSegment(parts[0])
	if err != nil {
		return deviation("token header: %v", err)
	}
	payload, err := decodeSegment(parts[1])
	if err != nil {
		return deviation("token payload: %v", err)
	}
	w.printf("   HEADER (base64url-decoded):\n%s\n", indent(header))
	w.printf("   PAYLOAD (base64url-decoded):\n%s\n", indent(payload))
	if err := json.Unmarshal(header, &w.res.Header); err != nil {
		return deviation("token header is not a JSON object: %v", err)
	}
	if err := json.Unmarshal(payload, &w.res.Claims); err != nil {
		return deviation("token payload is not a JSON object: %v", err)
	}
	if typ, _ := w.res.Header["typ"].(string); !strings.EqualFold(typ, "at+jwt") {
		return deviation("got header typ %q, want at+jwt (RFC 9068)", typ)
	}

	w.printf("   SIGNATURE: checked with the public key %v from %s\n", w.res.Header["kid"], w.jwksURI)
	_, jwks, err := w.do(ctx, http.MethodGet, w.jwksURI, nil, nil)
	if err != nil {
		return err
	}
	keys, err := keyfunc.NewJWKSetJSON(jwks)
	if err != nil {
		return deviation("JWKS is not a usable key set: %v", err)
	}
	issuer, _ := w.res.Discovery["issuer"].(string)
	_, err = jwt.Parse(w.res.Token, keys.Keyfunc,
		jwt.WithValidMethods(verifyAlgorithms),
		jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(30*time.Second),
	)
	if err != nil {
		return deviation("token does not verify: %v", err)
	}
	w.res.SignatureVerified = true
	w.printf("   Signature verified; issuer is %s.\n", issuer)
	if exp, ok := w.res.Claims["exp"].(float64); ok {
		at := time.Unix(int64(exp), 0)
		w.printf("   The token expires %s (%s).\n", inWords(time.Until(at)), at.UTC().Format(time.RFC1123))
	}
	w.explainChecks(issuer)
	return nil
}

// explainChecks says what valuesapi verifies before it answers, and what each check stops, with this token's
// values where they help.
func (w *walker) explainChecks(issuer string) {
	w.printf("   On every request valuesapi checks the token itself, and refuses it unless:\n")
	w.printf("   - iss is exactly the issuer of the authority it trusts (%s): a token from another server is refused.\n", issuer)
	w.printf("   - aud contains its audience (this token: %s): a token meant for another API is refused.\n", claimText(w.res.Claims["aud"]))
	w.printf("   - exp is still ahead, and nbf and iat are not, give or take 30s of clock skew: a stolen token soon stops working.\n")
	w.printf("   - scope contains the scope of the route (this token: %s): a token opens only what it was granted.\n", claimText(w.res.Claims["scope"]))
	w.printf("   - typ is at+jwt: an ID token or any other JWT cannot be replayed as an access token (RFC 9068, RFC 8725).\n")
	w.printf("   - the signature verifies with the JWKS key its kid names, by an allow-listed alg (this token: %s):\n"+
		"     never none or HMAC, with which anyone could forge a token.\n", claimText(w.res.Header["alg"]))
}

// claimText shows a claim as the narration quotes it: a string as it is, a list (such as aud) joined.
func claimText(v any) string {
	switch v := v.(type) {
	case nil:
		return "none"
	case string:
		return v
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = claimText(x)
		}
		return strings.Join(parts, ", ")
	default:
		return fmt.Sprint(v)
	}
}

func decodeSegment(seg string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return nil, fmt.Errorf("not base64url: %w", err)
	}
	return b, nil
}

// inWords says how far away a moment is, the way a person would.
func inWords(d time.Duration) string {
	if d < 0 {
		return "already (it has expired)"
	}
	d = d.Round(time.Minute)
	switch h, m := int(d.Hours()), int(d.Minutes())%60; {
	case h == 0 && m <= 1:
		return "in about a minute"
	case h == 0:
		return fmt.Sprintf("in %d minutes", m)
	case m == 0:
		return fmt.Sprintf("in %d hour%s", h, plural(h))
	default:
		return fmt.Sprintf("in %d hour%s and %d minute%s", h, plural(h), m, plural(m))
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// indent pretty-prints JSON for the narration, or returns the text as it is when it is not JSON.
func indent(b []byte) string {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "     ", "  "); err != nil {
		return "     " + string(b)
	}
	return "     " + out.String()
}

func abbreviate(s string) string {
	if len(s) <= 40 {
		return s
	}
	return s[:20] + "..." + s[len(s)-12:]
}

func mask(secret string) string {
	if secret == "" {
		return "(empty)"
	}
	return strings.Repeat("*", min(len(secret), 8))
}
