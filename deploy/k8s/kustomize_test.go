package k8s

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// newObject maps each apiVersion and kind the base may hold to its k8s.io/api type; any other is an error, so a
// misspelt kind or an old apiVersion (autoscaling/v1) fails instead of passing unchecked.
var newObject = map[string]func() metav1.Object{
	"apps/v1 Deployment":                     func() metav1.Object { return &appsv1.Deployment{} },
	"v1 Service":                             func() metav1.Object { return &corev1.Service{} },
	"v1 ConfigMap":                           func() metav1.Object { return &corev1.ConfigMap{} },
	"v1 Secret":                              func() metav1.Object { return &corev1.Secret{} },
	"policy/v1 PodDisruptionBudget":          func() metav1.Object { return &policyv1.PodDisruptionBudget{} },
	"autoscaling/v2 HorizontalPodAutoscaler": func() metav1.Object { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"networking.k8s.io/v1 NetworkPolicy":     func() metav1.Object { return &networkingv1.NetworkPolicy{} },
}

// object is one rendered resource: its kind, the name it has in the files (a generated ConfigMap or Secret gets a
// hash suffix in obj), and the typed object.
type object struct {
	kind, name string
	obj        metav1.Object
}

// render builds the kustomization in dir as `kubectl apply -k` would and decodes every resource strictly: unknown
// or duplicate fields and fields in the wrong case are errors, as a wrong type is.
func render(fs filesys.FileSystem, dir string) ([]object, error) {
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build: %w", err)
	}
	var objs []object
	var errs []error
	for _, r := range m.Resources() {
		id := r.GetApiVersion() + " " + r.GetKind()
		newObj, ok := newObject[id]
		if !ok {
			errs = append(errs, fmt.Errorf("%s %s: no k8s.io/api type known for it", id, r.GetName()))
			continue
		}
		data, err := r.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", id, r.GetName(), err)
		}
		obj := newObj()
		strict, err := sigsjson.UnmarshalStrict(data, obj)
		if err == nil {
			err = errors.Join(strict...)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", id, r.GetName(), err))
			continue
		}
		name := r.OrgId().Name
		if r.GetKind() == "ConfigMap" || r.GetKind() == "Secret" {
			// A generator's name in the files is its own ResId: kustomize keeps no previous one.
			name = originalName(name)
		}
		objs = append(objs, object{kind: r.GetKind(), name: name, obj: obj})
	}
	return objs, errors.Join(errs...)
}

func TestBase(t *testing.T) {
	objs, err := render(filesys.MakeFsOnDisk(), ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range check(objs) {
		t.Error(err)
	}
}

// overlayKustomization is the overlay of README.md that replaces the placeholder key-encryption key, which
// authserver refuses, with one of the operator's, from bin/k8s-overlay (out of git).
const overlayKustomization = `resources:
  - ../../deploy/k8s
secretGenerator:
  - name: authserver-key-encryption-key
    behavior: replace
    envs: [key-encryption-key.env]
`

// TestOverlayKeyEncryptionKey builds the README's overlay: every check of the base still holds, and authserver takes
// the operator's key, under a new hashed name, instead of the placeholder.
func TestOverlayKeyEncryptionKey(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), overlayKustomization) {
		t.Fatalf("README.md does not show the overlay of this test:\n%s", overlayKustomization)
	}
	const key = "PB10dFfnOzY0hp01InT88maWTUNLNGWQzNnJYJCfC/c=" // openssl rand -base64 32
	fs := filesys.MakeFsInMemory()
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := fs.WriteFile(path.Join("/repo/deploy/k8s", f), data); err != nil {
			t.Fatal(err)
		}
	}
	if err := fs.WriteFile("/repo/bin/k8s-overlay/kustomization.yaml", []byte(overlayKustomization)); err != nil {
		t.Fatal(err)
	}
	if err := fs.WriteFile("/repo/bin/k8s-overlay/key-encryption-key.env", []byte("key="+key+"\n")); err != nil {
		t.Fatal(err)
	}
	objs, err := render(fs, "/repo/bin/k8s-overlay")
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range check(objs) {
		t.Error(err)
	}
	b := index(objs, new(problems))
	s := b.secrets["authserver-key-encryption-key"]
	if s == nil {
		t.Fatal("no Secret authserver-key-encryption-key")
	}
	if got := string(s.Data["key"]); got != key {
		t.Errorf("Secret authserver-key-encryption-key: key %q, want %q", got, key)
	}
	authserver := b.deployments["authserver"].Spec.Template.Spec.Containers[0]
	i := slices.IndexFunc(authserver.Env, func(e corev1.EnvVar) bool { return e.Name == "AUTHSERVER_KEY_ENCRYPTION_KEY" })
	if i < 0 || authserver.Env[i].ValueFrom == nil || authserver.Env[i].ValueFrom.SecretKeyRef == nil {
		t.Fatal("authserver: no AUTHSERVER_KEY_ENCRYPTION_KEY from a Secret")
	}
	if got := authserver.Env[i].ValueFrom.SecretKeyRef.Name; got != s.Name {
		t.Errorf("authserver: AUTHSERVER_KEY_ENCRYPTION_KEY from Secret %s, want the overlay's %s", got, s.Name)
	}
}

