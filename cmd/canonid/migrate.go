package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/canonid/canonid/store"
)

// migrateOutput is the JSON output of canonid migrate --json.
type migrateOutput struct {
	Applied []migrationOutput `json:"applied"`
	Version int               `json:"version"`
}

// migrationOutput is one applied migration in migrateOutput.
type migrationOutput struct {
	Version int    `json:"version"`
	Name    string `json:"name"`
}

// newMigrateCmd builds canonid migrate.
func (c *cli) newMigrateCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the pending database migrations",
		Long: `migrate opens the database of the configuration and applies the embedded
schema migrations it does not have yet, in order, each in its own
transaction. Running it again applies nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.loadConfig(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := openStore(ctx, cfg.Storage, newLogger(cfg.Log, c.stderr))
			if err != nil {
				return err
			}
			defer st.Close()
			res, err := st.Migrate(ctx)
			if err != nil {
				return fmt.Errorf("migrate: %w", err)
			}
			return printMigrate(c.stdout, res, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

// printMigrate reports what Migrate did, as text or JSON.
func printMigrate(w io.Writer, res store.MigrateResult, asJSON bool) error {
	if asJSON {
		out := migrateOutput{Applied: []migrationOutput{}, Version: res.Version}
		for _, m := range res.Applied {
			out.Applied = append(out.Applied, migrationOutput{Version: m.Version, Name: migrationLabel(m)})
		}
		return json.NewEncoder(w).Encode(out)
	}
	if len(res.Applied) == 0 {
		_, err := fmt.Fprintf(w, "schema already at version %d, nothing to do\n", res.Version)
		return err
	}
	for _, m := range res.Applied {
		if _, err := fmt.Fprintf(w, "applied %s\n", migrationLabel(m)); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "schema at version %d\n", res.Version)
	return err
}
