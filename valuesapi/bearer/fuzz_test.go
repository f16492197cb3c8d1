package bearer

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/tokenbearer/valuesapi/bearer/bearertest"
)

// Run for longer with, for example:
//
//	go test -run='^$' -fuzz='^FuzzBearerHeader$' -fuzztime=60s ./bearer
//	go test -run='^$' -fuzz='^FuzzValidateToken$' -fuzztime=60s ./bearer

// definedErrors is every error a Validator or Require may answer with; anything else is a bug.
var definedErrors = []*Error{
	ErrNoToken, ErrKeysUnavailable, ErrInsufficientScope,
	errMalformedHeader, errTokenTooLarge, errMalformedToken, errAlgorithm, errType, errNoKeyID, errUnknownKey,
	errCritical, errSignature, errExpired, errNotYetValid, errIssuedInFuture, errIssuer, errAudience,
	errMissingClaim, errClaims,
}

func isDefined(err error) bool {
	for _, d := range definedErrors {
		if errors.Is(err, d) {
			return true
		}
	}
	return false
}

// fuzzFixture is a ready Validator and a Gin engine serving GET /x behind Require(fuzzScope), plus the only two
// tokens that may ever get past it: good (200) and narrow (valid, without the scope: 403).
type fuzzFixture struct {
	v      *Validator
	h      http.Handler
	good   string
	narrow string
	extra  []string // more seeds: hostile tokens
}

const (
	fuzzAudience = "auth.web.api"
	fuzzScope    = "auth.web.api"
)

