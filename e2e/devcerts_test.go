package e2e

import (
	"archive/tar"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// devCerts makes a development CA and a certificate for authserver, valuesapi, localhost and 127.0.0.1 with
// `authserver dev-cert`, as the compose file's certs service does, and returns the folder and a TLS configuration
// that trusts only that CA.
func devCerts(t *testing.T) (dir string, trust *tls.Config) {
	t.Helper()
	dir = t.TempDir()
	if out, err := exec.Command(filepath.Join(binDir, "authserver"), "dev-cert", "--out", dir).CombinedOutput(); err != nil {
		t.Fatalf("authserver dev-cert: %v\n%s", err, out)
	}
	return dir, trustCA(t, filepath.Join(dir, "ca.crt"))
}

// trustCA is a TLS configuration whose only root is the CA in the PEM file.
func trustCA(t *testing.T, caFile string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", caFile)
	}
	return &tls.Config{RootCAs: roots}
}

// trustingClient is an HTTP client that trusts only the CA of trust.
func trustingClient(trust *tls.Config) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: trust.Clone(), ForceAttemptHTTP2: true}}
}

// certFiles copies the dev-cert pair and CA into a container's /certs. The key is readable by all there: the
// image runs as a non-root user, and files copied in belong to root.
func certFiles(dir string) []testcontainers.ContainerFile {
	var files []testcontainers.ContainerFile
	for _, name := range []string{"ca.crt", "tls.crt", "tls.key"} {
		files = append(files, testcontainers.ContainerFile{
			HostFilePath: filepath.Join(dir, name), ContainerFilePath: "/certs/" + name, FileMode: 0o644})
	}
	return files
}

// composeCA copies the development CA that the compose file's one-shot certs service wrote into its volume out of
// that (exited) container, as `make up` does into bin/compose-ca.crt, and returns the file.
func composeCA(t *testing.T, ctx context.Context, project string) string {
	t.Helper()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	defer cli.Close()
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).
		Add("label", "com.docker.compose.project="+project, "com.docker.compose.service=certs")})
	if err != nil || len(list.Items) == 0 {
		t.Fatalf("finding the certs container of %s: %v (found %d)", project, err, len(list.Items))
	}
	copied, err := cli.CopyFromContainer(ctx, list.Items[0].ID, client.CopyFromContainerOptions{SourcePath: "/data/ca.crt"})
	if err != nil {
		t.Fatalf("copying ca.crt out of the certs container: %v", err)
	}
	defer copied.Content.Close()
	tr := tar.NewReader(copied.Content)
	if _, err := tr.Next(); err != nil {
		t.Fatalf("reading the copied ca.crt: %v", err)
	}
	pem, err := io.ReadAll(tr)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "compose-ca.crt")
	if err := os.WriteFile(path, pem, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
