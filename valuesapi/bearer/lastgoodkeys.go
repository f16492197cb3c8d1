package bearer

import (
	"context"
	"errors"
	"slices"

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
type lastGoodKeys struct {
	jwkset.Storage
}

func (s lastGoodKeys) KeyReplaceAll(ctx context.Context, given []jwkset.JWK) error {
	if !slices.ContainsFunc(given, func(k jwkset.JWK) bool { return slices.Contains(signingUses, k.Marshal().USE) }) {
		return errNoSigningKey
	}
	return s.Storage.KeyReplaceAll(ctx, given)
}
