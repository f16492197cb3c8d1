package bearer

// RFC 6750 section 3.1 error codes.
const (
	CodeInvalidToken      = "invalid_token"
	CodeInsufficientScope = "insufficient_scope"
)

// Error is a rejected request. Code and Description are safe to send to the client: Description is one of a fixed
// set of phrases and never contains anything taken from the request. The wrapped cause is for logs only.
type Error struct {
	// Code is the RFC 6750 error code; empty when the request carried no bearer credentials at all.
	Code string
	// Description is the error_description sent to the client.
	Description string
	cause       error
}

func (e *Error) Error() string {
	msg := e.Description
	if e.Code != "" {
		msg = e.Code + ": " + msg
	}
	if e.cause != nil {
		msg += ": " + e.cause.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.cause }

// Is makes errors.Is match on the client-visible part, ignoring the cause.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Description == e.Description
}

// because returns a copy of e carrying cause for logging.
func (e *Error) because(cause error) *Error {
	c := *e
	c.cause = cause
	return &c
}

func invalidToken(description string) *Error {
	return &Error{Code: CodeInvalidToken, Description: description}
}

// The errors a Validator returns; compare with errors.Is.
var (
	// ErrNoToken: the request carried no bearer credentials (no Authorization header, or another scheme).
	ErrNoToken = &Error{Description: "bearer token required"}
	// ErrKeysUnavailable: the authority's signing keys have not been loaded yet, or could not be read in time.
	ErrKeysUnavailable = invalidToken("signing keys not available")
	// ErrInsufficientScope: the token is valid but lacks a scope the route requires.
	ErrInsufficientScope = &Error{Code: CodeInsufficientScope, Description: "token lacks the required scope"}

	errMalformedHeader = invalidToken("malformed authorization header")
	errTokenTooLarge   = invalidToken("token too large")
	errMalformedToken  = invalidToken("malformed token")
	errAlgorithm       = invalidToken("signing algorithm not allowed")
	errType            = invalidToken("token type must be at+jwt")
	errNoKeyID         = invalidToken("token has no key id")
	errUnknownKey      = invalidToken("unknown signing key")
	errKeyAlgorithm    = invalidToken("signing algorithm does not match the key")
	errCritical        = invalidToken("unsupported critical header")
	errSignature       = invalidToken("invalid token signature")
	errExpired         = invalidToken("token is expired")
	errNotYetValid     = invalidToken("token is not valid yet")
	errIssuedInFuture  = invalidToken("token issued in the future")
	errIssuer          = invalidToken("invalid issuer")
	errAudience        = invalidToken("invalid audience")
	errMissingClaim    = invalidToken("token is missing a required claim")
	errClaims          = invalidToken("invalid token claims")
)
