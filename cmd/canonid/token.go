package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/canonid/canonid/server"
	"github.com/canonid/canonid/store"
)

// Audit event types of API tokens.
const (
	eventAPITokenCreated = "api_token.created"
	eventAPITokenRevoked = "api_token.revoked"
)

// cliActor is the audit actor of changes made from the command line.
const cliActor = "system:cli"

// apiTokenEventData is the payload of the api_token.* events: never the
// token or its hash.
type apiTokenEventData struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Role  string `json:"role"`
	OrgID string `json:"org_id,omitempty"`
}

// tokenOutput is the JSON form of a token in token create/list/revoke.
type tokenOutput struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	OrgID     string     `json:"org_id"`
	Token     string     `json:"token,omitempty"`
	CreatedAt *time.Time `json:"created_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// newTokenCmd builds canonid token and its subcommands.
func (c *cli) newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage the bearer tokens of the API and SCIM",
		Long: `token creates, lists and revokes the bearer tokens that authenticate calls
to /api/v1 and /scim/v2. Only a hash of each token is stored: the token is
shown once, when it is created. Pending migrations are applied first.`,
	}
	cmd.AddCommand(c.newTokenCreateCmd(), c.newTokenListCmd(), c.newTokenRevokeCmd())
	return cmd
}

// newTokenCreateCmd builds canonid token create.
func (c *cli) newTokenCreateCmd() *cobra.Command {
	var name, role, org string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "create --name NAME --role support|scim|org-admin [--org ID]",
		Short: "Create a token and print it (last line)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			name = strings.TrimSpace(name)
			if name == "" {
				return errors.New("token create: --name is required")
			}
			r, err := store.ParseAPIRole(role)
			if err != nil {
				return fmt.Errorf("token create: --role: %w", err)
			}
			switch {
			case r == store.RoleOrgAdmin && org == "":
				return errors.New("token create: --org is required with --role org-admin")
			case r != store.RoleOrgAdmin && org != "":
				return fmt.Errorf("token create: --org is only for --role org-admin, not %s", r)
			}
			cfg, err := c.loadConfig(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := openMigrated(ctx, cfg.Storage, newLogger(cfg.Log, c.stderr))
			if err != nil {
				return err
			}
			defer st.Close()

			secret, hash, err := server.GenerateAPIToken()
			if err != nil {
				return err
			}
			t := store.APIToken{ID: uuid.NewString(), Name: name, Role: r, OrgID: org, Hash: hash, CreatedAt: time.Now().UTC()}
			err = st.Update(ctx, func(tx store.Tx) error {
				if org != "" {
					if _, err := tx.Orgs().Get(ctx, org); errors.Is(err, store.ErrNotFound) {
						return fmt.Errorf("org %q does not exist (orgs listed in the configuration are stored when canonid serve starts)", org)
					} else if err != nil {
						return err
					}
				}
				if err := tx.APITokens().Create(ctx, &t); err != nil {
					return err
				}
				return tx.Record(ctx, store.Event{
					Type:  eventAPITokenCreated,
					Actor: cliActor,
					OrgID: org,
					Data:  apiTokenEventData{ID: t.ID, Name: t.Name, Role: string(t.Role), OrgID: t.OrgID},
					At:    t.CreatedAt,
				})
			})
			if errors.Is(err, store.ErrDuplicate) {
				return fmt.Errorf("token create: a token named %q already exists (revoke it or choose another name)", name)
			}
			if err != nil {
				return fmt.Errorf("token create: %w", err)
			}

			if asJSON {
				return json.NewEncoder(c.stdout).Encode(tokenOutput{ID: t.ID, Name: t.Name, Role: string(t.Role), OrgID: t.OrgID, Token: secret})
			}
			scope := ""
			if org != "" {
				scope = ", org " + org
			}
			fmt.Fprintf(c.stdout, "created token %s (role %s%s)\n", t.Name, t.Role, scope)
			fmt.Fprintln(c.stdout, "it is shown only now; use it as \"Authorization: Bearer <token>\":")
			_, err = fmt.Fprintln(c.stdout, secret)
			return err
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "unique name of the token (required)")
	cmd.Flags().StringVar(&role, "role", "", "support, scim or org-admin (required)")
	cmd.Flags().StringVar(&org, "org", "", "the org of an org-admin token (required with org-admin, refused otherwise)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object {id, name, role, org_id, token}")
	return cmd
}

// newTokenListCmd builds canonid token list.
func (c *cli) newTokenListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the tokens (never their secret)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.loadConfig(cmd)
			if err != nil {
				return err
			}
			loc, _ := time.LoadLocation(cfg.Timezone)
			ctx := cmd.Context()
			st, err := openMigrated(ctx, cfg.Storage, newLogger(cfg.Log, c.stderr))
			if err != nil {
				return err
			}
			defer st.Close()
			var tokens []store.APIToken
			if err := st.View(ctx, func(tx store.Tx) error {
				tokens, err = tx.APITokens().List(ctx)
				return err
			}); err != nil {
				return fmt.Errorf("token list: %w", err)
			}

			if asJSON {
				out := struct {
					Tokens []tokenOutput `json:"tokens"`
				}{Tokens: []tokenOutput{}}
				for _, t := range tokens {
					out.Tokens = append(out.Tokens, tokenJSON(t))
				}
				return json.NewEncoder(c.stdout).Encode(out)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tORG\tCREATED\tREVOKED")
			for _, t := range tokens {
				revoked := "-"
				if !t.RevokedAt.IsZero() {
					revoked = t.RevokedAt.In(loc).Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Name, t.Role, orDash(t.OrgID), t.CreatedAt.In(loc).Format(time.RFC3339), revoked)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print one JSON object {"tokens": [...]}`)
	return cmd
}

