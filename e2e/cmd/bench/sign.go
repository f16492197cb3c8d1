package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// algorithm is one row of the signing table: a JWS algorithm authserver can sign with and the key it uses.
type algorithm struct {
	name   string // JWS "alg", also golang-jwt's method name
	key    string // the key, as the table shows it
	newKey func() (crypto.Signer, error)
}

// algorithms lists what authserver signs with today. PS256, ES256 and EdDSA become rows here when it learns them
// (rsa.GenerateKey, ecdsa.GenerateKey(elliptic.P256()), ed25519.GenerateKey): golang-jwt finds each method by
// name and takes the crypto.Signer and its Public() as they are, so a row is all a new algorithm needs.
var algorithms = []algorithm{
	{name: "RS256", key: "RSA-2048", newKey: func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 2048) }},
}

// signResult is the in-process cost of one signature and one verification.
type signResult struct {
	alg, key       string
	sign, verify   time.Duration
	signN, verifyN int // iterations testing.Benchmark ran
}

// signingInput is the header and claims of a token shaped like authserver's (RFC 9068), so that the hashed input
// is as long as in production; only its length matters to the cost.
func signingInput(method jwt.SigningMethod) (string, error) {
	now := time.Now().Unix()
	tok := jwt.NewWithClaims(method, jwt.MapClaims{
		"iss": "http://127.0.0.1:44364", "sub": "ApiClient", "client_id": "ApiClient", "aud": "auth.web.api",
		"scope": "auth.web.api", "iat": now, "nbf": now, "exp": now + 3600, "jti": "0123456789abcdefghijkl",
	})
	tok.Header["typ"] = "at+jwt"
	tok.Header["kid"] = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	return tok.SigningString()
}

// signVerifyOnce signs the token input and verifies the signature: what each benchmark loop does, checked once.
func signVerifyOnce(a algorithm) (jwt.SigningMethod, crypto.Signer, string, []byte, error) {
	method := jwt.GetSigningMethod(a.name)
	if method == nil {
		return nil, nil, "", nil, fmt.Errorf("golang-jwt has no method %q", a.name)
	}
	key, err := a.newKey()
	if err != nil {
		return nil, nil, "", nil, fmt.Errorf("%s key: %w", a.name, err)
	}
	input, err := signingInput(method)
	if err != nil {
		return nil, nil, "", nil, err
	}
	sig, err := method.Sign(input, key)
	if err != nil {
		return nil, nil, "", nil, fmt.Errorf("%s sign: %w", a.name, err)
	}
	if err := method.Verify(input, sig, key.Public()); err != nil {
		return nil, nil, "", nil, fmt.Errorf("%s verify: %w", a.name, err)
	}
	return method, key, input, sig, nil
}

// benchmarkAlgorithm measures sign and verify with testing.Benchmark (about a second each).
func benchmarkAlgorithm(a algorithm) (signResult, error) {
	method, key, input, sig, err := signVerifyOnce(a)
	if err != nil {
		return signResult{}, err
	}
	var failed error
	signB := testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			if _, err := method.Sign(input, key); err != nil {
				failed = err
				return
			}
		}
	})
	pub := key.Public()
	verifyB := testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			if err := method.Verify(input, sig, pub); err != nil {
				failed = err
				return
			}
		}
	})
	if failed != nil {
		return signResult{}, fmt.Errorf("%s: %w", a.name, failed)
	}
	return signResult{
		alg: a.name, key: a.key,
		sign: time.Duration(signB.NsPerOp()), verify: time.Duration(verifyB.NsPerOp()),
		signN: signB.N, verifyN: verifyB.N,
	}, nil
}
