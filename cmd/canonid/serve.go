package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/imports"
	"github.com/canonid/canonid/ingest"
	"github.com/canonid/canonid/scim"
	"github.com/canonid/canonid/server"
	"github.com/canonid/canonid/store"
)

// serveOptions are the serve command's inputs besides the configuration.
type serveOptions struct {
	// Demo seeds the demo organisations and accounts (idempotent).
	Demo bool
	// Version is reported by the serving line and the build-info metric.
	Version string
	// Logger receives the logs; nil discards them.
	Logger *slog.Logger
	// SyncDone, when set, receives the result of every scheduled sync
	// (tests wait on it).
	SyncDone func(connector string, res ingest.SyncResult, err error)
}

// newServeCmd builds canonid serve.
func (c *cli) newServeCmd() *cobra.Command {
	var demo bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the canonid server",
		Long: `serve validates the configuration, opens the database, applies pending
migrations, stores the orgs of the configuration, optionally seeds the demo
data, and serves HTTP on the listen address until SIGINT or SIGTERM, when it
shuts down gracefully.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.loadConfig(cmd)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// Once the first signal arrived, the next one kills at once.
			context.AfterFunc(ctx, stop)
			opts := serveOptions{Demo: demo, Version: c.info.Version, Logger: newLogger(cfg.Log, c.stderr)}
			return runServe(ctx, cfg, opts, c.stdout)
		},
	}
	cmd.Flags().BoolVar(&demo, "demo", false, "seed demo organisations and accounts (once; see docs/cli.md)")
	return cmd
}

// runServe is the serve command once the configuration is loaded and valid:
// it prepares the store, listens on cfg.Listen, prints the serving line to
// stdout (with the address actually bound when the configured port is 0)
// and serves until ctx ends. A graceful stop returns nil.
func runServe(ctx context.Context, cfg Config, opts serveOptions, stdout io.Writer) error {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	st, err := openStore(ctx, cfg.Storage, logger)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			logger.Error("closing the store", "err", err)
		}
	}()
	res, err := st.Migrate(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	logger.InfoContext(ctx, "schema ready", "version", res.Version, "applied", len(res.Applied))

	now := time.Now()
	seeded := false
	if opts.Demo {
		// Before the configured orgs: the demo is skipped when its org
		// univ-test already exists.
		if seeded, err = seedDemo(ctx, st, now); err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
		logger.InfoContext(ctx, "demo data", "seeded", seeded)
	}
	changed, err := upsertOrgs(ctx, st, cfg.Orgs, now)
	if err != nil {
		return fmt.Errorf("orgs: %w", err)
	}
	logger.InfoContext(ctx, "orgs from the configuration", "declared", len(cfg.Orgs), "created_or_changed", changed)

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	srv := server.New(cfg.Server, server.Deps{
		Logger:   logger,
		Ready:    st,
		Tokens:   server.StoreTokens{Store: st},
		Registry: reg,
		Version:  opts.Version,
	})
	svc := accounts.New(st, cfg.Policies, logger)
	accounts.NewHandler(svc, func(r *http.Request) (store.APIToken, bool) { return server.Caller(r.Context()) }).Mount(srv.APIGroup())

	if opts.Demo && len(cfg.Login.Admins) == 0 {
		cfg.Login.Admins = []string{demoAdmin}
	}
	if opts.Demo && cfg.Mail == nil {
		cfg.Mail = demoMail()
	}
	if opts.Demo && cfg.Flows.Activation == nil {
		cfg.Flows.Activation = demoCharter()
	}
	if opts.Demo && cfg.Flows.Registration == nil {
		cfg.Flows.Registration = &RegistrationConfig{SMS: "log", DocumentsDir: filepath.Join(filepath.Dir(cfg.Storage.DSN), "documents")}
	}
	queue, err := startMail(ctx, cfg, st, logger)
	if err != nil {
		return err
	}
	act, err := activationService(cfg, st, queue)
	if err != nil {
		return err
	}
	onCreate := activationHook(act, logger)

	scimSrv, err := scim.New(cfg.SCIM.Config, scim.Deps{
		Store: st, Precedence: cfg.Policies.Precedence, Logger: logger,
		Caller:   server.Caller,
		BaseURL:  strings.TrimSuffix(cfg.Server.PublicURL, "/") + server.SCIMPrefix,
		OnCreate: onCreate,
	})
	if err != nil {
		return err
	}
	scimSrv.Mount(srv.SCIMGroup())
	pages, provider, err := mountLogin(ctx, cfg, st, srv, act, logger)
	if err != nil {
		return err
	}
	if err := mountFlows(cfg, st, srv, svc, pages, provider, queue, act, logger); err != nil {
		return err
	}
	if opts.Demo && act != nil {
		if err := demoActivationLinks(ctx, st, act); err != nil {
			return fmt.Errorf("demo activation links: %w", err)
		}
	}

	fileConns, err := fileConnectors(cfg)
	if err != nil {
		return err
	}
	importSvc := imports.New(st, fileConns, cfg.Policies.Precedence, logger)
	importSvc.OnCreate = onCreate
	if cfg.Policies.AutoMerge.Enabled {
		importSvc.AfterCommit = autoMergeHook(svc)
	}
	imports.NewHandler(importSvc, func(r *http.Request) (store.APIToken, bool) { return server.Caller(r.Context()) }, leaseOwner()).Mount(srv.APIGroup())

	// The support console (/admin), for the logins of login.admins.
	closeAdmin, err := mountAdmin(cfg, st, srv, pages, svc, importSvc, onCreate, logger)
	if err != nil {
		return err
	}
	defer closeAdmin()

	stopPropagation, err := startPropagation(ctx, cfg, st, srv, reg, logger)
	if err != nil {
		return err
	}
	defer stopPropagation()

	stopSyncs, err := scheduleConnectors(ctx, cfg, st, svc, logger, onCreate, opts.SyncDone)
	if err != nil {
		return err
	}
	defer stopSyncs()

	fmt.Fprintf(stdout, "canonid %s serving on %s (storage: %s)\n",
		opts.Version, servingURL(cfg.Server, ln.Addr()), describeStorage(cfg.Storage))
	if opts.Demo {
		printDemoSummary(stdout, seeded)
	}
	return srv.Run(ctx, ln)
}

// servingURL is the URL to announce: public_url, or the address actually
// bound when the configured port is 0 (chosen by the system).
func servingURL(cfg server.Config, bound net.Addr) string {
	if _, port, err := net.SplitHostPort(cfg.Listen); (err == nil && port == "0") || cfg.PublicURL == "" {
		return "http://" + bound.String()
	}
	return cfg.PublicURL
}

// configActor is the audit actor of changes made from the configuration.
const configActor = "system:config"

// orgUpsertData is the payload of the org.upserted event.
type orgUpsertData struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Created bool   `json:"created"`
}

// upsertOrgs creates or updates the configured orgs in one transaction and
// records an org.upserted event for each org created or changed. Orgs that
// already match are left alone; orgs in the store but not in the
// configuration are kept. It returns how many orgs it wrote.
func upsertOrgs(ctx context.Context, st store.Store, orgs []OrgConfig, now time.Time) (int, error) {
	var changed int
	err := st.Update(ctx, func(tx store.Tx) error {
		changed = 0 // fn may be retried
		for _, oc := range orgs {
			old, err := tx.Orgs().Get(ctx, oc.ID)
			created := errors.Is(err, store.ErrNotFound)
			switch {
			case created:
			case err != nil:
				return fmt.Errorf("org %s: %w", oc.ID, err)
			case old.Name == oc.Name && old.Kind == oc.Kind:
				continue
			}
			o := identity.Org{ID: oc.ID, Name: oc.Name, Kind: oc.Kind, CreatedAt: now}
			if !created {
				o.CreatedAt = old.CreatedAt
			}
			if err := tx.Orgs().Put(ctx, &o); err != nil {
				return fmt.Errorf("org %s: %w", oc.ID, err)
			}
			if err := tx.Record(ctx, store.Event{
				Type:  identity.EventOrgUpserted,
				Actor: configActor,
				OrgID: o.ID,
				Data:  orgUpsertData{ID: o.ID, Name: o.Name, Kind: o.Kind, Created: created},
				At:    now,
			}); err != nil {
				return err
			}
			changed++
		}
		return nil
	})
	return changed, err
}

// scheduleConnectors starts the periodic syncs of the connectors that have an
// interval. The returned function waits for them to stop once ctx ends (it
// cancels a run in progress, whose batch in flight is rolled back).
func scheduleConnectors(ctx context.Context, cfg Config, st store.Store, svc *accounts.Service, logger *slog.Logger,
	onCreate func(context.Context, store.Tx, identity.Account) error, syncDone func(string, ingest.SyncResult, error)) (func(), error) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	owner := leaseOwner()
	for _, cc := range cfg.Connectors {
		if cc.Interval <= 0 {
			continue
		}
		conn, in, err := buildConnector(cc, st, cfg.Policies.Precedence, logger, onCreate)
		if err != nil {
			cancel()
			wg.Wait()
			return nil, err
		}
		opts := ingest.SyncOptions{Owner: owner, ScanEvery: cc.ScanEvery}
		if cfg.Policies.AutoMerge.Enabled {
			opts.AfterCommit = autoMergeHook(svc)
		}
		logger.InfoContext(ctx, "connector scheduled", "connector", cc.Name, "interval", cc.Interval, "full_every", cc.FullEvery)
		var done func(ingest.SyncResult, error)
		if syncDone != nil {
			done = func(res ingest.SyncResult, err error) { syncDone(cc.Name, res, err) }
		}
		wg.Go(func() {
			in.Schedule(ctx, conn, cc.Interval, cc.FullEvery, opts, done)
			if closer, ok := conn.(interface{ Close() error }); ok {
				closer.Close()
			}
		})
	}
	return func() { cancel(); wg.Wait() }, nil
}