// TestPlaceholderKeyIsNoKey: the base's key-encryption key must not be one authserver accepts (32 bytes in any
// base64 alphabet, padded or not), so that applying the base without the overlay fails at start instead of sealing
// the keys under a key published in git.
func TestPlaceholderKeyIsNoKey(t *testing.T) {
	objs, err := render(filesys.MakeFsOnDisk(), ".")
	if err != nil {
		t.Fatal(err)
	}
	s := index(objs, new(problems)).secrets["authserver-key-encryption-key"]
	if s == nil {
		t.Fatal("no Secret authserver-key-encryption-key")
	}
	placeholder := strings.TrimSpace(string(s.Data["key"]))
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.Strict().DecodeString(placeholder); err == nil && len(key) == 32 {
			t.Errorf("the placeholder %q decodes to 32 bytes: authserver would accept it", placeholder)
		}
	}
}

// TestBaseChecksFail breaks the base in ways a careless edit would and requires that each is caught, by the decoding
// or by check, for the reason given: otherwise TestBase could pass on a base that lost what it promises.
func TestBaseChecksFail(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		old, new  string // old must occur exactly once in file
		wantError string
	}{
		{"readOnlyRootFilesystem removed", "authserver.yaml",
			"            readOnlyRootFilesystem: true\n", "", "authserver/authserver: readOnlyRootFilesystem"},
		{"a misspelt field", "authserver.yaml",
			"readOnlyRootFilesystem: true", "readOnlyRootFilesytem: true", `unknown field "spec.template.spec.containers[0].securityContext.readOnlyRootFilesytem"`},
		{"a field in the wrong case", "valuesapi.yaml",
			"allowPrivilegeEscalation: false", "allowprivilegeEscalation: false", `unknown field "spec.template.spec.containers[0].securityContext.allowprivilegeEscalation"`},
		{"privilege escalation allowed", "redis.yaml",
			"allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true", "redis/redis: allowPrivilegeEscalation"},
		{"a capability kept", "valuesapi.yaml",
			"drop: [ALL]", "drop: [NET_RAW]", "valuesapi/valuesapi: capabilities"},
		{"run as root", "authserver.yaml",
			"            runAsUser: 65532", "            runAsUser: 0", "authserver/authserver: runAsUser"},
		{"an unconfined seccomp profile", "redis.yaml",
			"              type: RuntimeDefault", "              type: Unconfined", "redis/redis: seccompProfile"},
		{"no memory limit", "valuesapi.yaml",
			"              memory: 128Mi\n", "", "valuesapi/valuesapi: limits.memory"},
		{"a plain-HTTP probe", "valuesapi.yaml",
			"path: /readyz\n              port: https\n              scheme: HTTPS", "path: /readyz\n              port: https\n              scheme: HTTP",
			"valuesapi/valuesapi: readinessProbe"},
		{"liveness on /readyz", "authserver.yaml",
			"path: /healthz", "path: /readyz", "authserver/authserver: livenessProbe"},
		{"replicas", "authserver.yaml",
			"replicas: 3", "replicas: 2", "Deployment authserver: 2 replicas, want 3"},
		{"listen port differs from the container port", "authserver.yaml",
			`value: ":44364"`, `value: ":44365"`, "AUTHSERVER_ADDR"},
		{"a Service selecting nothing", "valuesapi.yaml",
			"  selector:\n    app.kubernetes.io/name: valuesapi\n  ports:", "  selector:\n    app.kubernetes.io/name: valuesap\n  ports:",
			"Service valuesapi: selects 0 Deployments"},
		{"an HPA of a missing Deployment", "authserver.yaml",
			"    name: authserver\n  minReplicas: 3", "    name: authsrver\n  minReplicas: 3", "HorizontalPodAutoscaler authserver"},
		{"an old HPA apiVersion", "valuesapi.yaml",
			"apiVersion: autoscaling/v2", "apiVersion: autoscaling/v1", "no k8s.io/api type known"},
		{"a PDB selecting nothing", "authserver.yaml",
			"  maxUnavailable: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: authserver",
			"  maxUnavailable: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: authsrver",
			"PodDisruptionBudget authserver: selects 0 Deployments"},
		{"an unknown Secret key", "authserver.yaml",
			"                  key: key", "                  key: kek", `AUTHSERVER_KEY_ENCRYPTION_KEY: Secret authserver-key-encryption-key has no key "kek"`},
		{"the clients file misnamed", "authserver.yaml",
			"/config/clients.yaml", "/config/client.yaml", `AUTHSERVER_CONFIG: ConfigMap authserver-clients has no key "client.yaml"`},
		{"an authority that is not the issuer", "valuesapi.yaml",
			"value: https://authserver:44364", "value: https://localhost:44364", "VALUESAPI_AUTHORITY"},
		{"no CA for the authority", "valuesapi.yaml",
			"value: /certs/ca.crt", "value: /certs/tls.crt", "VALUESAPI_AUTHORITY_CA"},
		{"a store on no Service", "authserver.yaml",
			"redis://redis:6379/0", "redis://redis:6380/0", "AUTHSERVER_STORE"},
		{"a key file beside the store", "authserver.yaml",
			"            - name: AUTHSERVER_STORE\n", "            - name: AUTHSERVER_KEY_FILE\n              value: tempkey.jwk\n            - name: AUTHSERVER_STORE\n",
			"AUTHSERVER_KEY_FILE is set together with AUTHSERVER_STORE"},
		{"Redis open to every pod", "redis.yaml",
			"              app.kubernetes.io/name: authserver", "              app.kubernetes.io/name: valuesapi", "NetworkPolicy redis"},
	}
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := filesys.MakeFsInMemory()
			applied := false
			for _, f := range files {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if f == tt.file {
					if n := strings.Count(string(data), tt.old); n != 1 {
						t.Fatalf("%s has %q %d times, want once: update the mutation", f, tt.old, n)
					}
					data = []byte(strings.Replace(string(data), tt.old, tt.new, 1))
					applied = true
				}
				if err := fs.WriteFile(path.Join("/base", f), data); err != nil {
					t.Fatal(err)
				}
			}
			if !applied {
				t.Fatalf("no file %s", tt.file)
			}
			objs, err := render(fs, "/base")
			errs := []error{err}
			if err == nil {
				errs = check(objs)
			}
			got := errors.Join(errs...)
			if got == nil {
				t.Fatalf("the broken base passes, want an error containing %q", tt.wantError)
			}
			if !strings.Contains(got.Error(), tt.wantError) {
				t.Errorf("got %v\nwant an error containing %q", got, tt.wantError)
			}
		})
	}
}

