package main

import (
	"encoding/json"
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

// versionInfo is the JSON output of canonid version --json.
type versionInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Go      string `json:"go"`
}

// newVersionCmd builds canonid version.
func (c *cli) newVersionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of canonid",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := versionInfo{Version: c.info.Version, Commit: c.info.Commit, Go: runtime.Version()}
			if asJSON {
				return json.NewEncoder(c.stdout).Encode(v)
			}
			_, err := fmt.Fprintf(c.stdout, "canonid %s (%s, %s)\n", v.Version, v.Commit, v.Go)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}
