package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/identity"
)

// newDuplicatesCmd builds canonid duplicates.
func (c *cli) newDuplicatesCmd() *cobra.Command {
	var asJSON, reindex, autoMerge bool
	var accountID string
	cmd := &cobra.Command{
		Use:   "duplicates [--account ID] [--reindex]",
		Short: "List the accounts that look like the same person",
		Long: `duplicates scores every pair of accounts that share a blocking key (folded
family name and birth date, folded full name, e-mail local part, national id)
and lists those that look like one person, best first, with the fields that
matched. Pairs marked "not a duplicate" (POST /api/v1/duplicates/dismiss) are
left out. Blocking keys are kept up to date on every account write; --reindex
recomputes them all first (after upgrading from a version without them).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withService(cmd, func(svc *accounts.Service) error {
				ctx := cmd.Context()
				if reindex {
					if err := svc.Reindex(ctx); err != nil {
						return fmt.Errorf("duplicates: reindex: %w", err)
					}
				}
				if autoMerge {
					recs, err := svc.AutoMerge(ctx, accountID)
					if err != nil {
						return fmt.Errorf("duplicates: auto-merge: %w", err)
					}
					for _, r := range recs {
						fmt.Fprintf(c.stderr, "auto-merged %s into %s (merge %s)\n", r.RetiredID, r.SurvivorID, r.ID)
					}
				}
				rep, err := svc.Duplicates(ctx, accountID)
				if err != nil {
					return fmt.Errorf("duplicates: %w", err)
				}
				if asJSON {
					return json.NewEncoder(c.stdout).Encode(accounts.ReportJSON(rep))
				}
				w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "SCORE\tACCOUNT A\tACCOUNT B\tMATCHED")
				for _, s := range rep.Suggestions {
					var why []string
					for _, m := range s.Score.Matches {
						why = append(why, m.Field+" ("+m.Detail+")")
					}
					fmt.Fprintf(w, "%.2f\t%s\t%s\t%s\n", s.Score.Value, label(s.A), label(s.B), strings.Join(why, ", "))
				}
				w.Flush()
				fmt.Fprintf(c.stdout, "%d suggestions from %d candidate pairs (%d dismissed pairs left out)\n", len(rep.Suggestions), rep.Pairs, rep.Dismissed)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object, as GET /api/v1/duplicates")
	cmd.Flags().BoolVar(&reindex, "reindex", false, "recompute every account's blocking keys first")
	cmd.Flags().BoolVar(&autoMerge, "auto-merge", false, "first merge the suggestions that meet policies.auto_merge (does nothing while it is disabled)")
	cmd.Flags().StringVar(&accountID, "account", "", "only the candidates of this account `ID`")
	return cmd
}

// label names an account for people: login, or names, and the id.
func label(a identity.Account) string {
	name := a.Login
	if name == "" {
		name = strings.TrimSpace(a.GivenName + " " + a.FamilyName)
	}
	return name + " " + a.ID
}