// newTokenRevokeCmd builds canonid token revoke.
func (c *cli) newTokenRevokeCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke a token by name",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			cfg, err := c.loadConfig(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := openMigrated(ctx, cfg.Storage, newLogger(cfg.Log, c.stderr))
			if err != nil {
				return err
			}
			defer st.Close()
			now := time.Now().UTC()
			var revoked store.APIToken
			err = st.Update(ctx, func(tx store.Tx) error {
				tokens, err := tx.APITokens().List(ctx)
				if err != nil {
					return err
				}
				i := findToken(tokens, name)
				if i < 0 {
					return fmt.Errorf("no token named %q", name)
				}
				t := tokens[i]
				if !t.RevokedAt.IsZero() {
					return fmt.Errorf("token %q is already revoked (since %s)", name, t.RevokedAt.Format(time.RFC3339))
				}
				if err := tx.APITokens().Revoke(ctx, t.ID, now); err != nil {
					return err
				}
				t.RevokedAt = now
				revoked = t
				return tx.Record(ctx, store.Event{
					Type:  eventAPITokenRevoked,
					Actor: cliActor,
					OrgID: t.OrgID,
					Data:  apiTokenEventData{ID: t.ID, Name: t.Name, Role: string(t.Role), OrgID: t.OrgID},
					At:    now,
				})
			})
			if err != nil {
				return fmt.Errorf("token revoke: %w", err)
			}
			if asJSON {
				return json.NewEncoder(c.stdout).Encode(tokenJSON(revoked))
			}
			_, err = fmt.Fprintf(c.stdout, "revoked token %s\n", revoked.Name)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the revoked token as one JSON object")
	return cmd
}

// findToken returns the index of the live token named name or, when there
// is none, of a revoked one (names are unique among live tokens only), or -1.
func findToken(tokens []store.APIToken, name string) int {
	found := -1
	for i, t := range tokens {
		if t.Name != name {
			continue
		}
		if t.RevokedAt.IsZero() {
			return i
		}
		found = i
	}
	return found
}

// tokenJSON is the JSON form of a stored token (no secret: it is not stored).
func tokenJSON(t store.APIToken) tokenOutput {
	out := tokenOutput{ID: t.ID, Name: t.Name, Role: string(t.Role), OrgID: t.OrgID}
	created := t.CreatedAt
	out.CreatedAt = &created
	if !t.RevokedAt.IsZero() {
		r := t.RevokedAt
		out.RevokedAt = &r
	}
	return out
}

// orDash shows an empty table cell as "-".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
