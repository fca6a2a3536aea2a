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

// newAccountsCmd builds canonid accounts and its subcommands.
func (c *cli) newAccountsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "accounts",
		Short: "Show, merge and unmerge accounts",
	}
	cmd.AddCommand(c.newAccountsShowCmd(), c.newAccountsMergeCmd(), c.newAccountsUnmergeCmd())
	return cmd
}

// withService loads the configuration, opens the migrated store and runs fn
// with the account service.
func (c *cli) withService(cmd *cobra.Command, fn func(svc *accounts.Service) error) error {
	cfg, err := c.loadConfig(cmd)
	if err != nil {
		return err
	}
	logger := newLogger(cfg.Log, c.stderr)
	st, err := openMigrated(cmd.Context(), cfg.Storage, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(accounts.New(st, cfg.Policies, logger))
}

func (c *cli) newAccountsShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show an account with its e-mails, links, orgs and merged accounts",
		Long:  "show prints an account. The id of a merged account resolves to the account it was merged into.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withService(cmd, func(svc *accounts.Service) error {
				d, err := svc.Get(cmd.Context(), args[0])
				if err != nil {
					return fmt.Errorf("accounts show: %w", err)
				}
				if asJSON {
					return json.NewEncoder(c.stdout).Encode(accounts.DetailsJSON(d))
				}
				printDetails(c, d)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the account as the API does (GET /api/v1/accounts/ID)")
	return cmd
}

func printDetails(c *cli, d accounts.Details) {
	a := d.Account
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	if d.RequestedID != "" {
		fmt.Fprintf(w, "(%s was merged; showing the account it resolves to)\n", d.RequestedID)
	}
	fmt.Fprintf(w, "id\t%s\nstatus\t%s\nlogin\t%s\nname\t%s %s\nbirth date\t%s\nversion\t%d\n",
		a.ID, a.Status, dash(a.Login), a.GivenName, a.FamilyName, dash(a.BirthDate), a.Version)
	for _, e := range d.Emails {
		flags := []string{"pending"}
		if e.Verified {
			flags[0] = "verified"
		}
		if e.Primary {
			flags = append(flags, "primary")
		}
		fmt.Fprintf(w, "e-mail\t%s (%s)\n", e.Address, strings.Join(flags, ", "))
	}
	for _, l := range d.Links {
		fmt.Fprintf(w, "link\t%s %s (%s)\n", l.Source, l.ExternalID, l.Status)
	}
	for _, m := range d.Memberships {
		fmt.Fprintf(w, "org\t%s (%s, %s)\n", m.OrgID, m.Role, m.State)
	}
	for _, m := range d.MergedFrom {
		fmt.Fprintf(w, "merged user\t%s %s (merge %s, %s)\n", dash(m.Login), m.ID, m.MergeID, m.MergedAt.Format("2006-01-02 15:04"))
	}
	w.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (c *cli) newAccountsMergeCmd() *cobra.Command {
	var asJSON, dryRun bool
	cmd := &cobra.Command{
		Use:   "merge SURVIVOR RETIRED",
		Short: "Merge the account RETIRED into SURVIVOR",
		Long: `merge prints the field-by-field preview, then merges RETIRED into SURVIVOR
in one transaction (audited, published, undoable with accounts unmerge).
With --dry-run it prints the preview only.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withService(cmd, func(svc *accounts.Service) error {
				ctx := cmd.Context()
				plan, err := svc.Preview(ctx, args[0], args[1])
				if err != nil {
					return fmt.Errorf("accounts merge: %w", err)
				}
				if !asJSON {
					printPlan(c, plan)
				}
				if dryRun {
					if asJSON {
						return json.NewEncoder(c.stdout).Encode(accounts.PreviewJSON(plan))
					}
					return nil
				}
				rec, err := svc.Merge(ctx, accounts.MergeRequest{SurvivorID: args[0], RetiredID: args[1],
					Reason: identity.MergeByAdmin, Actor: cliActor})
				if err != nil {
					return fmt.Errorf("accounts merge: %w", err)
				}
				if asJSON {
					return json.NewEncoder(c.stdout).Encode(map[string]string{"merge_id": rec.ID, "survivor_id": rec.SurvivorID, "retired_id": rec.RetiredID})
				}
				fmt.Fprintf(c.stdout, "merged %s into %s (merge %s; undo with: canonid accounts unmerge %s)\n", rec.RetiredID, rec.SurvivorID, rec.ID, rec.ID)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the preview and change nothing")
	return cmd
}

func printPlan(c *cli, p identity.Plan) {
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "FIELD\tSURVIVOR\tRETIRED\tKEPT\n")
	for _, f := range p.Fields {
		fmt.Fprintf(w, "%s\t%s [%s]\t%s [%s]\t%s (%s)\n", f.Field, dash(f.Survivor), dash(f.SurvivorSource), dash(f.Retired), dash(f.RetiredSource), dash(f.Value), f.From)
	}
	w.Flush()
	for _, l := range p.Moved.Links {
		fmt.Fprintf(c.stdout, "moves link %s %s\n", l.Source, l.ExternalID)
	}
	for _, e := range p.Moved.Emails {
		fmt.Fprintf(c.stdout, "moves e-mail %s\n", e.Address)
	}
	for _, o := range p.Moved.Memberships {
		fmt.Fprintf(c.stdout, "moves membership of %s\n", o)
	}
}

func (c *cli) newAccountsUnmergeCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "unmerge MERGE_ID",
		Short: "Undo a merge within the undo window",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withService(cmd, func(svc *accounts.Service) error {
				rec, err := svc.Undo(cmd.Context(), args[0], cliActor)
				if err != nil {
					return fmt.Errorf("accounts unmerge: %w", err)
				}
				if asJSON {
					return json.NewEncoder(c.stdout).Encode(map[string]string{"merge_id": rec.ID, "survivor_id": rec.SurvivorID, "retired_id": rec.RetiredID})
				}
				fmt.Fprintf(c.stdout, "undid merge %s: %s is separate from %s again\n", rec.ID, rec.RetiredID, rec.SurvivorID)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}
