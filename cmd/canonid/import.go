package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/imports"
	"github.com/canonid/canonid/ingest"
)

// newImportCmd builds canonid import.
func (c *cli) newImportCmd() *cobra.Command {
	var name string
	var dryRun, strict, asJSON bool
	cmd := &cobra.Command{
		Use:   "import --connector NAME FILE [--dry-run] [--strict] [--json]",
		Short: "Import a CSV or XLSX file through a file connector",
		Long: `import reads a CSV (';' or ',' separated, UTF-8 or Windows-1252/Latin-1,
detected) or XLSX file (the first sheet) through a configured csv connector:
each row is mapped (the connector's mapping), linked to the account it
already has when a correlation rule marked auto finds exactly one (verified
e-mail, INE, ...), or given a new account, suggested as a duplicate where
weaker evidence (recovery e-mail, name and birth date) or several accounts
matched. A row is written whole or not at all; rows in error are reported
with their line, column, value and reason, and the others imported, unless
--strict, which imports nothing when any row is in error. A file missing a
required column is refused before anything is written. The same file
imported twice changes nothing the second time. --dry-run prints what would
change and writes nothing. The report ends the output; --json prints it as
one JSON line. Every import but a dry run is recorded (GET /api/v1/imports).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := c.loadConfig(cmd)
			if err != nil {
				return err
			}
			if name == "" {
				return errors.New("import: --connector is required")
			}
			conns, err := fileConnectors(cfg)
			if err != nil {
				return fmt.Errorf("import: %w", err)
			}
			path := args[0]
			f, err := os.Open(path)
			if err != nil {
				return fmt.Errorf("import: %w", err)
			}
			defer f.Close()
			info, err := f.Stat()
			if err != nil {
				return fmt.Errorf("import: %w", err)
			}
			logger := newLogger(cfg.Log, c.stderr)
			ctx := cmd.Context()
			st, err := openMigrated(ctx, cfg.Storage, logger)
			if err != nil {
				return err
			}
			defer st.Close()
			if !dryRun {
				if _, err := upsertOrgs(ctx, st, cfg.Orgs, time.Now()); err != nil {
					return fmt.Errorf("import: orgs: %w", err)
				}
			}
			svc := imports.New(st, conns, cfg.Policies.Precedence, logger)
			if cfg.Policies.AutoMerge.Enabled {
				svc.AfterCommit = autoMergeHook(accounts.New(st, cfg.Policies, logger))
			}
			bar := newProgress(c.stderr, "import "+filepath.Base(path), 0)
			var changes []ingest.Change
			req := imports.Request{Connector: name, FileName: filepath.Base(path), File: f, Size: info.Size(),
				DryRun: dryRun, Strict: strict, Actor: "cli", Owner: leaseOwner(), Progress: bar.Update}
			if dryRun {
				req.Diff = func(ch ingest.Change) { changes = append(changes, ch) }
			}
			rep, err := svc.Run(ctx, req)
			bar.Done(rep.Rows)
			if errors.Is(err, imports.ErrUnknownConnector) {
				return fmt.Errorf("import: %w", err)
			}
			var rejected *imports.RejectedError
			if err != nil && !errors.As(err, &rejected) && rep.Status == "" {
				return fmt.Errorf("import: %w", err) // nothing ran (lease held, unreadable file)
			}
			if asJSON {
				out := struct {
					imports.Report
					Changes []changeJSON `json:"changes,omitempty"`
				}{Report: rep}
				for _, ch := range changes {
					out.Changes = append(out.Changes, toChangeJSON(ch))
				}
				if jerr := json.NewEncoder(c.stdout).Encode(out); jerr != nil {
					return jerr
				}
			} else {
				for _, ch := range changes {
					fmt.Fprintln(c.stdout, ch.String())
				}
				printImportReport(c, rep)
			}
			if err != nil {
				return fmt.Errorf("import: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "connector", "", "the file connector `NAME` (connectors[].name, type csv)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the changes and write nothing")
	cmd.Flags().BoolVar(&strict, "strict", false, "import nothing when any row is in error")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as one JSON line")
	return cmd
}

// printImportReport prints an import's report for people.
func printImportReport(c *cli, rep imports.Report) {
	kind := "import"
	if rep.DryRun {
		kind = "dry-run import (nothing written)"
	}
	fmt.Fprintf(c.stdout, "%s: %s of %s (%s", rep.Connector, kind, rep.File, rep.Format)
	if rep.Format == "csv" {
		fmt.Fprintf(c.stdout, ", %s, %q", rep.Encoding, rep.Delimiter)
	}
	fmt.Fprintf(c.stdout, "): %s, %d rows in %s: %d created, %d updated, %d unchanged, %d linked, %d gone, %d errors, %d suggestions\n",
		rep.Status, rep.Rows, rep.Duration.Round(1e6), rep.Created, rep.Updated, rep.Unchanged, rep.Linked, rep.Gone, len(rep.Errors), len(rep.Suggestions))
	if rep.Message != "" {
		fmt.Fprintf(c.stdout, "  %s\n", rep.Message)
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(c.stdout, "  error: %s\n", e)
	}
	for _, s := range rep.Suggestions {
		fmt.Fprintf(c.stdout, "  suggestion: line %d: account %s may be the same person as", s.Line, s.AccountID)
		for _, cand := range s.Candidates {
			fmt.Fprintf(c.stdout, " %s (%s)", cand.AccountID, cand.By)
		}
		fmt.Fprintln(c.stdout)
	}
	if rep.ImportID != "" {
		fmt.Fprintf(c.stdout, "  recorded as import %s\n", rep.ImportID)
	}
}
