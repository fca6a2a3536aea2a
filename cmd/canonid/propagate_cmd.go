package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/canonid/canonid/propagate"
	"github.com/canonid/canonid/scim/push"
)

// newPropagateCmd builds canonid propagate.
func (c *cli) newPropagateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "propagate",
		Short: "See and repair the delivery to the downstream targets",
		Long: `propagate shows where the delivery of changes to each downstream target
(scim.targets, ldap_targets, webhooks) stands, and reconciles a SCIM target
with canonid. The delivery itself runs in canonid serve.`,
	}
	cmd.AddCommand(c.newPropagateStatusCmd(), c.newPropagateReconcileCmd())
	return cmd
}

func (c *cli) newPropagateStatusCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Cursor, lag, dead letters and last error of each target",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.loadConfig(cmd)
			if err != nil {
				return err
			}
			st, err := openMigrated(cmd.Context(), cfg.Storage, newLogger(cfg.Log, c.stderr))
			if err != nil {
				return err
			}
			defer st.Close()
			status, err := propagate.Status(cmd.Context(), st, targetNames(cfg))
			if err != nil {
				return fmt.Errorf("propagate status: %w", err)
			}
			if asJSON {
				return json.NewEncoder(c.stdout).Encode(map[string]any{"targets": status})
			}
			w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "TARGET\tDELIVERED\tLAG\tDEAD LETTERS\tLAST DELIVERY\tLAST ERROR")
			for _, s := range status {
				last := "-"
				if !s.DeliveredAt.IsZero() {
					last = s.DeliveredAt.Local().Format(time.DateTime)
				}
				fmt.Fprintf(w, "%s\t%d/%d\t%d\t%d\t%s\t%s\n", s.Name, s.Cursor, s.Head, s.Lag, s.DeadLetters, last, s.LastError)
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object, as GET /api/v1/propagation/targets")
	return cmd
}

func (c *cli) newPropagateReconcileCmd() *cobra.Command {
	var asJSON, dryRun bool
	cmd := &cobra.Command{
		Use:   "reconcile TARGET [--dry-run]",
		Short: "Compare a SCIM target with canonid and repair the drift",
		Long: `reconcile lists the users of the SCIM target (scim.targets[].name) and
compares them with every account in its scope: users missing or differing
are written again (or only reported with --dry-run); users that hold no
canonid account are reported, never deleted. Run it from a timer (daily, say)
to repair what was changed on the platform by hand.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := c.loadConfig(cmd)
			if err != nil {
				return err
			}
			i := slices.IndexFunc(cfg.SCIM.Targets, func(t SCIMTargetConfig) bool { return t.Name == args[0] })
			if i < 0 {
				return fmt.Errorf("propagate reconcile: no SCIM target named %q in the configuration (scim.targets: %s)",
					args[0], strings.Join(scimTargetNames(cfg), ", "))
			}
			tc := cfg.SCIM.Targets[i]
			tg, err := push.New(tc.Config, nil)
			if err != nil {
				return err
			}
			st, err := openMigrated(cmd.Context(), cfg.Storage, newLogger(cfg.Log, c.stderr))
			if err != nil {
				return err
			}
			defer st.Close()
			rep, err := propagate.Reconcile(cmd.Context(), st, tc.target(tc.Name), scimReconciler{tg}, dryRun)
			if asJSON {
				if jerr := json.NewEncoder(c.stdout).Encode(rep); jerr != nil {
					return jerr
				}
			} else {
				verb := "repaired"
				if dryRun {
					verb = "to repair (dry run)"
				}
				fmt.Fprintf(c.stdout, "%s: %d accounts checked; %d missing and %d differing %s; %d users unknown to canonid\n",
					tc.Name, rep.Checked, len(rep.Missing), len(rep.Differing), verb, len(rep.Unknown))
				for _, id := range rep.Missing {
					fmt.Fprintf(c.stdout, "  missing   %s\n", id)
				}
				ids := make([]string, 0, len(rep.Differing))
				for id := range rep.Differing {
					ids = append(ids, id)
				}
				slices.Sort(ids)
				for _, id := range ids {
					fmt.Fprintf(c.stdout, "  differing %s: %s\n", id, strings.Join(rep.Differing[id], ", "))
				}
				for _, id := range rep.Unknown {
					fmt.Fprintf(c.stdout, "  unknown   %s\n", id)
				}
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as one JSON object")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "report the drift, change nothing")
	return cmd
}

// scimReconciler adapts a SCIM target's report to propagate's.
type scimReconciler struct{ t *push.Target }

func (r scimReconciler) Reconcile(ctx context.Context, want []propagate.Account, remotes map[string]propagate.Remote, dryRun bool) (propagate.ReconcileReport, error) {
	rep, err := r.t.Reconcile(ctx, want, remotes, dryRun)
	out := propagate.ReconcileReport{Missing: []string{}, Differing: map[string][]string{}, Unknown: rep.Unknown}
	if out.Unknown == nil {
		out.Unknown = []string{}
	}
	for _, d := range rep.Accounts {
		switch d.Action {
		case push.ActionCreate:
			out.Missing = append(out.Missing, d.AccountID)
		case push.ActionUpdate:
			out.Differing[d.AccountID] = d.Fields
		}
	}
	return out, err
}

func scimTargetNames(cfg Config) []string {
	var out []string
	for _, t := range cfg.SCIM.Targets {
		out = append(out, t.Name)
	}
	return out
}

// targetNames lists every configured target.
func targetNames(cfg Config) []string {
	out := scimTargetNames(cfg)
	for _, t := range cfg.LDAPTargets {
		out = append(out, t.Name)
	}
	for _, w := range cfg.Webhooks {
		out = append(out, w.Name)
	}
	return out
}