// operatorSecrets are the Secrets the base uses but does not hold, made by the operator (kustomization.yaml), with the
// keys the Deployments may take from them.
var operatorSecrets = map[string][]string{
	"tokenbearer-tls": {"tls.crt", "tls.key", "ca.crt"},
}

// problems collects what check finds, each as one error.
type problems []error

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Errorf(format, args...)) }

// check returns every property of the base that does not hold.
func check(objs []object) []error {
	var p problems
	b := index(objs, &p)
	checkResources(objs, &p)
	for _, name := range []string{"authserver", "valuesapi", "redis"} {
		if b.deployments[name] == nil {
			p.addf("no Deployment %s", name)
			return p
		}
	}
	checkReplicas(b, &p)
	for _, d := range sortedValues(b.deployments) {
		checkPod(d, &p)
		checkReferences(b, d, &p)
	}
	for _, svc := range sortedValues(b.services) {
		checkService(b, svc, &p)
	}
	checkBudgets(b, &p)
	checkWiring(b, &p)
	checkRedis(b, &p)
	return p
}

// base is the rendered objects by kind, each by its name in the files.
type base struct {
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	pdbs        map[string]*policyv1.PodDisruptionBudget
	hpas        map[string]*autoscalingv2.HorizontalPodAutoscaler
	netpols     map[string]*networkingv1.NetworkPolicy
}

func index(objs []object, p *problems) base {
	b := base{
		deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{},
		configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{},
		pdbs: map[string]*policyv1.PodDisruptionBudget{}, hpas: map[string]*autoscalingv2.HorizontalPodAutoscaler{},
		netpols: map[string]*networkingv1.NetworkPolicy{},
	}
	for _, o := range objs {
		switch obj := o.obj.(type) {
		case *appsv1.Deployment:
			b.deployments[o.name] = obj
		case *corev1.Service:
			b.services[o.name] = obj
		case *corev1.ConfigMap:
			b.configMaps[o.name] = obj
		case *corev1.Secret:
			b.secrets[o.name] = obj
		case *policyv1.PodDisruptionBudget:
			b.pdbs[o.name] = obj
		case *autoscalingv2.HorizontalPodAutoscaler:
			b.hpas[o.name] = obj
		case *networkingv1.NetworkPolicy:
			b.netpols[o.name] = obj
		default:
			p.addf("%s %s: not indexed", o.kind, o.name)
		}
	}
	return b
}

