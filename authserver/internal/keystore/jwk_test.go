package keystore

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestThumbprintRFCVectors(t *testing.T) {
	tests := []struct {
		name string
		jwk  JWK
		want string
	}{
		{
			// RFC 7638 section 3.1.
			name: "RFC 7638 RSA",
			jwk: JWK{
				KeyType: "RSA", Algorithm: "RS256", KeyID: "2011-04-29", // not part of the thumbprint
				N: rfc7638N,
				E: "AQAB",
			},
			want: "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
		},
		{
			// The RFC 7517 appendix A.1 P-256 key. RFC 7638 gives no EC
			// example; this value was computed from its section 3 definition
			// ({"crv","kty","x","y"} sorted, no whitespace, SHA-256,
			// base64url) with Python's json and hashlib, and agrees with
			// jwcrypto's and jose4j's test suites for the same key.
			name: "RFC 7517 EC P-256",
			jwk:  JWK{KeyType: "EC", Curve: "P-256", X: rfc7517X, Y: rfc7517Y, KeyID: "1"},
			want: "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s",
		},
		{
			// RFC 8037 appendix A.3.
			name: "RFC 8037 Ed25519",
			jwk:  JWK{KeyType: "OKP", Curve: "Ed25519", X: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
			want: "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Thumbprint(tt.jwk)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Thumbprint = %s, want %s", got, tt.want)
			}
		})
	}
	if _, err := Thumbprint(JWK{KeyType: "oct"}); err == nil {
		t.Error("Thumbprint of a symmetric key succeeded")
	}
}

// The private keys of RFC 7517 appendix A.2 (P-256, and RSA whose public
// half is the RFC 7638 section 3.1 example) and RFC 8037 appendix A.1
// (Ed25519), whose thumbprints are the vectors above.
// rfc7638N is the modulus of the RFC 7638 section 3.1 example key.
const rfc7638N = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"

const (
	rfc7517X = "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4"
	rfc7517Y = "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"
	rfc7517D = "870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE"
	rfc8037X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
	rfc8037D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"

	rfc7517RSA = `{"kty":"RSA","alg":"RS256","n":"` + rfc7638N + `",
"e":"AQAB",
"d":"X4cTteJY_gn4FYPsXB8rdXix5vwsg1FLN5E3EaG6RJoVH-HLLKD9M7dx5oo7GURknchnrRweUkC7hT5fJLM0WbFAKNLWY2vv7B6NqXSzUvxT0_YSfqijwp3RTzlBaCxWp4doFk5N2o8Gy_nHNKroADIkJ46pRUohsXywbReAdYaMwFs9tv8d_cPVY3i07a3t8MN6TNwm0dSawm9v47UiCl3Sk5ZiG7xojPLu4sbg1U2jx4IBTNBznbJSzFHK66jT8bgkuqsk0GjskDJk19Z4qwjwbsnn4j2WBii3RL-Us2lGVkY8fkFzme1z0HbIkfz0Y6mqnOYtqc0X4jfcKoAC8Q",
"p":"83i-7IvMGXoMXCskv73TKr8637FiO7Z27zv8oj6pbWUQyLPQBQxtPVnwD20R-60eTDmD2ujnMt5PoqMrm8RfmNhVWDtjjMmCMjOpSXicFHj7XOuVIYQyqVWlWEh6dN36GVZYk93N8Bc9vY41xy8B9RzzOGVQzXvNEvn7O0nVbfs",
"q":"3dfOR9cuYq-0S-mkFLzgItgMEfFzB2q3hWehMuG0oCuqnb3vobLyumqjVZQO1dIrdwgTnCdpYzBcOfW5r370AFXjiWft_NGEiovonizhKpo9VVS78TzFgxkIdrecRezsZ-1kYd_s1qDbxtkDEgfAITAG9LUnADun4vIcb6yelxk"}`
)

// TestRFCKeysGetTheirThumbprintAsKid: from the private key to the published
// kid and members, so a mix-up anywhere on the way (x for y when the public
// JWK is built, a member left out of the thumbprint) changes a known value.
func TestRFCKeysGetTheirThumbprintAsKid(t *testing.T) {
	mustDecode := func(s string) []byte {
		b, err := b64.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ecKey, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), mustDecode(rfc7517D))
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := ParseJWK([]byte(rfc7517RSA))
	if err != nil {
		t.Fatalf("ParseJWK of the RFC 7517 key: %v", err)
	}
	tests := []struct {
		name    string
		key     func() (Key, error)
		wantKid string
		wantJWK JWK // public members
	}{
		{"RFC 7517 EC P-256", func() (Key, error) { return NewKey(ES256, ecKey) },
			"cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s", JWK{KeyType: "EC", Curve: "P-256", X: rfc7517X, Y: rfc7517Y}},
		{"RFC 8037 Ed25519", func() (Key, error) { return NewKey(EdDSA, ed25519.NewKeyFromSeed(mustDecode(rfc8037D))) },
			"kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k", JWK{KeyType: "OKP", Curve: "Ed25519", X: rfc8037X}},
		{"RFC 7517 RSA through the key file format", func() (Key, error) { return rsaKey, nil },
			"NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", JWK{KeyType: "RSA", N: rfc7638N, E: "AQAB"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := tt.key()
			if err != nil {
				t.Fatal(err)
			}
			if k.ID != tt.wantKid {
				t.Errorf("got kid %s, want %s", k.ID, tt.wantKid)
			}
			got := k.PublicJWK()
			got.Use, got.Algorithm, got.KeyID = "", "", ""
			if got != tt.wantJWK {
				t.Errorf("got public JWK %+v, want %+v", got, tt.wantJWK)
			}
		})
	}
}

