// Package walkthrough replays the article's Postman session against running services and narrates it for a
// learner: the API refuses a request without a token, the discovery document names the token endpoint, the
// client credentials grant returns a JWT, the JWT is decoded and checked like jwt.io does, and the API answers
// with the token.
package walkthrough

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Config says where the services are, as this client reaches them, and which client to use.
type Config struct {
	Authority    string // authserver base URL, e.g. http://localhost:44364
	API          string // valuesapi base URL, e.g. http://localhost:44324
	ClientID     string
	ClientSecret string
	Scope        string       // empty asks for all the client's scopes
	HTTPClient   *http.Client // nil means a client with a 10 s timeout
	Out          io.Writer    // narration; nil means io.Discard
}

// Result holds what each step observed, so tests can assert on it.
type Result struct {
	NoTokenStatus    int    // step 1
	NoTokenChallenge string // step 1, the WWW-Authenticate header

	Discovery map[string]any // step 2

	Token     string // step 3
	TokenType string
	ExpiresIn int
	Scope     string

	Header            map[string]any // step 4
	Claims            map[string]any
	SignatureVerified bool

	ValuesStatus int      // step 5
	Values       []string // step 5
}

// ErrDeviation marks a step whose answer is not the one the article shows.
var ErrDeviation = errors.New("the system did not behave as the article says")

// ErrNotListening marks a refused connection: a service is not running (yet) where the walkthrough looks for it,
// which is not a deviation from the article but a setup step missed.
var ErrNotListening = errors.New("nothing is listening there")

// Run performs the five steps in order and stops at the first that deviates from the article.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	w := &walker{cfg: cfg, res: &Result{}, out: cfg.Out, client: cfg.HTTPClient}
	if w.out == nil {
		w.out = io.Discard
	}
	if w.client == nil {
		w.client = &http.Client{Timeout: 10 * time.Second}
	}
	w.cfg.Authority = strings.TrimSuffix(cfg.Authority, "/")
	w.cfg.API = strings.TrimSuffix(cfg.API, "/")
	steps := []struct {
		title string
		do    func(context.Context) error
	}{
		{"Call the API without a token", w.callWithoutToken},
		{"Read the discovery document", w.readDiscovery},
		{"Ask for a token with the client credentials grant", w.requestToken},
		{"Decode the token, as jwt.io does", w.decodeToken},
		{"Call the API with the bearer token", w.callWithToken},
	}
	for i, s := range steps {
		w.printf("\n== Step %d of %d: %s\n", i+1, len(steps), s.title)
		if err := s.do(ctx); err != nil {
			w.printf("   FAILED: %v\n", err)
			return w.res, fmt.Errorf("step %d (%s): %w", i+1, strings.ToLower(s.title), err)
		}
	}
	w.printf("\nAll five steps behaved as the article describes.\n")
	return w.res, nil
}

type walker struct {
	cfg    Config
	res    *Result
	out    io.Writer
	client *http.Client

	tokenEndpoint string
	jwksURI       string
}

func (w *walker) printf(format string, args ...any) {
	fmt.Fprintf(w.out, format, args...)
}

func deviation(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrDeviation, fmt.Sprintf(format, args...))
}