// checkResources wants exactly the resources of the base, the generated ones with a content hash in their name (so
// that a change of the clients file or the key rolls the pods), and every one labelled part of tokenbearer.
func checkResources(objs []object, p *problems) {
	want := []string{
		"ConfigMap/authserver-clients",
		"Deployment/authserver", "Deployment/redis", "Deployment/valuesapi",
		"HorizontalPodAutoscaler/authserver", "HorizontalPodAutoscaler/valuesapi",
		"NetworkPolicy/redis",
		"PodDisruptionBudget/authserver", "PodDisruptionBudget/valuesapi",
		"Secret/authserver-key-encryption-key",
		"Service/authserver", "Service/redis", "Service/valuesapi",
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.kind+"/"+o.name)
		generated := o.kind == "ConfigMap" || o.kind == "Secret"
		if hashed := o.obj.GetName() != o.name; hashed != generated {
			p.addf("%s %s: rendered as %s; want a hash suffix exactly on generated ConfigMaps and Secrets", o.kind, o.name, o.obj.GetName())
		}
		if v := o.obj.GetLabels()["app.kubernetes.io/part-of"]; v != "tokenbearer" {
			p.addf("%s %s: label app.kubernetes.io/part-of %q, want tokenbearer", o.kind, o.name, v)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		p.addf("resources:\n got %v\nwant %v", got, want)
	}
}

func checkReplicas(b base, p *problems) {
	for name, want := range map[string]int32{"authserver": 3, "valuesapi": 2, "redis": 1} {
		if got := replicas(b.deployments[name]); got != want {
			p.addf("Deployment %s: %d replicas, want %d", name, got, want)
		}
	}
	// One Redis, never two at once: each would hold its own data.
	if s := b.deployments["redis"].Spec.Strategy.Type; s != appsv1.RecreateDeploymentStrategyType {
		p.addf("Deployment redis: strategy %q, want Recreate", s)
	}
}

func replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// ours says whether a container runs one of this project's images, whose user is 65532 (deploy/*.Dockerfile) and
// whose configuration is the <NAME>_* variables of its flags.
func ours(c corev1.Container) bool { return strings.HasPrefix(c.Image, "tokenbearer/") }

func checkPod(d *appsv1.Deployment, p *problems) {
	spec := d.Spec.Template.Spec
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		p.addf("Deployment %s: automountServiceAccountToken must be false: nothing here talks to the Kubernetes API", d.Name)
	}
	// A Service named authserver would put AUTHSERVER_PORT=tcp://... into every pod: the prefix of authserver's flags.
	if spec.EnableServiceLinks == nil || *spec.EnableServiceLinks {
		p.addf("Deployment %s: enableServiceLinks must be false", d.Name)
	}
	if len(spec.InitContainers) > 0 || len(spec.EphemeralContainers) > 0 {
		p.addf("Deployment %s: init or ephemeral containers are not checked here: extend checkPod", d.Name)
	}
	if len(spec.Containers) == 0 {
		p.addf("Deployment %s: no containers", d.Name)
	}
	pod := spec.SecurityContext
	if pod == nil {
		pod = &corev1.PodSecurityContext{}
	}
	for _, c := range spec.Containers {
		where := d.Name + "/" + c.Name
		sc := c.SecurityContext
		if sc == nil {
			p.addf("%s: no securityContext", where)
			continue
		}
		if v := first(sc.RunAsNonRoot, pod.RunAsNonRoot); v == nil || !*v {
			p.addf("%s: runAsNonRoot is not true", where)
		}
		uid := first(sc.RunAsUser, pod.RunAsUser)
		switch {
		case uid == nil || *uid == 0:
			p.addf("%s: runAsUser %v, want a non-root user named by number", where, deref(uid))
		case ours(c) && *uid != 65532:
			p.addf("%s: runAsUser %d, want the image's 65532", where, *uid)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			p.addf("%s: readOnlyRootFilesystem is not true", where)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			p.addf("%s: allowPrivilegeEscalation is not false", where)
		}
		if sc.Privileged != nil && *sc.Privileged {
			p.addf("%s: privileged", where)
		}
		if caps := sc.Capabilities; caps == nil || !slices.Equal(caps.Drop, []corev1.Capability{"ALL"}) || len(caps.Add) > 0 {
			p.addf("%s: capabilities %+v, want drop [ALL] and no add", where, sc.Capabilities)
		}
		seccomp := sc.SeccompProfile
		if seccomp == nil {
			seccomp = pod.SeccompProfile
		}
		if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
			p.addf("%s: seccompProfile %+v, want RuntimeDefault", where, seccomp)
		}
		checkResourceBounds(where, c.Resources, p)
		checkProbes(where, c, p)
	}
}

