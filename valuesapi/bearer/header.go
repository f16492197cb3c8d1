package bearer

import (
	"net/http"
	"strings"
)

// TokenFromHeader extracts the bearer token from the Authorization header (RFC 6750 section 2.1).
//
// It returns ErrNoToken when there is no Authorization header or it uses another scheme (RFC 6750 3.1: a client that
// tried an unsupported method gets a challenge without an error code), and an invalid_token error when the header
// is repeated, has no scheme, or does not carry exactly one token68 after "Bearer". The scheme is matched
// case-insensitively (RFC 7235 2.1). Tokens in the query string or form body are never read.
func TokenFromHeader(h http.Header) (string, error) {
	values := h.Values("Authorization")
	switch {
	case len(values) == 0:
		return "", ErrNoToken
	case len(values) > 1:
		return "", errMalformedHeader
	}
	v := strings.Trim(values[0], " \t")
	if v == "" {
		return "", ErrNoToken
	}
	scheme, rest, hasSpace := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		if hasSpace && isToken(scheme) {
			return "", ErrNoToken
		}
		// A lone value such as a raw JWT: the client forgot the scheme, which deserves a real error.
		return "", errMalformedHeader
	}
	token := strings.TrimLeft(rest, " ")
	if !isToken68(token) {
		return "", errMalformedHeader
	}
	return token, nil
}

// isToken68 reports whether s matches RFC 7235 token68: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isToken68(s string) bool {
	return onlyAlnumOr(strings.TrimRight(s, "="), "-._~+/")
}

// isToken reports whether s is an RFC 7230 token, the syntax of an auth-scheme.
func isToken(s string) bool {
	return onlyAlnumOr(s, "!#$%&'*+-.^_`|~")
}

// onlyAlnumOr reports whether s is non-empty and every byte of it is an ASCII letter, a digit, or one of punct.
func onlyAlnumOr(s, punct string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(punct, c) >= 0) {
			return false
		}
	}
	return true
}
