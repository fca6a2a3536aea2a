// Command canonid runs the canonid identity service — one canonical account
// per person, duplicates linked and merged, served over SCIM, OIDC and LDAP —
// and its administration commands: serve, migrate, token and version.
//
// Every command reads one YAML configuration file (--config, default
// canonid.yaml when present, else built-in defaults); see
// docs/configuration.md and docs/cli.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	_ "time/tzdata" // timezone works on hosts without system tzdata
)

// Build information, set at link time:
//
//	go build -ldflags "-X main.version=1.2.0 -X main.commit=$(git rev-parse --short HEAD)"
//
// They are only read, in main, and passed down from there.
var (
	version = "dev"
	commit  = "dev"
)

func main() {
	os.Exit(run(context.Background(), buildInfo{Version: version, Commit: commit}, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line args and returns the process exit code:
// 0 on success, 1 on any error, which is printed to stderr as
// "canonid: <error>" (a configuration error lists every problem, one per
// line).
func run(ctx context.Context, info buildInfo, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(info, stdout, stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "canonid: %v\n", err)
		return 1
	}
	return 0
}