func first[T any](ps ...*T) *T {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}

func deref[T any](p *T) any {
	if p == nil {
		return "unset"
	}
	return *p
}

func checkResourceBounds(where string, r corev1.ResourceRequirements, p *problems) {
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := r.Requests[name]
		lim, okLim := r.Limits[name]
		if !okReq || req.Sign() <= 0 {
			p.addf("%s: requests.%s not set", where, name)
		}
		if !okLim || lim.Sign() <= 0 {
			p.addf("%s: limits.%s not set", where, name)
		}
		if okReq && okLim && req.Cmp(lim) > 0 {
			p.addf("%s: requests.%s %s above its limit %s", where, name, req.String(), lim.String())
		}
	}
}

// checkProbes wants both probes on every container; ours answer /readyz and /healthz on their HTTPS port, which must
// be where their <NAME>_ADDR makes them listen.
func checkProbes(where string, c corev1.Container, p *problems) {
	if c.ReadinessProbe == nil || c.LivenessProbe == nil {
		p.addf("%s: readinessProbe and livenessProbe must both be set", where)
		return
	}
	if !ours(c) {
		return
	}
	addrVar := strings.ToUpper(c.Name) + "_ADDR"
	addr, ok := envValue(c, addrVar)
	if !ok {
		p.addf("%s: no %s", where, addrVar)
		return
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.addf("%s: %s %q: %v", where, addrVar, addr, err)
		return
	}
	if len(c.Ports) != 1 || strconv.Itoa(int(c.Ports[0].ContainerPort)) != port || c.Ports[0].Name != "https" {
		p.addf("%s: ports %+v, want the one port https = %s of %s", where, c.Ports, port, addrVar)
		return
	}
	for _, pr := range []struct {
		name, path string
		probe      *corev1.Probe
	}{{"readinessProbe", "/readyz", c.ReadinessProbe}, {"livenessProbe", "/healthz", c.LivenessProbe}} {
		get := pr.probe.HTTPGet
		if get == nil || get.Path != pr.path || get.Scheme != corev1.URISchemeHTTPS {
			p.addf("%s: %s %+v, want GET %s over HTTPS", where, pr.name, get, pr.path)
			continue
		}
		if n, ok := containerPort(c, get.Port); !ok || strconv.Itoa(int(n)) != port {
			p.addf("%s: %s on port %s, want %s of %s", where, pr.name, get.Port.String(), port, addrVar)
		}
	}
}

func envValue(c corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name && e.ValueFrom == nil {
			return e.Value, true
		}
	}
	return "", false
}

