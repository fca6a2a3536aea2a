package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/ingest"
)

// newSyncCmd builds canonid sync.
func (c *cli) newSyncCmd() *cobra.Command {
	var name string
	var full, dryRun, asJSON bool
	cmd := &cobra.Command{
		Use:   "sync --connector NAME [--full] [--dry-run] [--json]",
		Short: "Read a connector's source and apply it to the accounts",
		Long: `sync reads the identities of a configured connector and applies them: an
identity already linked updates its account, one not linked yet is linked to
the existing account it correlates with (verified e-mail, identifiers: the
connector's correlate rules) or gets a new account. Without --full, only what
changed since the last sync is read (and, every scan_every, the ids at the
source are scanned to notice deletions); --full reads everything and marks
gone the identities the source no longer has. An account left with no
identity is suspended (on_gone).

Entries that cannot be applied (a missing mail, a bad date) are reported with
their DN and do not stop the others. --dry-run prints every change it would
make and writes nothing. The summary ends the output; with --json it is one
JSON line: {"created", "updated", "unchanged", "linked", "gone", "errors"}.
Progress goes to stderr.

One sync runs per connector at a time, across processes (a lease in the
database): sync fails at once if serve or another sync holds it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.loadConfig(cmd)
			if err != nil {
				return err
			}
			cc, err := cfg.findConnector(name)
			if err != nil {
				return fmt.Errorf("sync: %w", err)
			}
			logger := newLogger(cfg.Log, c.stderr)
			ctx := cmd.Context()
			st, err := openMigrated(ctx, cfg.Storage, logger)
			if err != nil {
				return err
			}
			defer st.Close()
			if !dryRun {
				// The connector's org must exist, as serve would store it.
				if _, err := upsertOrgs(ctx, st, cfg.Orgs, time.Now()); err != nil {
					return fmt.Errorf("sync: orgs: %w", err)
				}
			}
			conn, in, err := buildConnector(cc, st, cfg.Policies.Precedence, logger, nil)
			if err != nil {
				return fmt.Errorf("sync: %w", err)
			}
			if closer, ok := conn.(interface{ Close() error }); ok {
				defer closer.Close()
			}
			// The last run's entry count is this run's expected total.
			total := 0
			if state, err := in.State(ctx, cc.Name); err == nil && len(state.LastResult) > 0 && full {
				var last ingest.SyncResult
				if json.Unmarshal(state.LastResult, &last) == nil && last.Full {
					total = last.Entries
				}
			}
			bar := newProgress(c.stderr, "sync "+cc.Name, total)
			var changes []ingest.Change
			opts := ingest.SyncOptions{
				Full: full, DryRun: dryRun, Owner: leaseOwner(), ScanEvery: cc.ScanEvery,
				Progress: bar.Update,
			}
			if dryRun {
				opts.Diff = func(ch ingest.Change) { changes = append(changes, ch) }
			}
			if cfg.Policies.AutoMerge.Enabled {
				svc := accounts.New(st, cfg.Policies, logger)
				opts.AfterCommit = autoMergeHook(svc)
			}
			res, err := in.Sync(ctx, conn, opts)
			bar.Done(res.Entries)
			if err != nil {
				return err
			}
			if asJSON {
				out := struct {
					ingest.SyncResult
					Changes []changeJSON `json:"changes,omitempty"`
				}{SyncResult: res}
				for _, ch := range changes {
					out.Changes = append(out.Changes, toChangeJSON(ch))
				}
				return json.NewEncoder(c.stdout).Encode(out)
			}
			for _, ch := range changes {
				fmt.Fprintln(c.stdout, ch.String())
			}
			printSummary(c, res)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "connector", "", "the connector `NAME` (connectors[].name in the configuration)")
	cmd.Flags().BoolVar(&full, "full", false, "read the whole source and mark gone what it no longer has")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the changes and write nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "end with one JSON line (the summary, and the changes of a dry run)")
	_ = cmd.MarkFlagRequired("connector")
	return cmd
}

// changeJSON is a planned change in sync --dry-run --json.
type changeJSON struct {
	Op        string               `json:"op"`
	Entry     string               `json:"entry"`
	AccountID string               `json:"account_id,omitempty"`
	By        string               `json:"by,omitempty"`
	Fields    []ingest.FieldChange `json:"fields,omitempty"`
}

func toChangeJSON(ch ingest.Change) changeJSON {
	return changeJSON{Op: ch.Op, Entry: ch.Entry, AccountID: ch.AccountID, By: string(ch.By), Fields: ch.Fields}
}

// printSummary prints a run's counts and errors for people.
func printSummary(c *cli, res ingest.SyncResult) {
	kind := "incremental"
	if res.Full {
		kind = "full"
	}
	if res.DryRun {
		kind += " dry-run (nothing written)"
	}
	fmt.Fprintf(c.stdout, "%s: %s sync of %d entries in %s: %d created, %d updated, %d unchanged, %d linked, %d gone, %d errors\n",
		res.Connector, kind, res.Entries, res.Duration.Round(1e6), res.Created, res.Updated, res.Unchanged, res.Linked, res.Gone, len(res.Errors))
	for _, e := range res.Errors {
		fmt.Fprintf(c.stdout, "  error: %s\n", e)
	}
}

// autoMergeHook merges, after each batch, the suggestions that meet
// policies.auto_merge for the accounts the batch touched.
func autoMergeHook(svc *accounts.Service) func(ctx context.Context, ids []string) error {
	return func(ctx context.Context, ids []string) error {
		var errs []string
		for _, id := range ids {
			if _, err := svc.AutoMerge(ctx, id); err != nil {
				errs = append(errs, err.Error())
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("auto-merge: %s", strings.Join(errs, "; "))
		}
		return nil
	}
}
