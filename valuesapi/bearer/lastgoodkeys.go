package bearer

import (
	"context"
	"crypto"
	"errors"
	"slices"
	"sync"

	"github.com/MicahParks/jwkset"
)

// signingUses are the JWK "use" values a token may be verified with: "sig", or none given.
var signingUses = []jwkset.USE{jwkset.UseSig, ""}

// errNoSigningKey is what a JWKS answer without one usable signing key fails with.
var errNoSigningKey = errors.New("JWKS has no usable signing key")

// lastGoodKeys is the key cache under jwkset's HTTP storage, which replaces the whole set on every successful
// refresh. It refuses a replacement that holds no usable signing key - `{"keys":[]}`, only key types the library
// cannot parse, only "enc" keys - so the refresh fails (and is logged) and the current keys stay, as
// Microsoft.IdentityModel does with its minimum of one key. A key is still retired the normal way: a set that
// leaves it out and holds another key replaces it. The first fetch goes through the same check, so a validator
// never becomes ready on an unusable set.
//
// It is also where a retired key is seen first: after a replacement, retired hears every kid the new set dropped
// or now holds a different key under, so the tokens that key verified leave the token cache with the key.
type lastGoodKeys struct {
	jwkset.Storage
	retired func(kids map[string]bool) // nil: nobody to tell
	// mu serialises replacements (the periodic and the unknown-kid refresh may overlap), so each one compares the
	// new set with the set it really replaces.
	mu sync.Mutex
}

func (s *lastGoodKeys) KeyReplaceAll(ctx context.Context, given []jwkset.JWK) error {
	if !slices.ContainsFunc(given, func(k jwkset.JWK) bool { return slices.Contains(signingUses, k.Marshal().USE) }) {
		return errNoSigningKey
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, err := s.Storage.KeyReadAll(ctx)
	if err != nil {
		return err
	}
	if err := s.Storage.KeyReplaceAll(ctx, given); err != nil {
		return err
	}
	if gone := retiredKIDs(old, given); len(gone) > 0 && s.retired != nil {
		s.retired(gone)
	}
	return nil
}

// retiredKIDs returns the kids of old that next leaves out or maps to another key, use or alg: every kid whose
// earlier verifications the new set would not repeat.
func retiredKIDs(old, next []jwkset.JWK) map[string]bool {
	var gone map[string]bool
	for _, o := range old {
		om := o.Marshal()
		i := slices.IndexFunc(next, func(n jwkset.JWK) bool { return n.Marshal().KID == om.KID })
		if i >= 0 && sameKey(o, next[i]) {
			continue
		}
		if gone == nil {
			gone = map[string]bool{}
		}
		gone[om.KID] = true
	}
	return gone
}

func sameKey(a, b jwkset.JWK) bool {
	am, bm := a.Marshal(), b.Marshal()
	if am.USE != bm.USE || am.ALG != bm.ALG {
		return false
	}
	// Every asymmetric key type in crypto has Equal; anything else counts as changed, which costs only a re-check.
	k, ok := a.Key().(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b.Key())
}