// containerPort resolves a probe's or Service's port, a number or a port name, to a port of c.
func containerPort(c corev1.Container, port intstr.IntOrString) (int32, bool) {
	for _, cp := range c.Ports {
		if (port.Type == intstr.String && cp.Name == port.StrVal) || (port.Type == intstr.Int && cp.ContainerPort == port.IntVal) {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

// selected returns the names of the Deployments whose pods sel matches.
func selected(b base, sel labels.Selector) []string {
	var names []string
	for name, d := range b.deployments {
		if !sel.Empty() && sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

func labelSelector(s *metav1.LabelSelector) labels.Selector {
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return labels.Nothing()
	}
	return sel
}

// checkService wants each Service to select the pods of its own Deployment alone, on ports those pods have.
func checkService(b base, svc *corev1.Service, p *problems) {
	got := selected(b, labels.SelectorFromSet(svc.Spec.Selector))
	if len(got) != 1 || got[0] != svc.Name {
		p.addf("Service %s: selects %d Deployments %v, want Deployment %s", svc.Name, len(got), got, svc.Name)
		return
	}
	d := b.deployments[svc.Name]
	if sel := labelSelector(d.Spec.Selector); !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		p.addf("Deployment %s: its selector does not match its pods", d.Name)
	}
	if len(svc.Spec.Ports) == 0 {
		p.addf("Service %s: no ports", svc.Name)
	}
	for _, sp := range svc.Spec.Ports {
		target := sp.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(sp.Port)
		}
		found := false
		for _, c := range d.Spec.Template.Spec.Containers {
			if n, ok := containerPort(c, target); ok {
				found = true
				if n != sp.Port {
					// The URLs name the Service port; the server's own ADDR names the container port.
					p.addf("Service %s: port %d goes to container port %d; keep them equal", svc.Name, sp.Port, n)
				}
			}
		}
		if !found {
			p.addf("Service %s: targetPort %s is no port of its pods", svc.Name, target.String())
		}
	}
}

// checkBudgets wants a PodDisruptionBudget and a HorizontalPodAutoscaler for each service, on its own Deployment,
// the HPA never keeping fewer pods than the Deployment asks for.
func checkBudgets(b base, p *problems) {
	for _, name := range []string{"authserver", "valuesapi"} {
		d := b.deployments[name]
		pdb := b.pdbs[name]
		if pdb == nil {
			p.addf("no PodDisruptionBudget %s", name)
		} else {
			if got := selected(b, labelSelector(pdb.Spec.Selector)); !slices.Equal(got, []string{name}) {
				p.addf("PodDisruptionBudget %s: selects %d Deployments %v, want Deployment %s", name, len(got), got, name)
			}
			switch {
			case pdb.Spec.MaxUnavailable != nil:
				if v := pdb.Spec.MaxUnavailable; v.Type != intstr.Int || v.IntVal < 1 {
					p.addf("PodDisruptionBudget %s: maxUnavailable %s, want a number of at least 1", name, v.String())
				}
			case pdb.Spec.MinAvailable != nil:
				// minAvailable equal to the replicas would block every node drain.
				if v := pdb.Spec.MinAvailable; v.Type != intstr.Int || v.IntVal >= replicas(d) {
					p.addf("PodDisruptionBudget %s: minAvailable %s, want a number below the %d replicas", name, v.String(), replicas(d))
				}
			default:
				p.addf("PodDisruptionBudget %s: neither maxUnavailable nor minAvailable", name)
			}
		}
		hpa := b.hpas[name]
		if hpa == nil {
			p.addf("no HorizontalPodAutoscaler %s", name)
			continue
		}
		if ref := hpa.Spec.ScaleTargetRef; ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != d.Name {
			p.addf("HorizontalPodAutoscaler %s: scales %s %s %s, want apps/v1 Deployment %s", name, ref.APIVersion, ref.Kind, ref.Name, d.Name)
		}
		if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas != replicas(d) || hpa.Spec.MaxReplicas <= replicas(d) {
			p.addf("HorizontalPodAutoscaler %s: replicas %v to %d, want from the Deployment's %d to more", name, deref(hpa.Spec.MinReplicas), hpa.Spec.MaxReplicas, replicas(d))
		}
		if len(hpa.Spec.Metrics) == 0 {
			p.addf("HorizontalPodAutoscaler %s: no metrics", name)
		}
	}
}

// checkReferences wants every Secret and ConfigMap a Deployment names to exist (rendered, or one of operatorSecrets)
// with the keys it takes, every mount to name a volume, and every variable that holds an absolute path to name a file
// that will be there: a key of a mounted Secret or ConfigMap, or a place in an emptyDir.
func checkReferences(b base, d *appsv1.Deployment, p *problems) {
	spec := d.Spec.Template.Spec
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
		if s := v.Secret; s != nil {
			if _, err := b.secretKeys(s.SecretName); err != nil {
				p.addf("Deployment %s: volume %s: %v", d.Name, v.Name, err)
			}
			// Without the fsGroup of the pod, the image's user could not read 0440 files owned by root.
			if s.DefaultMode != nil && *s.DefaultMode != 0o440 {
				p.addf("Deployment %s: volume %s: defaultMode %#o, want 0440", d.Name, v.Name, *s.DefaultMode)
			}
		}
		if cm := v.ConfigMap; cm != nil {
			if _, err := b.configMapKeys(cm.Name); err != nil {
				p.addf("Deployment %s: volume %s: %v", d.Name, v.Name, err)
			}
		}
	}
	for _, c := range spec.Containers {
		where := d.Name + "/" + c.Name
		mounted := map[string]bool{}
		for _, m := range c.VolumeMounts {
			v, ok := volumes[m.Name]
			if !ok {
				p.addf("%s: mount of %s: no such volume", where, m.Name)
				continue
			}
			mounted[m.Name] = true
			if (v.Secret != nil || v.ConfigMap != nil) && !m.ReadOnly {
				p.addf("%s: mount of %s: a Secret or ConfigMap mount must be readOnly", where, m.Name)
			}
		}
		for _, v := range spec.Volumes {
			if !mounted[v.Name] {
				p.addf("%s: volume %s is not mounted", where, v.Name)
			}
		}
		for _, e := range c.Env {
			if _, err := b.source(c, volumes, e); err != nil {
				p.addf("%s: %s: %v", where, e.Name, err)
			}
		}
	}
}

// source says where a variable's value comes from: "Secret NAME/KEY", "ConfigMap NAME/KEY" (a key taken or a file
// of a mounted volume), "emptyDir VOLUME", or "value" for any other literal.
func (b base) source(c corev1.Container, volumes map[string]corev1.Volume, e corev1.EnvVar) (string, error) {
	if e.ValueFrom != nil {
		if ref := e.ValueFrom.SecretKeyRef; ref != nil {
			return b.secretKey(ref.Name, ref.Key)
		}
		if ref := e.ValueFrom.ConfigMapKeyRef; ref != nil {
			return b.configMapKey(ref.Name, ref.Key)
		}
		return "", errors.New("valueFrom other than a Secret or ConfigMap key")
	}
	if !strings.HasPrefix(e.Value, "/") {
		return "value", nil
	}
	for _, m := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(e.Value, strings.TrimSuffix(m.MountPath, "/")+"/")
		if !ok {
			continue
		}
		v := volumes[m.Name]
		switch {
		case v.Secret != nil && !strings.Contains(rel, "/"):
			return b.secretKey(v.Secret.SecretName, rel)
		case v.ConfigMap != nil && !strings.Contains(rel, "/"):
			return b.configMapKey(v.ConfigMap.Name, rel)
		case v.EmptyDir != nil:
			return "emptyDir " + v.Name, nil
		}
		return "", fmt.Errorf("%s: in volume %s, which holds no such file", e.Value, m.Name)
	}
	return "", fmt.Errorf("%s: on no mounted volume (the root file system is read-only and has none of ours)", e.Value)
}

