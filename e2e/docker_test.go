package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/tokenbearer/e2e/walkthrough"
)

// The issuer both containers agree on: the authserver's name on the Docker network, as in docker-compose.yml.
const containerIssuer = "http://authserver:44364"

// requireDocker skips the test when no Docker engine answers, or fails it when E2E_REQUIRE_DOCKER=1 (CI), so a
// machine without Docker still passes `make test` while CI cannot silently skip the container tests.
func requireDocker(t *testing.T) {
	t.Helper()
	dockerOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		cli, err := testcontainers.NewDockerClientWithOpts(ctx)
		if err == nil {
			_, err = cli.Ping(ctx, client.PingOptions{})
			cli.Close()
		}
		dockerErr = err
	})
	if dockerErr == nil {
		return
	}
	if os.Getenv("E2E_REQUIRE_DOCKER") == "1" {
		t.Fatalf("E2E_REQUIRE_DOCKER=1 but no Docker engine is reachable: %v", dockerErr)
	}
	t.Skipf("skipping container test: no Docker engine reachable (set E2E_REQUIRE_DOCKER=1 to fail instead): %v", dockerErr)
}

var (
	dockerOnce sync.Once
	dockerErr  error
)

// repoRoot is the repository root: the Docker build context and where docker-compose.yml lives.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "deploy", "Dockerfile")); err != nil {
		t.Fatalf("repository root not found from the e2e folder: %v", err)
	}
	return root
}

// buildLinuxBinaries does what `make linux` does, once per test binary: static binaries in bin/linux/ for the
// Dockerfile's prebuilt target, for the engine's architecture (the same machine's, since the engine is local).
func buildLinuxBinaries(t *testing.T) {
	t.Helper()
	root := repoRoot(t)
	linuxOnce.Do(func() {
		for _, name := range []string{"authserver", "valuesapi"} {
			cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w",
				"-o", filepath.Join(root, "bin", "linux", name), "./"+name)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
			if out, err := cmd.CombinedOutput(); err != nil {
				linuxErr = fmt.Errorf("building bin/linux/%s: %v\n%s", name, err, out)
				return
			}
		}
	})
	if linuxErr != nil {
		t.Fatal(linuxErr)
	}
}

var (
	linuxOnce sync.Once
	linuxErr  error
)

// prebuiltImage describes the image of one service built from deploy/Dockerfile, target prebuilt.
func prebuiltImage(t *testing.T, service, port string) testcontainers.FromDockerfile {
	return testcontainers.FromDockerfile{
		Context:    repoRoot(t),
		Dockerfile: "deploy/Dockerfile",
		BuildArgs:  map[string]*string{"SERVICE": &service, "PORT": &port},
		BuildOptionsModifier: func(o *client.ImageBuildOptions) {
			o.Target = "prebuilt"
		},
	}
}

// runWalkthrough runs the article's steps against the services as the host reaches them, and fails the test
// with the narration when a step deviates.
func runWalkthrough(t *testing.T, ctx context.Context, authority, api string) *walkthrough.Result {
	t.Helper()
	var narration bytes.Buffer
	res, err := walkthrough.Run(ctx, walkthrough.Config{
		Authority: authority, API: api,
		ClientID: "ApiClient", ClientSecret: "secret", Scope: "auth.web.api",
		Out: &narration,
	})
	if err != nil {
		t.Fatalf("walkthrough against %s and %s: %v\n%s", authority, api, err, narration.String())
	}
	return res
}

// checkContainerWalkthrough asserts what the article shows, with the in-network issuer in the token and the
// discovery document even though the client came in through a published port; it returns the token's kid.
func checkContainerWalkthrough(t *testing.T, res *walkthrough.Result) string {
	t.Helper()
	if res.NoTokenStatus != 401 || res.NoTokenChallenge != `Bearer realm="valuesapi"` {
		t.Errorf("without a token: got %d %q, want 401 %q", res.NoTokenStatus, res.NoTokenChallenge, `Bearer realm="valuesapi"`)
	}
	for field, want := range map[string]string{
		"issuer":         containerIssuer,
		"token_endpoint": containerIssuer + "/connect/token",
		"jwks_uri":       containerIssuer + "/.well-known/openid-configuration/jwks",
	} {
		if got := res.Discovery[field]; got != want {
			t.Errorf("discovery %s: got %v, want %q", field, got, want)
		}
	}
	if res.TokenType != "Bearer" || res.ExpiresIn != 3600 || res.Scope != "auth.web.api" {
		t.Errorf("token response: got %q %d %q, want Bearer 3600 auth.web.api", res.TokenType, res.ExpiresIn, res.Scope)
	}
	for claim, want := range map[string]string{"iss": containerIssuer, "aud": "auth.web.api", "client_id": "ApiClient"} {
		if got := res.Claims[claim]; got != want {
			t.Errorf("claim %s: got %v, want %q", claim, got, want)
		}
	}
	if !res.SignatureVerified {
		t.Error("token signature not verified against the published key set")
	}
	if res.ValuesStatus != 200 || !slices.Equal(res.Values, []string{"value1", "value2"}) {
		t.Errorf("values with the token: got %d %q, want 200 [value1 value2]", res.ValuesStatus, res.Values)
	}
	kid, _ := res.Header["kid"].(string)
	if kid == "" || res.Header["alg"] != "RS256" {
		t.Errorf("token header: got %v, want alg RS256 and a kid", res.Header)
	}
	return kid
}
