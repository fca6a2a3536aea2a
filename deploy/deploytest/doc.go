// Package deploytest reads what deploy/ ships so that tests can check it
// without the tools that consume it: Helm, Docker Compose, Docker and
// systemd are not needed.
//
//   - RenderChart renders a Helm chart with Go's text/template and the few
//     Helm and Sprig functions the canonid chart uses (FuncMap lists them),
//     the way helm template does: values.yaml merged with overrides, numbers
//     as float64, one template set per chart, "<no value>" removed.
//     Documents splits the result into YAML documents.
//   - LoadCompose reads a compose file and interpolates ${VAR},
//     ${VAR:-default} and $$ the way docker compose does.
//   - ParseUnit reads a systemd unit file into its sections and keys.
//   - ParseDockerfile reads a Dockerfile into its stages and instructions.
//
// The package's own tests check the files of deploy/ with them; the
// configuration checks, which need canonid's configuration loader, live in
// cmd/canonid/deploy_test.go.
package deploytest
