package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/modules/compose"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

// TestContainersWalkthrough builds both images from deploy/prebuilt.Dockerfile, runs them on one Docker
// network where the authserver is known as "authserver", both over HTTPS with a development certificate, and
// replays the article through the published ports.
func TestContainersWalkthrough(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	buildLinuxBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	nw, err := network.New(ctx)
	testcontainers.CleanupNetwork(t, nw)
	if err != nil {
		t.Fatalf("creating network: %v", err)
	}
	certs, trust := devCerts(t)
	auth := runServiceContainer(t, ctx, nw, "authserver", "44364", certs, trust, map[string]string{
		"AUTHSERVER_ISSUER":   containerIssuer,
		"AUTHSERVER_KEY_FILE": "/data/tempkey.jwk",
		"AUTHSERVER_TLS_CERT": "/certs/tls.crt",
		"AUTHSERVER_TLS_KEY":  "/certs/tls.key",
	})
	api := runServiceContainer(t, ctx, nw, "valuesapi", "44324", certs, trust, map[string]string{
		"VALUESAPI_AUTHORITY":    containerIssuer,
		"VALUESAPI_AUTHORITY_CA": "/certs/ca.crt",
		"VALUESAPI_TLS_CERT":     "/certs/tls.crt",
		"VALUESAPI_TLS_KEY":      "/certs/tls.key",
	})

	httpClient := trustingClient(trust)
	apiURL := endpoint(t, ctx, api, "44324/tcp")
	kid := checkWalkthrough(t, runWalkthroughWith(t, ctx, endpoint(t, ctx, auth, "44364/tcp"), apiURL, httpClient), containerIssuer)

	t.Run("images run as the non-root user with the binary as healthcheck", func(t *testing.T) {
		for name, c := range map[string]*testcontainers.DockerContainer{"authserver": auth, "valuesapi": api} {
			info, err := c.Inspect(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.Config.User != "65532:65532" {
				t.Errorf("%s runs as %q, want 65532:65532", name, info.Config.User)
			}
			if hc := info.Config.Healthcheck; hc == nil || !slices.Equal(hc.Test, []string{"CMD", "/service", "healthcheck"}) {
				t.Errorf("%s healthcheck: got %+v, want CMD /service healthcheck", name, hc)
			}
			if info.State.Health == nil || info.State.Health.Status != "healthy" {
				t.Errorf("%s health: got %+v, want healthy", name, info.State.Health)
			}
		}
	})

	t.Run("docker stop ends authserver with status 0 and its key survives a restart", func(t *testing.T) {
		timeout := 20 * time.Second
		if err := auth.Stop(ctx, &timeout); err != nil {
			t.Fatalf("stopping authserver: %v", err)
		}
		state, err := auth.State(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if state.ExitCode != 0 || state.OOMKilled {
			t.Errorf("authserver after SIGTERM: exit code %d (OOM killed %v), want 0", state.ExitCode, state.OOMKilled)
		}
		if err := auth.Start(ctx); err != nil { // runs the wait strategies again
			t.Fatalf("restarting authserver: %v", err)
		}
		again := checkWalkthrough(t, runWalkthroughWith(t, ctx, endpoint(t, ctx, auth, "44364/tcp"), apiURL, httpClient), containerIssuer)
		if again != kid {
			t.Errorf("kid after restart: got %q, want %q (the key in /data must be reused)", again, kid)
		}
	})
}

// TestComposeWalkthrough brings up docker-compose.yml itself, under its own project name and on free ports, runs
// the walkthrough and the Postman collection against it, and checks that `down` then `up` keeps the signing key.
func TestComposeWalkthrough(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	buildLinuxBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// The project name is also the image tag, so the test always builds its own images and removes only those.
	project := fmt.Sprintf("tokenbearer-e2e-%d", time.Now().UnixNano())
	var current *compose.DockerCompose
	t.Cleanup(func() {
		if current == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := current.Down(ctx, compose.RemoveOrphans(true), compose.RemoveVolumes(true)); err != nil {
			t.Errorf("compose down -v: %v", err)
		}
		current.Close()
		// Not compose's --rmi all: it leaves the untagged parent layers behind; removing with pruning does not.
		removeImages(t, ctx, "tokenbearer/authserver:"+project, "tokenbearer/valuesapi:"+project)
	})
	var httpClient *http.Client
	var caFile string
	up := func() (authURL, apiURL string) {
		t.Helper()
		stack, err := compose.NewDockerComposeWith(
			compose.WithStackFiles(filepath.Join(repoRoot(t), "docker-compose.yml")),
			compose.StackIdentifier(project))
		if err != nil {
			t.Fatalf("loading docker-compose.yml: %v", err)
		}
		stack.WithEnv(map[string]string{
			"BUILD_TARGET":    "prebuilt",
			"IMAGE_TAG":       project,
			"AUTHSERVER_PORT": "0",
			"VALUESAPI_PORT":  "0",
		})
		if current != nil {
			current.Close()
		}
		current = stack
		if err := stack.Up(ctx, compose.Wait(true)); err != nil {
			t.Fatalf("compose up: %v", err)
		}
		caFile = composeCA(t, ctx, project)
		httpClient = trustingClient(trustCA(t, caFile))
		return serviceEndpoint(t, ctx, stack, "authserver", "44364/tcp"), serviceEndpoint(t, ctx, stack, "valuesapi", "44324/tcp")
	}

	authURL, apiURL := up()
	kid := checkWalkthrough(t, runWalkthroughWith(t, ctx, authURL, apiURL, httpClient), containerIssuer)

	t.Run("Postman collection passes", func(t *testing.T) {
		requireNewman(t)
		sum, ok := runNewman(t, authURL, apiURL, "--ssl-extra-ca-certs", caFile)
		checkNewmanPassed(t, sum, ok)
	})
	t.Run("Postman collection fails with a wrong secret", func(t *testing.T) {
		requireNewman(t)
		sum, ok := runNewman(t, authURL, apiURL, "--ssl-extra-ca-certs", caFile, "--env-var", "client_secret=not-the-secret")
		if ok {
			t.Error("newman exited 0 although the token request must fail")
		}
		if sum.Run.Stats["assertions"].Failed == 0 {
			t.Error("no assertion failed although the token request was refused")
		}
	})
	t.Run("down then up keeps the signing key on the named volume", func(t *testing.T) {
		if err := current.Down(ctx, compose.RemoveOrphans(true)); err != nil {
			t.Fatalf("compose down: %v", err)
		}
		authURL, apiURL := up()
		if again := checkWalkthrough(t, runWalkthroughWith(t, ctx, authURL, apiURL, httpClient), containerIssuer); again != kid {
			t.Errorf("kid after down and up: got %q, want %q", again, kid)
		}
	})
}

// runServiceContainer builds the service's image (deploy/prebuilt.Dockerfile) and runs it on the network under its own name,
// publishing its port. It waits for /readyz and for healthy, which means the image's HEALTHCHECK (the binary's own
// healthcheck subcommand) works in scratch.
func runServiceContainer(t *testing.T, ctx context.Context, nw *testcontainers.DockerNetwork, service, port, certs string,
	trust *tls.Config, env map[string]string) *testcontainers.DockerContainer {
	t.Helper()
	c, err := testcontainers.Run(ctx, "",
		testcontainers.WithDockerfile(prebuiltImage(t, service, port)),
		network.WithNetwork([]string{service}, nw),
		testcontainers.WithEnv(env),
		testcontainers.WithFiles(certFiles(certs)...),
		testcontainers.WithExposedPorts(port+"/tcp"),
		testcontainers.WithWaitStrategy(wait.ForHTTP("/readyz").WithPort(port+"/tcp").WithTLS(true, trust.Clone()), wait.ForHealthCheck()),
	)
	testcontainers.CleanupContainer(t, c)
	if err != nil {
		t.Fatalf("starting %s: %v", service, err)
	}
	return c
}

// removeImages removes the tagged images and their parent layers that nothing else uses.
func removeImages(t *testing.T, ctx context.Context, refs ...string) {
	t.Helper()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Errorf("docker client: %v", err)
		return
	}
	defer cli.Close()
	for _, ref := range refs {
		if _, err := cli.ImageRemove(ctx, ref, client.ImageRemoveOptions{PruneChildren: true}); err != nil {
			t.Logf("removing image %s: %v", ref, err)
		}
	}
}

// endpoint is the https://127.0.0.1:PORT at which the host reaches a container's port.
func endpoint(t *testing.T, ctx context.Context, c *testcontainers.DockerContainer, port string) string {
	t.Helper()
	u, err := c.PortEndpoint(ctx, port, "https")
	if err != nil {
		t.Fatalf("published address of %s: %v", port, err)
	}
	return u
}

// serviceEndpoint is endpoint for a service of a compose stack.
func serviceEndpoint(t *testing.T, ctx context.Context, stack *compose.DockerCompose, service, port string) string {
	t.Helper()
	c, err := stack.ServiceContainer(ctx, service)
	if err != nil {
		t.Fatalf("compose service %s: %v", service, err)
	}
	return endpoint(t, ctx, c, port)
}