func newFuzzFixture(f *testing.F) *fuzzFixture {
	f.Helper()
	a := bearertest.NewAuthority(f)
	ctx, cancel := context.WithCancel(context.Background())
	f.Cleanup(cancel)
	v, err := New(ctx, Config{
		Authority: a.URL,
		Audience:  fuzzAudience,
		Leeway:    30 * time.Second,
		// One unknown-kid refresh per run: later unknown kids fail at once instead of waiting for the limiter.
		UnknownKIDInterval: time.Hour,
		FetchTimeout:       time.Second,
		Logger:             slog.New(slog.DiscardHandler),
		Realm:              "valuesapi",
	})
	if err != nil {
		f.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !v.Ready() {
		if time.Now().After(deadline) {
			f.Fatal("validator not ready")
		}
		time.Sleep(5 * time.Millisecond)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/x", v.Require(fuzzScope), func(c *gin.Context) { c.String(http.StatusOK, "ok") })

	good := a.Token(f, fuzzAudience, fuzzScope)
	parts := strings.Split(good, ".")
	claims := a.Claims(fuzzAudience, fuzzScope)
	big := a.Claims(fuzzAudience, fuzzScope)
	big["pad"] = strings.Repeat("x", 9000)
	return &fuzzFixture{
		v:      v,
		h:      r,
		good:   good,
		narrow: a.Token(f, fuzzAudience, "other"),
		extra: []string{
			bearertest.Sign(f, jwt.UnsafeAllowNoneSignatureType, map[string]any{"alg": "none", "kid": a.KID, "typ": "at+jwt"}, claims),
			bearertest.Sign(f, []byte("secret"), map[string]any{"alg": "HS256", "kid": a.KID, "typ": "at+jwt"}, claims),
			bearertest.Sign(f, a.Key, map[string]any{"alg": "RS256", "kid": a.KID, "typ": "JWT"}, claims),
			bearertest.Sign(f, a.Key, map[string]any{"alg": "RS256", "kid": a.KID, "typ": "at+jwt", "crit": []string{"x"}}, claims),
			bearertest.Sign(f, a.Key, map[string]any{"alg": "RS256", "kid": "other", "typ": "at+jwt"}, claims),
			bearertest.Sign(f, a.Key, a.Header(), big),
			parts[0] + "." + parts[1] + ".",
			parts[0] + "." + parts[1],
			// Many dots and huge: anything over maxTokenBytes is refused on its length alone, so the seeds only
			// cross that line; 100000 dots are in TestHostileTokens. Bigger seeds make the fuzzer's minimisation
			// of new inputs crawl.
			strings.Repeat(".", maxTokenBytes+1),
			strings.Repeat(".", maxTokenBytes),
			strings.Repeat("a", maxTokenBytes+1),
			"", ".", "..", "a.b.c", "e30.e30.e30", "null.null.", "W10.W10.",
		},
	}
}

// checkResponse asserts the middleware's answer is one of the defined ones: 200 only for the good token, 403 only
// for the narrow one, otherwise 401; a well-formed challenge; a JSON body with a defined error.
func (fx *fuzzFixture) checkResponse(t *testing.T, rec *httptest.ResponseRecorder, extracted string) {
	t.Helper()
	challenge := rec.Header().Get("WWW-Authenticate")
	switch rec.Code {
	case http.StatusOK:
		if extracted != fx.good {
			t.Fatalf("200 for a token that is not the valid one: %q", extracted)
		}
		if challenge != "" {
			t.Fatalf("200 with a challenge %q", challenge)
		}
		return
	case http.StatusForbidden:
		if extracted != fx.narrow {
			t.Fatalf("403 for a token that is not the valid narrow one: %q", extracted)
		}
	case http.StatusUnauthorized:
		if extracted == fx.good || extracted == fx.narrow {
			t.Fatalf("401 for a valid token: %s", rec.Body)
		}
	default:
		t.Fatalf("status %d, want 200, 401 or 403 (body %s)", rec.Code, rec.Body)
	}
	if !strings.HasPrefix(challenge, "Bearer ") || strings.IndexFunc(challenge, notPrintable) >= 0 {
		t.Fatalf("bad challenge %q", challenge)
	}
	if rec.Body.Len() == 0 {
		if challenge != `Bearer realm="valuesapi"` {
			t.Fatalf("empty body with challenge %q", challenge)
		}
		return
	}
	var body errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	if !isDefined(&Error{Code: body.Error, Description: body.ErrorDescription}) {
		t.Fatalf("undefined error in body %s", rec.Body)
	}
	if body.Error == CodeInvalidToken && challenge != `Bearer error="invalid_token", error_description="`+body.ErrorDescription+`"` {
		t.Fatalf("challenge %q does not match body %s", challenge, rec.Body)
	}
	if body.Error == CodeInsufficientScope && challenge != `Bearer error="insufficient_scope", scope="auth.web.api"` {
		t.Fatalf("challenge %q does not match body %s", challenge, rec.Body)
	}
}

// notPrintable reports a rune that must never appear in a header value we send (CR, LF, other controls, non-ASCII).
func notPrintable(r rune) bool { return r < 0x20 || r > 0x7e }

func (fx *fuzzFixture) serve(header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	req.Header = header
	rec := httptest.NewRecorder()
	fx.h.ServeHTTP(rec, req)
	return rec
}

// FuzzBearerHeader: any Authorization header, sent once or twice, yields either a token68 taken from it or one of
// the two header errors, and the middleware answers it with a defined status, challenge and body.
func FuzzBearerHeader(f *testing.F) {
	fx := newFuzzFixture(f)
	for _, s := range []string{
		"Bearer " + fx.good, "bearer " + fx.good, "BEARER " + fx.good, "Bearer    " + fx.good, " Bearer " + fx.good + " ",
		"Bearer " + fx.narrow, "Bearer\t" + fx.good, "Bearer " + fx.good + " " + fx.good, "Bearer " + fx.good + ",",
		fx.good, "Bearer", "Bearer ", "", " ", "Basic QXBpQ2xpZW50OnNlY3JldA==", "Basic", "DPoP " + fx.good,
		`Bearer "abc"`, "Bearer a=b", "Bearer ==", "Bearer a\r\nX: y", "Bearer \x00", "Bearer é",
		"Bearer " + strings.Repeat(".", maxTokenBytes+1),
	} {
		f.Add(s, false)
	}
	f.Add("Bearer "+fx.good, true)
	for _, tok := range fx.extra {
		f.Add("Bearer "+tok, false)
	}

	f.Fuzz(func(t *testing.T, value string, twice bool) {
		h := http.Header{}
		h.Add("Authorization", value)
		if twice {
			h.Add("Authorization", value)
		}
		tok, err := TokenFromHeader(h)
		switch {
		case err == nil:
			if twice || !isToken68(tok) || !strings.Contains(value, tok) {
				t.Fatalf("TokenFromHeader(%q, twice=%v) = %q, nil", value, twice, tok)
			}
		case errors.Is(err, ErrNoToken), errors.Is(err, errMalformedHeader):
			if tok != "" {
				t.Fatalf("token %q returned with error %v", tok, err)
			}
		default:
			t.Fatalf("TokenFromHeader(%q): undefined error %v", value, err)
		}

		rec := fx.serve(h)
		fx.checkResponse(t, rec, tok)
		if errors.Is(err, ErrNoToken) && (rec.Code != http.StatusUnauthorized || rec.Body.Len() != 0) {
			t.Fatalf("no credentials: got %d %s, want 401 with an empty body", rec.Code, rec.Body)
		}
	})
}

// FuzzValidateToken: an arbitrary string, and the valid token with one bit flipped at an arbitrary position, go
// through Validate and through the middleware. Only the valid token itself is ever accepted (the middleware may
// see it re-encoded by header whitespace or scheme case, which TokenFromHeader undoes); every refusal is one of
// the defined errors; the status is 200, 401 or 403 and never anything else.
func FuzzValidateToken(f *testing.F) {
	fx := newFuzzFixture(f)
	for _, tok := range append([]string{fx.good, fx.narrow}, fx.extra...) {
		f.Add(tok, uint16(0), uint8(0))
	}
	f.Add(fx.good, uint16(len(fx.good)-1), uint8(1))                  // the signature's last character
	f.Add(fx.good, uint16(strings.IndexByte(fx.good, '.')), uint8(7)) // the first dot

	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw string, pos uint16, bit uint8) {
		flipped := []byte(fx.good)
		flipped[int(pos)%len(flipped)] ^= 1 << (bit % 8)
		for _, tok := range []string{raw, string(flipped)} {
			claims, err := fx.v.Validate(ctx, tok)
			switch {
			case err == nil:
				if tok != fx.good && tok != fx.narrow {
					t.Fatalf("Validate accepted a forged token %q", tok)
				}
				if claims == nil || claims.ClientID != "ApiClient" {
					t.Fatalf("accepted with claims %+v", claims)
				}
			case !isDefined(err):
				t.Fatalf("Validate(%q): undefined error %v", tok, err)
			case errors.Is(err, ErrNoToken), errors.Is(err, ErrInsufficientScope), errors.Is(err, errMalformedHeader):
				t.Fatalf("Validate(%q): header-level error %v", tok, err)
			case tok == fx.good || tok == fx.narrow:
				t.Fatalf("Validate rejected a valid token: %v", err)
			}

			h := http.Header{"Authorization": {"Bearer " + tok}}
			extracted, _ := TokenFromHeader(h)
			fx.checkResponse(t, fx.serve(h), extracted)
		}
	})
}
