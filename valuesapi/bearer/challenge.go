package bearer

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// Challenge returns the WWW-Authenticate value for err (RFC 6750 section 3), in the exact shapes of the SPEC: the
// realm alone when the client sent no credentials, and the error code without a realm otherwise (as ASP.NET Core's
// JwtBearer answers). scope is announced only with insufficient_scope. Parameter values are stripped to the RFC 6750 quoted-string charset, so nothing in them can
// break out of the quotes or split the header.
func Challenge(realm string, err error, scope string) string {
	var e *Error
	if !errors.As(err, &e) {
		e = invalidToken("invalid token")
	}
	var params []string
	add := func(name, value string) {
		params = append(params, name+`="`+sanitizeParam(value)+`"`)
	}
	switch e.Code {
	case "":
		// RFC 6750 3.1: no error code when the client sent no credentials.
		if realm != "" {
			add("realm", realm)
		}
	case CodeInsufficientScope:
		add("error", e.Code)
		if scope != "" {
			add("scope", scope)
		}
	default:
		add("error", e.Code)
		add("error_description", e.Description)
	}
	if len(params) == 0 {
		return "Bearer"
	}
	return "Bearer " + strings.Join(params, ", ")
}

// sanitizeParam drops every byte outside %x20-21 / %x23-5B / %x5D-7E, the charset RFC 6750 allows in
// error_description and scope, which also excludes the quote, the backslash and control characters.
func sanitizeParam(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
}

// errorBody is the JSON body of a 401/403 that carries an error code.
type errorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// WriteError answers a rejected request: the challenge header, status 401 (403 for insufficient_scope), and a JSON
// body {"error","error_description"}. When the client sent no credentials the body is empty, because there is no
// error code to report (RFC 6750 3.1).
func WriteError(w http.ResponseWriter, realm string, err error, scope string) {
	var e *Error
	if !errors.As(err, &e) {
		e = invalidToken("invalid token")
	}
	h := w.Header()
	h.Set("WWW-Authenticate", Challenge(realm, e, scope))
	h.Set("Cache-Control", "no-store")
	status := e.status()
	if e.Code == "" {
		w.WriteHeader(status)
		return
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errorBody{Error: e.Code, ErrorDescription: sanitizeParam(e.Description)})
}

// status is the HTTP status that answers e: 403 for insufficient_scope, 401 otherwise (RFC 6750 3.1).
func (e *Error) status() int {
	if e.Code == CodeInsufficientScope {
		return http.StatusForbidden
	}
	return http.StatusUnauthorized
}
