package clientauth

import (
	"github.com/tokenbearer/authserver/internal/registry"
	"github.com/tokenbearer/authserver/internal/secret"
)

// Failures of the secret methods.
const (
	NoSecret          Failure = "no client_secret"
	ImplausibleSecret Failure = "implausible client_secret"
	WrongSecret       Failure = "wrong secret"
)

// Secret is client_secret_basic or client_secret_post: the same check of a
// shared secret, presented in the Authorization header or in the body.
type Secret struct {
	name string
	// dummy is the hash of a secret nobody knows, checked for a client that
	// is not registered, so that it costs the same work as a wrong secret.
	dummy []secret.Hash
	match func(hashes []secret.Hash, plain string) bool
}

var _ Method = (*Secret)(nil)

// NewSecret returns the method name (registry.AuthSecretBasic or
// registry.AuthSecretPost) that checks presented secrets with match,
// secret.MatchesAny when nil.
func NewSecret(name string, match func(hashes []secret.Hash, plain string) bool) *Secret {
	if match == nil {
		match = secret.MatchesAny
	}
	dummy, err := secret.Parse(secret.HashOf(secret.Generate()))
	if err != nil {
		panic(err) // HashOf always prints what Parse reads
	}
	return &Secret{name: name, dummy: []secret.Hash{dummy}, match: match}
}

func (s *Secret) Name() string { return s.name }

// Authenticate hashes the secret for unregistered clients too, so that their
// answer takes as long as a wrong secret's. Only the plausibility checks skip
// it: they depend on the input alone, which the caller knows. Over-long
// secrets, control characters and invalid UTF-8 fail like a wrong secret.
func (s *Secret) Authenticate(req Request, client *registry.Client) (Proof, error) {
	if req.Secret == "" {
		return Proof{}, NoSecret
	}
	if !registry.ValidCredential(req.Secret) {
		return Proof{}, ImplausibleSecret
	}
	hashes := s.dummy
	if client != nil {
		hashes = client.Secrets
	}
	matched := s.match(hashes, req.Secret)
	switch {
	case client == nil:
		return Proof{}, Unregistered
	case !matched:
		return Proof{}, WrongSecret
	}
	return Proof{}, nil
}
