package bearer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/tokenbearer/valuesapi/bearer"
	"github.com/tokenbearer/valuesapi/bearer/bearertest"
)

// outcome is what a request through Require must produce.
type outcome struct {
	status int
	code   string // RFC 6750 error code; "" for 200 and for "no credentials"
	desc   string // error_description
}

var (
	accepted      = outcome{status: 200}
	noCredentials = outcome{status: 401}
	insufficient  = outcome{403, bearer.CodeInsufficientScope, "token lacks the required scope"}
)

func rejected(desc string) outcome { return outcome{401, bearer.CodeInvalidToken, desc} }

// challenge is the WWW-Authenticate value the outcome calls for, written out here rather than taken from
// bearer.Challenge so the test does not trust the code under test.
func (o outcome) challenge() string {
	switch {
	case o.status == 200:
		return ""
	case o.code == "":
		return `Bearer realm="valuesapi"`
	case o.code == bearer.CodeInsufficientScope:
		return `Bearer error="insufficient_scope", scope="` + audience + `"`
	default:
		return `Bearer error="` + o.code + `", error_description="` + o.desc + `"`
	}
}

// hostileServer is a Gin engine with GET /x behind Require(audience), validating against a fresh fake authority
// with a 30 s leeway and realm "valuesapi".
func hostileServer(t testing.TB, edit func(*bearer.Config)) (*bearertest.Authority, *bearer.Validator, http.Handler) {
	t.Helper()
	a := bearertest.NewAuthority(t)
	v := newValidator(t, a.URL, func(c *bearer.Config) {
		c.Realm = "valuesapi"
		c.Leeway = 30 * time.Second
		if edit != nil {
			edit(c)
		}
	})
	waitReady(t, v)
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/x", v.Require(audience), func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	return a, v, r
}

