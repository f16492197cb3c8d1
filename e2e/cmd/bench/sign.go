package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"os"
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

// algorithms lists what authserver signs with (its --signing-alg values, with the keys it creates for them):
// golang-jwt finds each method by name and takes the crypto.Signer and its Public() as they are, so a row is all a
// new algorithm needs.
var algorithms = []algorithm{
	{name: "RS256", key: "RSA-2048", newKey: func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 2048) }},
	{name: "PS256", key: "RSA-2048", newKey: func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 2048) }},
	{name: "ES256", key: "ECDSA P-256", newKey: func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }},
	{name: "EdDSA", key: "Ed25519", newKey: func() (crypto.Signer, error) { _, k, err := ed25519.GenerateKey(rand.Reader); return k, err }},
}

// signResult is the in-process cost of one signature and one verification: wall time per operation as
// testing.Benchmark reports it, and this process's CPU time per operation over the same loop. The CPU time is what
// the server's /proc CPU is compared with, since it counts the garbage collector's work on the other core too, as
// the server's does; the wall time does not.
type signResult struct {
	alg, key           string
	sign, verify       time.Duration // wall, ns/op
	signCPU, verifyCPU time.Duration
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

// prepared is an algorithm ready to be measured: a key, a token's signing input and a signature of it.
type prepared struct {
	algorithm
	method jwt.SigningMethod
	key    crypto.Signer
	input  string
	sig    []byte
}

// prepare makes a key, signs the token input and verifies the signature: what each benchmark loop does, checked once.
func prepare(a algorithm) (*prepared, error) {
	method := jwt.GetSigningMethod(a.name)
	if method == nil {
		return nil, fmt.Errorf("golang-jwt has no method %q", a.name)
	}
	key, err := a.newKey()
	if err != nil {
		return nil, fmt.Errorf("%s key: %w", a.name, err)
	}
	input, err := signingInput(method)
	if err != nil {
		return nil, err
	}
	p := &prepared{algorithm: a, method: method, key: key, input: input}
	if p.sig, err = method.Sign(input, key); err != nil {
		return nil, fmt.Errorf("%s sign: %w", a.name, err)
	}
	if err := method.Verify(input, p.sig, key.Public()); err != nil {
		return nil, fmt.Errorf("%s verify: %w", a.name, err)
	}
	return p, nil
}

// benchSign measures one signature with testing.Benchmark (about a second).
func (p *prepared) benchSign() (wall, cpu time.Duration, err error) {
	wall, cpu, err = measure(func() error { _, err := p.method.Sign(p.input, p.key); return err })
	if err != nil {
		err = fmt.Errorf("%s sign: %w", p.name, err)
	}
	return wall, cpu, err
}

// benchmark measures sign and verify (about a second each).
func (p *prepared) benchmark() (signResult, error) {
	sign, signCPU, err := p.benchSign()
	if err != nil {
		return signResult{}, err
	}
	pub := p.key.Public()
	verify, verifyCPU, err := measure(func() error { return p.method.Verify(p.input, p.sig, pub) })
	if err != nil {
		return signResult{}, fmt.Errorf("%s verify: %w", p.name, err)
	}
	return signResult{alg: p.name, key: p.algorithm.key, sign: sign, verify: verify, signCPU: signCPU, verifyCPU: verifyCPU}, nil
}

// measure runs op under testing.Benchmark and returns its wall time per operation and this process's CPU time
// per operation over the loop.
func measure(op func() error) (wall, cpu time.Duration, err error) {
	pid := os.Getpid()
	res := testing.Benchmark(func(b *testing.B) {
		cpu0, cerr := processCPU(pid)
		n := 0
		for b.Loop() {
			if err = op(); err != nil {
				return
			}
			n++
		}
		cpu1, cerr1 := processCPU(pid)
		if err = errors.Join(cerr, cerr1); err == nil && n > 0 {
			// If testing.Benchmark calls this more than once, the last and longest run is the one reported.
			cpu = (cpu1 - cpu0) / time.Duration(n)
		}
	})
	if err != nil {
		return 0, 0, err
	}
	return time.Duration(res.NsPerOp()), cpu, nil
}
