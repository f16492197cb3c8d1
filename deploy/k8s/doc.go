// Package k8s holds no code: its test builds the kustomize base in this folder (kustomization.yaml) and checks every
// object it renders. A module of its own, so that kustomize and k8s.io/api stay out of the services' and e2e's go.mod.
package k8s