// serve sends GET /x with the given Authorization header values (none when nil) and checks status, error code,
// WWW-Authenticate and body against want.
func serve(t *testing.T, h http.Handler, auth []string, want outcome) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	for _, v := range auth {
		req.Header.Add("Authorization", v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)

	if rec.Code != want.status {
		t.Errorf("status: got %d, want %d (body %s)", rec.Code, want.status, rec.Body)
	}
	if got := rec.Header().Get("WWW-Authenticate"); got != want.challenge() {
		t.Errorf("WWW-Authenticate:\n got %s\nwant %s", got, want.challenge())
	}
	switch {
	case want.status == 200:
		if rec.Body.String() != "ok" {
			t.Errorf("body: got %q, want ok", rec.Body)
		}
	case want.code == "":
		if rec.Body.Len() != 0 {
			t.Errorf("body: got %q, want empty", rec.Body)
		}
	default:
		var body struct {
			Error            string `json:"error"`
			ErrorDescription string `json:"error_description"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("body %q: %v", rec.Body, err)
		}
		if body.Error != want.code || body.ErrorDescription != want.desc {
			t.Errorf("body: got %q %q, want %q %q", body.Error, body.ErrorDescription, want.code, want.desc)
		}
	}
}

func seg(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func segJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return seg(b)
}

// signRaw signs header and payload given as raw JSON with RS256, so a test can sign JSON that json.Marshal would
// never produce (duplicate members).
func signRaw(t *testing.T, key *rsa.PrivateKey, header, payload string) string {
	t.Helper()
	input := seg([]byte(header)) + "." + seg([]byte(payload))
	sig, err := jwt.SigningMethodRS256.Sign(input, key)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + seg(sig)
}

// editSig decodes the signature of tok, lets edit change it, and puts it back.
func editSig(t *testing.T, tok string, edit func([]byte) []byte) string {
	t.Helper()
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		t.Fatal(err)
	}
	return tok[:i+1] + seg(edit(sig))
}

// TestHostileTokens is the resource server's hostile-input suite: every forged, malformed, or misdirected
// credential must end in 401 invalid_token (or the no-credentials challenge), never a 500 and never a 200.
func TestHostileTokens(t *testing.T) {
	// jku, x5u and x5c point here; no request may ever arrive.
	var hits atomic.Int64
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "gotcha", http.StatusTeapot)
	}))
	defer evil.Close()

	a, _, h := hostileServer(t, nil)
	attacker := bearertest.Keys(t)[2]
	now := time.Now()

	// token signs a variant of a valid token with the authority's key; edit changes header and claims first.
	token := func(edit func(h map[string]any, c jwt.MapClaims)) string {
		hdr, claims := a.Header(), a.Claims(audience, audience)
		if edit != nil {
			edit(hdr, claims)
		}
		return bearertest.Sign(t, a.Key, hdr, claims)
	}
	// forge signs a valid-looking token with key under header (alg picks the method).
	forge := func(key any, header map[string]any) string {
		return bearertest.Sign(t, key, header, a.Claims(audience, audience))
	}
	hdr := func(alg, kid string, extra ...any) map[string]any {
		h := map[string]any{"alg": alg, "typ": "at+jwt"}
		if kid != "" {
			h["kid"] = kid
		}
		for i := 0; i+1 < len(extra); i += 2 {
			h[extra[i].(string)] = extra[i+1]
		}
		return h
	}
	claimsSeg := segJSON(t, a.Claims(audience, audience))
	unsigned := func(header string) string { return seg([]byte(header)) + "." + claimsSeg + "." }

	valid := token(nil)
	parts := strings.Split(valid, ".")

	// The public key in every shape an HS256 key-confusion attack might feed the verifier.
	pkixDER, err := x509.MarshalPKIXPublicKey(&a.Key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pkixPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkixDER})
	pkcs1 := x509.MarshalPKCS1PublicKey(&a.Key.PublicKey)
	modulus := a.Key.N.Bytes()

	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	certDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "attacker"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
	}, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "attacker"}}, &attacker.PublicKey, attacker)
	if err != nil {
		t.Fatal(err)
	}
	attackerJWK := map[string]any{
		"kty": "RSA", "kid": a.KID, "alg": "RS256", "use": "sig",
		"n": seg(attacker.N.Bytes()), "e": seg(big.NewInt(int64(attacker.E)).Bytes()),
	}
	claimsJSON, err := json.Marshal(a.Claims(audience, audience))
	if err != nil {
		t.Fatal(err)
	}
	// withMember inserts raw JSON members at the start of the claims object, ahead of the real ones.
	withMember := func(member string) string { return "{" + member + "," + string(claimsJSON[1:]) }
	bigClaims := a.Claims(audience, audience)
	bigClaims["pad"] = strings.Repeat("x", 9000)

	const b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	// A 256-byte signature is 342 characters carrying 4 unused bits; setting one changes the text, not the bytes.
	sigText := parts[2]
	last := strings.IndexByte(b64url, sigText[len(sigText)-1])
	malleable := parts[0] + "." + parts[1] + "." + sigText[:len(sigText)-1] + string(b64url[last^1])

	bearerOf := func(tok string) []string { return []string{"Bearer " + tok} }
	tests := []struct {
		name string
		auth []string
		want outcome
	}{
		// Controls: the suite must be able to tell accepted from rejected.
		{"control: valid token", bearerOf(valid), accepted},
		{"control: typ application/at+jwt", bearerOf(token(func(h map[string]any, _ jwt.MapClaims) { h["typ"] = "application/at+jwt" })), accepted},
		{"control: scope missing is 403", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["scope"] = "other" })), insufficient},

		// alg: none in every spelling, HMAC keyed with the public key, and algorithms outside the allow-list.
		{"alg none", bearerOf(unsigned(`{"alg":"none","kid":"key-1","typ":"at+jwt"}`)), rejected("signing algorithm not allowed")},
		{"alg None", bearerOf(unsigned(`{"alg":"None","kid":"key-1","typ":"at+jwt"}`)), rejected("signing algorithm not allowed")},
		{"alg NONE", bearerOf(unsigned(`{"alg":"NONE","kid":"key-1","typ":"at+jwt"}`)), rejected("signing algorithm not allowed")},
		{"alg none signed by jwt lib", bearerOf(forge(jwt.UnsafeAllowNoneSignatureType, hdr("none", a.KID))), rejected("signing algorithm not allowed")},
		{"alg empty", bearerOf(unsigned(`{"alg":"","kid":"key-1","typ":"at+jwt"}`)), rejected("signing algorithm not allowed")},
		{"alg missing", bearerOf(unsigned(`{"kid":"key-1","typ":"at+jwt"}`)), rejected("signing algorithm not allowed")},
		{"alg not a string", bearerOf(unsigned(`{"alg":256,"kid":"key-1","typ":"at+jwt"}`)), rejected("signing algorithm not allowed")},
		{"alg rs256 lowercase", bearerOf(unsigned(`{"alg":"rs256","kid":"key-1","typ":"at+jwt"}`)), rejected("signing algorithm not allowed")},
		{"HS256 keyed with public key PEM", bearerOf(forge(pkixPEM, hdr("HS256", a.KID))), rejected("signing algorithm not allowed")},
		{"HS256 keyed with public key DER (PKIX)", bearerOf(forge(pkixDER, hdr("HS256", a.KID))), rejected("signing algorithm not allowed")},
		{"HS256 keyed with public key DER (PKCS1)", bearerOf(forge(pkcs1, hdr("HS256", a.KID))), rejected("signing algorithm not allowed")},
		{"HS256 keyed with the modulus", bearerOf(forge(modulus, hdr("HS256", a.KID))), rejected("signing algorithm not allowed")},
		{"HS512 keyed with public key PEM", bearerOf(forge(pkixPEM, hdr("HS512", a.KID))), rejected("signing algorithm not allowed")},
		{"RS512 with the real key", bearerOf(forge(a.Key, hdr("RS512", a.KID))), rejected("signing algorithm not allowed")},
		{"RS384 with the real key", bearerOf(forge(a.Key, hdr("RS384", a.KID))), rejected("signing algorithm not allowed")},
		// Allowed algorithms, but not the one the key is published for (algorithms_test.go has the full table).
		{"PS256 with the real key", bearerOf(forge(a.Key, hdr("PS256", a.KID))), rejected("signing algorithm does not match the key")},
		{"ES256 with an attacker key and real kid", bearerOf(forge(ecKey, hdr("ES256", a.KID))), rejected("signing algorithm does not match the key")},

		// Signatures.
		{"flipped first signature bit", bearerOf(editSig(t, valid, func(s []byte) []byte { s[0] ^= 0x01; return s })), rejected("invalid token signature")},
		{"flipped last signature bit", bearerOf(editSig(t, valid, func(s []byte) []byte { s[len(s)-1] ^= 0x80; return s })), rejected("invalid token signature")},
		{"signature one byte short", bearerOf(editSig(t, valid, func(s []byte) []byte { return s[1:] })), rejected("invalid token signature")},
		{"signature of another token", bearerOf(parts[0] + "." + strings.Split(token(func(_ map[string]any, c jwt.MapClaims) { c["sub"] = "x" }), ".")[1] + "." + parts[2]), rejected("invalid token signature")},
		{"stripped signature (header.payload.)", bearerOf(parts[0] + "." + parts[1] + "."), rejected("invalid token signature")},
		{"signature segment missing (header.payload)", bearerOf(parts[0] + "." + parts[1]), rejected("malformed token")},
		{"signature text with non-zero padding bits", bearerOf(malleable), rejected("malformed token")},

		// Keys the token chooses for itself.
		{"attacker key reusing the real kid", bearerOf(forge(attacker, hdr("RS256", a.KID))), rejected("invalid token signature")},
		{"attacker key under an unknown kid", bearerOf(forge(attacker, hdr("RS256", "attacker"))), rejected("unknown signing key")},
		{"embedded jwk with the real kid", bearerOf(forge(attacker, hdr("RS256", a.KID, "jwk", attackerJWK))), rejected("invalid token signature")},
		{"embedded jwk without kid", bearerOf(forge(attacker, hdr("RS256", "", "jwk", attackerJWK))), rejected("token has no key id")},
		{"jku to attacker with the real kid", bearerOf(forge(attacker, hdr("RS256", a.KID, "jku", evil.URL+"/jwks"))), rejected("invalid token signature")},
		{"jku to attacker with an unknown kid", bearerOf(forge(attacker, hdr("RS256", "attacker-jku", "jku", evil.URL+"/jwks"))), rejected("unknown signing key")},
		{"x5u to attacker with an unknown kid", bearerOf(forge(attacker, hdr("RS256", "attacker-x5u", "x5u", evil.URL+"/cert.pem"))), rejected("unknown signing key")},
		{"x5c attacker certificate with the real kid", bearerOf(forge(attacker, hdr("RS256", a.KID, "x5c", []string{base64.StdEncoding.EncodeToString(certDER)}))), rejected("invalid token signature")},
		{"x5c attacker certificate without kid", bearerOf(forge(attacker, hdr("RS256", "", "x5c", []string{base64.StdEncoding.EncodeToString(certDER)}, "x5u", evil.URL))), rejected("token has no key id")},

		// Header rules (all signed with the authority's real key, so only the rule stops them).
		{"kid missing", bearerOf(token(func(h map[string]any, _ jwt.MapClaims) { delete(h, "kid") })), rejected("token has no key id")},
		{"kid empty", bearerOf(token(func(h map[string]any, _ jwt.MapClaims) { h["kid"] = "" })), rejected("token has no key id")},
		{"kid not a string", bearerOf(token(func(h map[string]any, _ jwt.MapClaims) { h["kid"] = 1 })), rejected("token has no key id")},
		{"crit unknown extension", bearerOf(token(func(h map[string]any, _ jwt.MapClaims) { h["crit"] = []string{"urn:x"}; h["urn:x"] = 1 })), rejected("unsupported critical header")},
		{"crit naming a known header", bearerOf(token(func(h map[string]any, _ jwt.MapClaims) { h["crit"] = []string{"alg"} })), rejected("unsupported critical header")},
		{"crit b64", bearerOf(token(func(h map[string]any, _ jwt.MapClaims) { h["crit"] = []string{"b64"}; h["b64"] = false })), rejected("unsupported critical header")},
		{"crit empty list", bearerOf(token(func(h map[string]any, _ jwt.MapClaims) { h["crit"] = []string{} })), rejected("unsupported critical header")},
		{"typ JWT", bearerOf(token(func(h map[string]any, _ jwt.MapClaims) { h["typ"] = "JWT" })), rejected("token type must be at+jwt")},
		{"typ jwt", bearerOf(token(func(h map[string]any, _ jwt.MapClaims) { h["typ"] = "jwt" })), rejected("token type must be at+jwt")},
		{"typ application/jwt", bearerOf(token(func(h map[string]any, _ jwt.MapClaims) { h["typ"] = "application/jwt" })), rejected("token type must be at+jwt")},
		{"typ missing", bearerOf(token(func(h map[string]any, _ jwt.MapClaims) { delete(h, "typ") })), rejected("token type must be at+jwt")},
		{"typ not a string", bearerOf(token(func(h map[string]any, _ jwt.MapClaims) { h["typ"] = []string{"at+jwt"} })), rejected("token type must be at+jwt")},

		// Time claims (leeway 30 s). The rows around the boundary pin the leeway to within a few seconds: claims are
		// whole seconds (now is truncated), so a past exp gets its slack on the accepted side and a future nbf/iat
		// on the refused side, and no row depends on how fast the test runs.
		{"exp missing", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { delete(c, "exp") })), rejected("token is missing a required claim")},
		{"exp past leeway", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["exp"] = now.Add(-2 * time.Minute).Unix() })), rejected("token is expired")},
		{"exp 31s ago, just past leeway", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["exp"] = now.Add(-31 * time.Second).Unix() })), rejected("token is expired")},
		{"exp 27s ago, just inside leeway", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["exp"] = now.Add(-27 * time.Second).Unix() })), accepted},
		{"exp just inside leeway", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["exp"] = now.Add(-20 * time.Second).Unix() })), accepted},
		{"exp not a number", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["exp"] = "tomorrow" })), rejected("malformed token")},
		{"nbf in the future beyond leeway", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["nbf"] = now.Add(2 * time.Minute).Unix() })), rejected("token is not valid yet")},
		{"nbf 34s ahead, just past leeway", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["nbf"] = now.Add(34 * time.Second).Unix() })), rejected("token is not valid yet")},
		{"nbf 29s ahead, just inside leeway", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["nbf"] = now.Add(29 * time.Second).Unix() })), accepted},
		{"nbf in the future inside leeway", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["nbf"] = now.Add(20 * time.Second).Unix() })), accepted},
		{"iat in the future beyond leeway", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["iat"] = now.Add(2 * time.Minute).Unix() })), rejected("token issued in the future")},
		{"iat 34s ahead, just past leeway", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["iat"] = now.Add(34 * time.Second).Unix() })), rejected("token issued in the future")},
		{"iat 29s ahead, just inside leeway", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["iat"] = now.Add(29 * time.Second).Unix() })), accepted},

		// Scope (RFC 6749 3.3: scope tokens are case-sensitive; only the exact string counts).
		{"scope upper-case", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["scope"] = "AUTH.WEB.API" })), insufficient},
		{"scope mixed case", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["scope"] = "Auth.Web.Api" })), insufficient},
		{"scope prefix only", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["scope"] = "auth.web" })), insufficient},
		{"scope among others", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["scope"] = "openid " + audience + " profile" })), accepted},

		// Issuer and audience.
		{"iss wrong", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["iss"] = "http://evil.example" })), rejected("invalid issuer")},
		{"iss with trailing slash", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["iss"] = a.URL + "/" })), rejected("invalid issuer")},
		{"iss upper-case scheme", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["iss"] = "HTTP" + strings.TrimPrefix(a.URL, "http") })), rejected("invalid issuer")},
		{"iss missing", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { delete(c, "iss") })), rejected("token is missing a required claim")},
		{"aud missing", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { delete(c, "aud") })), rejected("token is missing a required claim")},
		{"aud empty", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["aud"] = "" })), rejected("token is missing a required claim")},
		{"aud wrong", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["aud"] = "other.api" })), rejected("invalid audience")},
		{"aud numeric", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["aud"] = 42 })), rejected("malformed token")},
		{"aud array without the audience", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["aud"] = []string{"a", "b"} })), rejected("invalid audience")},
		{"aud array holding a number", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["aud"] = []any{audience, 1} })), rejected("malformed token")},
		{"aud prefix of the audience", bearerOf(token(func(_ map[string]any, c jwt.MapClaims) { c["aud"] = "auth.web" })), rejected("invalid audience")},

		// Size and shape.
		{"token over 8 KiB, validly signed", bearerOf(bearertest.Sign(t, a.Key, a.Header(), bigClaims)), rejected("token too large")},
		{"100000 dots (CVE-2025-30204 shape)", bearerOf(strings.Repeat(".", 100000)), rejected("token too large")},
		{"8000 dots", bearerOf(strings.Repeat(".", 8000)), rejected("malformed token")},
		{"valid token followed by dots", bearerOf(valid + strings.Repeat(".", 1000)), rejected("malformed token")},
		{"header.payload followed by many segments", bearerOf(parts[0] + "." + parts[1] + strings.Repeat(".a", 1000)), rejected("malformed token")},
		{"one segment", bearerOf(parts[0]), rejected("malformed token")},
		{"non-base64url segment (std alphabet)", bearerOf("Zm9v+/." + parts[1] + "." + parts[2]), rejected("malformed token")},
		{"padded segment", bearerOf(parts[0] + "." + parts[1] + "." + parts[2] + "=="), rejected("malformed token")},
		{"header not JSON", bearerOf(seg([]byte("alg:RS256")) + "." + parts[1] + "." + parts[2]), rejected("malformed token")},
		{"header a JSON array", bearerOf(seg([]byte(`["RS256"]`)) + "." + parts[1] + "." + parts[2]), rejected("malformed token")},
		{"header a JSON string", bearerOf(seg([]byte(`"RS256"`)) + "." + parts[1] + "." + parts[2]), rejected("malformed token")},
		{"header JSON null", bearerOf(seg([]byte(`null`)) + "." + parts[1] + "." + parts[2]), rejected("signing algorithm not allowed")},
		{"payload a JSON array, real key", bearerOf(signRaw(t, a.Key, `{"alg":"RS256","kid":"key-1","typ":"at+jwt"}`, `[1]`)), rejected("malformed token")},
		{"payload JSON null, real key", bearerOf(signRaw(t, a.Key, `{"alg":"RS256","kid":"key-1","typ":"at+jwt"}`, `null`)), rejected("token is missing a required claim")},
		// RFC 7515 4: duplicate members either fail or resolve to the last one, consistently for every check.
		{"duplicate alg, last none", bearerOf(unsigned(`{"alg":"RS256","kid":"key-1","typ":"at+jwt","alg":"none"}`)), rejected("signing algorithm not allowed")},
		{"duplicate typ, last JWT, real key", bearerOf(signRaw(t, a.Key, `{"alg":"RS256","kid":"key-1","typ":"at+jwt","typ":"JWT"}`, string(claimsJSON))), rejected("token type must be at+jwt")},
		{"duplicate aud, first wrong, real key", bearerOf(signRaw(t, a.Key, `{"alg":"RS256","kid":"key-1","typ":"at+jwt"}`, withMember(`"aud":"other.api"`))), accepted},
		{"duplicate aud, last wrong, real key", bearerOf(signRaw(t, a.Key, `{"alg":"RS256","kid":"key-1","typ":"at+jwt"}`, strings.TrimSuffix(string(claimsJSON), "}")+`,"aud":"other.api"}`)), rejected("invalid audience")},

		// The Authorization header (RFC 6750 2.1, RFC 7235 2.1).
		{"no Authorization header", nil, noCredentials},
		{"empty Authorization header", []string{""}, noCredentials},
		{"other scheme", []string{"Basic QXBpQ2xpZW50OnNlY3JldA=="}, noCredentials},
		{"scheme bearer", []string{"bearer " + valid}, accepted},
		{"scheme BEARER", []string{"BEARER " + valid}, accepted},
		{"several spaces after the scheme", []string{"Bearer    " + valid}, accepted},
		{"surrounding whitespace", []string{" \tBearer " + valid + " \t"}, accepted},
		{"Bearer with nothing", []string{"Bearer"}, rejected("malformed authorization header")},
		{"Bearer and spaces", []string{"Bearer     "}, rejected("malformed authorization header")},
		{"Bearer with two tokens", []string{"Bearer " + valid + " " + valid}, rejected("malformed authorization header")},
		{"Bearer with a comma list", []string{"Bearer " + valid + ", Bearer " + valid}, rejected("malformed authorization header")},
		{"two Authorization headers", []string{"Bearer " + valid, "Bearer " + valid}, rejected("malformed authorization header")},
		{"tab after the scheme", []string{"Bearer\t" + valid}, rejected("malformed authorization header")},
		{"scheme glued to the token", []string{"Bearer" + valid}, rejected("malformed authorization header")},
		{"token without scheme", []string{valid}, rejected("malformed authorization header")},
		{"quoted token", []string{`Bearer "` + valid + `"`}, rejected("malformed authorization header")},
		{"token with CR LF", []string{"Bearer " + parts[0] + "\r\nX: ." + parts[1] + "." + parts[2]}, rejected("malformed authorization header")},
		{"token with NUL", []string{"Bearer " + valid + "\x00"}, rejected("malformed authorization header")},
		{"token with non-ASCII", []string{"Bearer " + valid + "é"}, rejected("malformed authorization header")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { serve(t, h, tt.auth, tt.want) })
	}

	// RFC 6750 2.2 and 2.3 (form body, query string) are not supported: such a token is no credential at all.
	for name, req := range map[string]*http.Request{
		"token in the query string": httptest.NewRequest(http.MethodGet, "/x?access_token="+valid, nil),
		"token in a form body":      httptest.NewRequest(http.MethodGet, "/x", strings.NewReader("access_token="+valid)),
	} {
		t.Run(name, func(t *testing.T) {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 401 || rec.Header().Get("WWW-Authenticate") != noCredentials.challenge() {
				t.Errorf("got %d %q, want 401 %q", rec.Code, rec.Header().Get("WWW-Authenticate"), noCredentials.challenge())
			}
		})
	}

	if n := hits.Load(); n != 0 {
		t.Errorf("jku/x5u/x5c server was contacted %d times, want 0", n)
	}
}

// TestManyDotsAreCheap: CVE-2025-30204 made golang-jwt allocate in proportion to the number of dots. Here a dot
// flood costs a small, fixed amount of memory whatever its length: above 8 KiB it is refused by size before
// parsing, below by the three-segment split. Measured in bytes allocated, not time, so the test is not flaky.
func TestManyDotsAreCheap(t *testing.T) {
	_, v, h := hostileServer(t, nil)
	ctx := context.Background()
	for _, n := range []int{10, 8000, 8 << 10, 100000, 1 << 20} {
		raw := strings.Repeat(".", n)
		req := httptest.NewRequest(http.MethodGet, "/x", nil)
		req.Header.Set("Authorization", "Bearer "+raw)
		perOp := bytesPerOp(func() {
			if _, err := v.Validate(ctx, raw); err == nil {
				t.Fatal("dots accepted")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("%d dots: got %d, want 401", n, rec.Code)
			}
		})
		// A recorder, a Gin context and a JSON error body cost a few KiB; a per-dot cost would be 16 B * n.
		if perOp > 16<<10 {
			t.Errorf("%d dots: %d bytes allocated per request, want at most 16 KiB", n, perOp)
		}
	}
}

// bytesPerOp reports the heap bytes f allocates per call, averaged over 50 calls.
func bytesPerOp(f func()) uint64 {
	const runs = 50
	f() // warm up lazily initialised state
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / runs
}