// TestNewKeySignsWithEveryAlgorithm checks the store's key type is ready for
// rotation to any of the planned algorithms: it signs a JWT that verifies
// with the public key, and publishes the right public members only.
func TestNewKeySignsWithEveryAlgorithm(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey := testRSAKey(t)
	tests := []struct {
		alg        string
		signer     crypto.Signer
		wantKty    string
		wantMember []string
	}{
		{RS256, rsaKey, "RSA", []string{"n", "e"}},
		{PS256, rsaKey, "RSA", []string{"n", "e"}},
		{ES256, ecKey, "EC", []string{"crv", "x", "y"}},
		{EdDSA, edKey, "OKP", []string{"crv", "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			k, err := NewKey(tt.alg, tt.signer)
			if err != nil {
				t.Fatalf("NewKey: %v", err)
			}
			tok := jwt.NewWithClaims(k.Method(), jwt.MapClaims{"sub": "x", "exp": time.Now().Add(time.Minute).Unix()})
			s, err := tok.SignedString(k.Signer)
			if err != nil {
				t.Fatalf("signing: %v", err)
			}
			if _, err := jwt.Parse(s, func(*jwt.Token) (any, error) { return k.Public(), nil }, jwt.WithValidMethods([]string{tt.alg})); err != nil {
				t.Fatalf("verifying: %v", err)
			}

			j := k.PublicJWK()
			if j.KeyType != tt.wantKty || j.Algorithm != tt.alg || j.Use != "sig" || j.KeyID != k.ID {
				t.Errorf("PublicJWK = %+v, want kty %s alg %s use sig kid %s", j, tt.wantKty, tt.alg, k.ID)
			}
			if kid, _ := Thumbprint(j); kid != k.ID {
				t.Errorf("kid %s is not the thumbprint %s", k.ID, kid)
			}
			var members map[string]any
			b, _ := json.Marshal(j)
			json.Unmarshal(b, &members)
			for _, m := range tt.wantMember {
				if members[m] == "" || members[m] == nil {
					t.Errorf("JWK lacks %q: %s", m, b)
				}
			}
			for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
				if _, ok := members[private]; ok {
					t.Errorf("public JWK has private member %q", private)
				}
			}
		})
	}
}

func TestNewKeyRejectsMismatch(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	tests := []struct {
		name    string
		alg     string
		signer  crypto.Signer
		wantErr string
	}{
		{"RS256 with EC key", RS256, ecKey, "needs an RSA key"},
		{"RS256 with 1024-bit key", RS256, small, "1024 bits"},
		{"ES256 with P-384", ES256, p384, "P-256"},
		{"EdDSA with RSA", EdDSA, testRSAKey(t), "Ed25519"},
		{"HS256", "HS256", testRSAKey(t), "unsupported"},
		{"none", "none", testRSAKey(t), "unsupported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewKey(tt.alg, tt.signer)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewKey error = %v, want containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestJWKPublicKeyRoundTrips: the key JWKOf describes is the key PublicKey
// reads back, for each key type a client may register.
func TestJWKPublicKeyRoundTrips(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, MinRSABits)
	if err != nil {
		t.Fatal(err)
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	for _, pub := range []crypto.PublicKey{rsaKey.Public(), p256.Public(), p384.Public(), edPub} {
		t.Run(fmt.Sprintf("%T", pub), func(t *testing.T) {
			j, err := JWKOf(pub)
			if err != nil {
				t.Fatal(err)
			}
			got, err := j.PublicKey()
			if err != nil {
				t.Fatalf("PublicKey of %+v: %v", j, err)
			}
			if !got.(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
				t.Errorf("got %v, want %v", got, pub)
			}
		})
	}
}

func TestJWKPublicKeyErrors(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good, _ := JWKOf(p256.Public())
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallJWK, _ := JWKOf(small.Public())
	offCurve := good
	offCurve.Y = good.X
	short := good
	short.X = b64.EncodeToString([]byte{1, 2, 3})
	tests := []struct {
		name string
		jwk  JWK
		want string
	}{
		{"no kty", JWK{}, "no kty"},
		{"oct", JWK{KeyType: "oct"}, `kty "oct"`},
		{"RSA-1024", smallJWK, "1024 bits"},
		{"RSA without e", JWK{KeyType: "RSA", N: smallJWK.N}, `"e" missing`},
		{"RSA e even", JWK{KeyType: "RSA", N: smallJWK.N, E: "AQAA"}, "exponent"},
		{"EC point off the curve", offCurve, "jwk:"},
		{"EC short x", short, "32 bytes"},
		{"EC secp256k1", JWK{KeyType: "EC", Curve: "secp256k1", X: good.X, Y: good.Y}, `crv "secp256k1"`},
		{"OKP X25519", JWK{KeyType: "OKP", Curve: "X25519", X: good.X}, `crv "X25519"`},
		{"EC x not base64url", JWK{KeyType: "EC", Curve: "P-256", X: "!!", Y: good.Y}, `"x" missing or not base64url`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.jwk.PublicKey()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, %v; want an error with %q", got, err, tt.want)
			}
		})
	}
}
