package bearer_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenbearer/valuesapi/bearer"
	"github.com/tokenbearer/valuesapi/bearer/bearertest"
)

// TestKeysTravelAsSafelyAsDiscovery: the scheme rule of New holds for the jwks_uri the authority names and for
// every redirect, so an authority (or whoever answers for it) cannot send the key fetch over plain http to
// another host. The fake authority is on loopback, which the rule allows; what it points at is not.
func TestKeysTravelAsSafelyAsDiscovery(t *testing.T) {
	tests := []struct {
		name        string
		override    func(a *bearertest.Authority)
		wantRefused bool
	}{
		{"jwks_uri over http to another host", func(a *bearertest.Authority) {
			a.Override(bearertest.DiscoveryPath, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"issuer":"` + a.URL + `","jwks_uri":"http://keys.example/jwks"}`))
			})
		}, true},
		{"discovery redirected to http on another host", func(a *bearertest.Authority) {
			a.Override(bearertest.DiscoveryPath, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "http://as.example/.well-known/openid-configuration", http.StatusFound)
			})
		}, true},
		{"JWKS redirected to http on another host", func(a *bearertest.Authority) {
			a.Override(bearertest.JWKSPath, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "http://keys.example/jwks", http.StatusFound)
			})
		}, true},
		{"JWKS redirected on loopback", func(a *bearertest.Authority) {
			a.Override("/moved", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, bearertest.JWKSPath, http.StatusFound)
			})
			a.Override(bearertest.DiscoveryPath, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"issuer":"` + a.URL + `","jwks_uri":"` + a.URL + `/moved"}`))
			})
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := bearertest.NewAuthority(t)
			tt.override(a)
			v := newValidator(t, a.URL, nil)
			if !tt.wantRefused {
				waitReady(t, v)
				return
			}
			eventually(t, "a load failure", func() bool { return !strings.Contains(v.NotReady().Error(), "first attempt") })
			if err := v.NotReady(); !errors.Is(err, bearer.ErrInsecureAuthority) {
				t.Errorf("got NotReady %v, want ErrInsecureAuthority", err)
			}
		})
	}
}