func (b base) secretKeys(name string) ([]string, error) {
	if keys, ok := operatorSecrets[name]; ok {
		return keys, nil
	}
	for orig, s := range b.secrets {
		if s.Name == name {
			if orig == name {
				return nil, fmt.Errorf("Secret %s: referenced by its name in the files, not the generated one", name)
			}
			return slices.Sorted(slices.Values(append(sortedKeys(s.Data), sortedKeys(s.StringData)...))), nil
		}
	}
	return nil, fmt.Errorf("no Secret %s", name)
}

func (b base) configMapKeys(name string) ([]string, error) {
	for _, cm := range b.configMaps {
		if cm.Name == name {
			return slices.Sorted(slices.Values(append(sortedKeys(cm.BinaryData), sortedKeys(cm.Data)...))), nil
		}
	}
	return nil, fmt.Errorf("no ConfigMap %s", name)
}

func (b base) secretKey(name, key string) (string, error) {
	keys, err := b.secretKeys(name)
	if err != nil {
		return "", err
	}
	if !slices.Contains(keys, key) {
		return "", fmt.Errorf("Secret %s has no key %q (it has %v)", originalName(name), key, keys)
	}
	return "Secret " + originalName(name) + "/" + key, nil
}

func (b base) configMapKey(name, key string) (string, error) {
	keys, err := b.configMapKeys(name)
	if err != nil {
		return "", err
	}
	if !slices.Contains(keys, key) {
		return "", fmt.Errorf("ConfigMap %s has no key %q (it has %v)", originalName(name), key, keys)
	}
	return "ConfigMap " + originalName(name) + "/" + key, nil
}

// originalName drops the content hash kustomize appends to a generated name.
func originalName(name string) string {
	if i := strings.LastIndex(name, "-"); i > 0 && len(name)-i-1 == 10 {
		return name[:i]
	}
	return name
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

func sortedValues[V any](m map[string]V) []V {
	var vs []V
	for _, k := range sortedKeys(m) {
		vs = append(vs, m[k])
	}
	return vs
}

// checkWiring wants each setting that joins the pieces to name what the base holds: the clients file, the keys, the
// certificates, the issuer both services agree on, and the store.
func checkWiring(b base, p *problems) {
	want := []struct{ deployment, env, source string }{
		{"authserver", "AUTHSERVER_CONFIG", "ConfigMap authserver-clients/clients.yaml"},
		{"authserver", "AUTHSERVER_TLS_CERT", "Secret tokenbearer-tls/tls.crt"},
		{"authserver", "AUTHSERVER_TLS_KEY", "Secret tokenbearer-tls/tls.key"},
		{"authserver", "AUTHSERVER_KEY_ENCRYPTION_KEY", "Secret authserver-key-encryption-key/key"},
		{"valuesapi", "VALUESAPI_TLS_CERT", "Secret tokenbearer-tls/tls.crt"},
		{"valuesapi", "VALUESAPI_TLS_KEY", "Secret tokenbearer-tls/tls.key"},
		{"valuesapi", "VALUESAPI_AUTHORITY_CA", "Secret tokenbearer-tls/ca.crt"},
	}
	for _, w := range want {
		d := b.deployments[w.deployment]
		c := d.Spec.Template.Spec.Containers[0]
		volumes := map[string]corev1.Volume{}
		for _, v := range d.Spec.Template.Spec.Volumes {
			volumes[v.Name] = v
		}
		i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == w.env })
		if i < 0 {
			p.addf("%s: no %s, want it from %s", w.deployment, w.env, w.source)
			continue
		}
		if got, err := b.source(c, volumes, c.Env[i]); err != nil || got != w.source {
			p.addf("%s: %s from %q (%v), want %s", w.deployment, w.env, got, err, w.source)
		}
	}

	authserver := b.deployments["authserver"].Spec.Template.Spec.Containers[0]
	valuesapi := b.deployments["valuesapi"].Spec.Template.Spec.Containers[0]
	issuer, _ := envValue(authserver, "AUTHSERVER_ISSUER")
	if authority, _ := envValue(valuesapi, "VALUESAPI_AUTHORITY"); authority != issuer {
		p.addf("VALUESAPI_AUTHORITY %q, want AUTHSERVER_ISSUER %q: valuesapi refuses tokens of any other iss", authority, issuer)
	}
	if err := b.servedAt(issuer, "https", "authserver"); err != nil {
		p.addf("AUTHSERVER_ISSUER %q: %v", issuer, err)
	}
	store, _ := envValue(authserver, "AUTHSERVER_STORE")
	if err := b.servedAt(store, "redis", "redis"); err != nil {
		p.addf("AUTHSERVER_STORE %q: %v", store, err)
	}
	// The keys live in the store; authserver refuses to start with a key file beside it.
	if hasEnv(authserver, "AUTHSERVER_KEY_FILE") {
		for _, other := range []string{"AUTHSERVER_STORE", "AUTHSERVER_KEY_DIR"} {
			if hasEnv(authserver, other) {
				p.addf("authserver: AUTHSERVER_KEY_FILE is set together with %s, which authserver refuses: the keys live in the store", other)
			}
		}
	}
}

