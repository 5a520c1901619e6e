// Package deploy holds the files that run voicectl in production (systemd
// units, the container image, Kubernetes manifests) and the tests that
// check them with the tools that read them.
package deploy
