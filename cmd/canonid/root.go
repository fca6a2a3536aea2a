package main

import (
	"io"
	"log/slog"

	"github.com/spf13/cobra"
)

// buildInfo identifies the running binary.
type buildInfo struct {
	Version string
	Commit  string
}

// cli is what every command shares: where to write and how to find the
// configuration.
type cli struct {
	info       buildInfo
	stdout     io.Writer
	stderr     io.Writer
	configPath string
}

// newRootCmd builds the canonid command tree. Output goes to stdout and
// stderr; nothing is read from package state.
func newRootCmd(info buildInfo, stdout, stderr io.Writer) *cobra.Command {
	c := &cli{info: info, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "canonid",
		Short: "One canonical account per person",
		Long: `canonid gives every person one canonical account: it links the identities
that come from a campus directory, agency files, self-registration, OpenID
providers and SCIM clients, merges the duplicates, and serves the result
over SCIM, OIDC and LDAP.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Cobra's default completion command is not part of the CLI.
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&c.configPath, "config", "",
		"configuration `FILE` (without the flag: "+defaultConfigFile+" if it exists, else the built-in defaults)")
	root.AddCommand(
		c.newVersionCmd(),
		c.newMigrateCmd(),
		c.newServeCmd(),
		c.newTokenCmd(),
		c.newAccountsCmd(),
		c.newDuplicatesCmd(),
		c.newSyncCmd(),
		c.newImportCmd(),
		c.newPropagateCmd(),
	)
	return root
}

// loadConfig loads the configuration named by --config; explicit when the
// flag was given.
func (c *cli) loadConfig(cmd *cobra.Command) (Config, error) {
	return loadConfig(c.configPath, cmd.Flags().Changed("config"))
}

// newLogger returns the slog logger the log section asks for, writing to w.
// cfg must have passed Validate.
func newLogger(cfg LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