// hasEnv says whether c sets the variable name, by a value or from a Secret or ConfigMap.
func hasEnv(c corev1.Container, name string) bool {
	return slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name })
}

// servedAt wants rawURL to be scheme://SERVICE:PORT with a port of the Service, whose pods are those of the
// Deployment named deployment.
func (b base) servedAt(rawURL, scheme, deployment string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	if u.Scheme != scheme {
		return fmt.Errorf("scheme %q, want %s", u.Scheme, scheme)
	}
	svc := b.services[u.Hostname()]
	if svc == nil {
		return fmt.Errorf("no Service %s", u.Hostname())
	}
	if got := selected(b, labels.SelectorFromSet(svc.Spec.Selector)); !slices.Equal(got, []string{deployment}) {
		return fmt.Errorf("Service %s selects %v, want Deployment %s", svc.Name, got, deployment)
	}
	for _, sp := range svc.Spec.Ports {
		if strconv.Itoa(int(sp.Port)) == u.Port() {
			return nil
		}
	}
	return fmt.Errorf("Service %s has no port %q", svc.Name, u.Port())
}

// checkRedis wants Redis to keep its data only in the pod (an emptyDir, no snapshots or append-only file) and to
// take connections from authserver pods alone.
func checkRedis(b base, p *problems) {
	spec := b.deployments["redis"].Spec.Template.Spec
	c := spec.Containers[0]
	if save, ok := argAfter(c.Args, "--save"); !ok || save != "" {
		p.addf("redis: args %q, want --save '' (no snapshots)", c.Args)
	}
	if aof, ok := argAfter(c.Args, "--appendonly"); !ok || aof != "no" {
		p.addf("redis: args %q, want --appendonly no", c.Args)
	}
	i := slices.IndexFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/data" })
	if i < 0 || !slices.ContainsFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == c.VolumeMounts[i].Name && v.EmptyDir != nil }) {
		p.addf("redis: /data must be an emptyDir")
	}

	np := b.netpols["redis"]
	if np == nil {
		p.addf("no NetworkPolicy redis")
		return
	}
	if got := selected(b, labelSelector(&np.Spec.PodSelector)); !slices.Equal(got, []string{"redis"}) {
		p.addf("NetworkPolicy redis: applies to %v, want Deployment redis", got)
	}
	if len(np.Spec.Ingress) != 1 || len(np.Spec.Ingress[0].From) != 1 || np.Spec.Ingress[0].From[0].PodSelector == nil ||
		np.Spec.Ingress[0].From[0].NamespaceSelector != nil || np.Spec.Ingress[0].From[0].IPBlock != nil {
		p.addf("NetworkPolicy redis: ingress %+v, want one rule from one pod selector", np.Spec.Ingress)
		return
	}
	if got := selected(b, labelSelector(np.Spec.Ingress[0].From[0].PodSelector)); !slices.Equal(got, []string{"authserver"}) {
		p.addf("NetworkPolicy redis: admits %v, want Deployment authserver alone", got)
	}
}

// argAfter returns the argument that follows flag in args.
func argAfter(args []string, flag string) (string, bool) {
	i := slices.Index(args, flag)
	if i < 0 || i+1 >= len(args) {
		return "", false
	}
	return args[i+1], true
}
