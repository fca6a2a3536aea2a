// Command oidcflow measures how many authorization-code exchanges and
// refresh grants canonid's OpenID provider answers per second, with their
// p50 and p99 latency, at several concurrency levels, on SQLite or
// PostgreSQL.
//
// Setup, untimed: a fresh database migrated by canonid's own Migrate, with
// -accounts active accounts written through the store (each with a verified
// primary address and a validated membership of one org, so that the ID
// token's email and groups claims are read); canonid's HTTP server
// (server.New and its middleware) on a loopback listener with the provider
// (package oidc) mounted on its engine, one confidential client
// (client_secret_basic) and a stand-in login page that logs in the
// account named by login_hint and calls Provider.Complete, as package web
// does once a password checked out. Then a warm-up: a few flows, the first
// of which creates the signing keys (-alg, RS256 by default).
//
// At each concurrency level of -levels, with that many workers each sending
// one request after the other (over keep-alive connections), in this order:
//
//	ref-tx    the store reference: an Update that inserts one oidc_tokens
//	          row and records one event, called in process
//	code      POST /oidc/token grant_type=authorization_code with the PKCE
//	          code_verifier; the codes are made just before, untimed, by the
//	          browser part of the flow (/oidc/authorize with an S256
//	          challenge, state, nonce and login_hint, the stand-in login,
//	          the callback), over the accounts in turn
//	refresh   POST /oidc/token grant_type=refresh_token; each worker has a
//	          refresh token of its own, made at the start of the level, and
//	          sends the one each answer gives back (rotation)
//	ref-http  the HTTP reference: a form POST of the same size and client
//	          authentication to a trivial handler on the same server
//
// Scopes are openid profile email groups offline_access, so a code
// exchange issues an access token, a refresh token and a signed ID token.
// Each phase sends -n requests, or runs for -duration (then the code
// phase gets twice as many codes as the last rate seen would use, and ends
// early, flagged, if they run out).
//
// Every answer is checked (status 200, a Bearer access token, a refresh
// token, an ID token); a request that fails is counted and its phase goes
// on; the first failures are printed, and the command exits with status 1
// if any request failed. After each phase, untimed, every ID token is
// verified (signature against the JWKS, issuer, audience, expiry, sub,
// nonce, email, groups), and the rows and events the phase wrote are
// counted against what it claims. Latencies are exact nearest-rank
// percentiles of the requests that succeeded; each phase is given as
// ratios to the references of its level (the store reference's rate
// divided by the phase's; the phase's p50 and p99 divided by the
// reference's), which is what docs/benchmarks.md records, since absolute
// figures on shared machines are noise. The load average is printed at the
// start, the end and before each phase.
//
// To show where the time goes, the provider and the store reference run on
// the store through a counting wrapper: each phase reports, per request,
// the store Updates (and how many of them recorded no event: a write
// transaction that changed nothing), the Views, and the wall time spent
// inside them. -cpuprofile writes a CPU profile of each timed phase;
// -pgwaits samples, on PostgreSQL, what the run's sessions are waiting for
// (pg_stat_activity; the run's sessions have application_name
// canonid_bench_oidcflow).
//
// Usage:
//
//	go run ./bench/oidcflow -driver sqlite
//	go run ./bench/oidcflow -driver postgres -dsn "$CANONID_TEST_POSTGRES"
//	go run ./bench/oidcflow -driver sqlite -duration 10s -levels 1,8,32 -alg ES256
//
// The SQLite database is a file in a temporary directory removed at the end;
// on PostgreSQL the run gets a schema canonid_bench_<random>, dropped at the
// end.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/canonid/canonid/bench/internal/benchfmt"
	"github.com/canonid/canonid/bench/internal/latency"
)

func main() {
	if err := mainErr(); err != nil {
		fmt.Fprintln(os.Stderr, "oidcflow:", err)
		os.Exit(1)
	}
}

func mainErr() error {
	var (
		cfg     config
		levels  string
		phases  string
		asJSON  bool
		verbose bool
	)
	flag.StringVar(&cfg.Driver, "driver", "sqlite", "database: sqlite or postgres")
	flag.StringVar(&cfg.DSN, "dsn", "", "postgres: DSN of the server (the run creates a schema of its own in its database)")
	flag.StringVar(&cfg.Dir, "dir", "", "sqlite: directory for the temporary database file (default: the system's temporary directory)")
	flag.IntVar(&cfg.Accounts, "accounts", 1000, "active accounts the grants are spread over")
	flag.IntVar(&cfg.N, "n", 2000, "requests of each phase at each level (ignored with -duration)")
	flag.DurationVar(&cfg.Duration, "duration", 0, "run each phase at each level for this long instead of -n requests")
	flag.StringVar(&levels, "levels", "1,8,32", "concurrency levels: workers sending requests at once")
	flag.StringVar(&phases, "phases", strings.Join(allPhases, ","), "phases to time at each level: "+strings.Join(allPhases, ", "))
	flag.StringVar(&cfg.Alg, "alg", "RS256", "signing algorithm of the ID tokens: RS256 or ES256")
	flag.BoolVar(&asJSON, "json", false, "print one JSON object instead of text")
	flag.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of each timed phase next to this file name (x.prof gives x.code-c8.prof...)")
	flag.BoolVar(&cfg.PGWaits, "pgwaits", false, "postgres: sample what the run's sessions wait for during each phase (pg_stat_activity every 50 ms)")
	flag.BoolVar(&verbose, "v", false, "log canonid's messages and a progress line every 10s to stderr")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	var levelsErr, phasesErr error
	cfg.Levels, levelsErr = parseLevels(levels)
	cfg.Phases, phasesErr = parsePhases(phases)
	if err := errors.Join(levelsErr, phasesErr, cfg.validate()); err != nil {
		return err
	}
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg.Progress, cfg.ProgressEvery = os.Stderr, 30*time.Second
	if verbose {
		cfg.ProgressEvery = 10 * time.Second
	}

	// On ^C the phase in progress stops and the database is still dropped.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, runErr := run(ctx, cfg)
	if rep != nil {
		var err error
		if asJSON {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			err = enc.Encode(rep)
		} else {
			err = printText(os.Stdout, rep)
		}
		if runErr == nil && err != nil {
			return err
		}
	}
	if runErr != nil {
		return runErr
	}
	if n := rep.failed(); n > 0 {
		return fmt.Errorf("%d requests failed (see the report)", n)
	}
	return nil
}

// printText prints the report for a terminal, then as Markdown for
// docs/benchmarks.md.
func printText(w io.Writer, r *report) error {
	ew := benchfmt.NewWriter(w)
	ms, ratio := benchfmt.Ms, benchfmt.Ratio
	fmt.Fprintf(ew, "machine: %s\n", r.Machine)
	fmt.Fprintf(ew, "load average (1 5 15 min): %s at the start, %s at the end\n", r.LoadStart, orDash(r.LoadEnd))
	size := fmt.Sprintf("%d requests", r.N)
	if r.DurationSecs > 0 {
		size = fmt.Sprintf("%.0f s", r.DurationSecs)
	}
	fmt.Fprintf(ew, "%d accounts; client %s (confidential, client_secret_basic); scopes %s; ID tokens %s; each phase at each level: %s\n",
		r.Accounts, clientID, r.Scopes, r.Alg, size)
	fmt.Fprintf(ew, "setup (accounts, server, warm-up): %.1f s; warm-up code exchanges, one at a time: %.0f/s\n\n", r.SetupSeconds, r.WarmupCodeRate)
	fmt.Fprintf(ew, "%5s  %-8s  %6s  %6s  %8s  %8s  %9s  %9s  %9s  %9s  %8s  %8s  %8s  %8s  %14s  %s\n",
		"level", "phase", "ok", "failed", "elapsed", "per s", "p50", "p90", "p99", "max",
		"tx÷rate", "p50÷tx", "p99÷tx", "p50÷http", "cpu s self/all", "load before")
	for _, l := range r.Levels {
		for _, p := range l.Phases {
			fmt.Fprintf(ew, "%5d  %-8s  %6d  %6d  %7.2fs  %8.0f  %9s  %9s  %9s  %9s  %8s  %8s  %8s  %8s  %14s  %s\n",
				p.Level, p.Phase, p.OK, p.Failed, p.WallSeconds, p.Rate, ms(p.P50), ms(p.P90), ms(p.P99), ms(p.Max),
				ratio(p.TxRate), ratio(p.TxP50), ratio(p.TxP99), ratio(p.HTTPP50),
				fmt.Sprintf("%.1f/%.1f", p.ProcessCPU, p.MachineCPU), p.Load)
		}
	}
	fmt.Fprintf(ew, "\nstore transactions per request (the provider's and the store reference's): Updates (of which recording no event, retries), Views; wall time inside them\n")
	fmt.Fprintf(ew, "%5s  %-8s  %7s  %7s  %7s  %6s  %13s  %10s  %11s  %8s  %8s\n", "level", "phase", "updates", "silent", "retries", "views", "ms in updates", "(silent)", "ms in views", "mean ms", "p50 ms")
	for _, l := range r.Levels {
		for _, p := range l.Phases {
			t := p.Tx
			fmt.Fprintf(ew, "%5d  %-8s  %7.2f  %7.2f  %7.2f  %6.2f  %13.2f  %10.2f  %11.2f  %8.2f  %8.2f\n",
				p.Level, p.Phase, t.Updates, t.Silent, t.Retries, t.Views, t.InUpdatesMs, t.InSilentMs, t.InViewsMs, latency.Millis(p.Mean), latency.Millis(p.P50))
		}
	}
	fmt.Fprintln(ew)
	for _, l := range r.Levels {
		fmt.Fprintf(ew, "level %d: setup %.1f s (%d codes, %d refresh chains)\n", l.Level, l.SetupSeconds, l.Codes, l.Chains)
		for _, p := range l.Phases {
			if p.RanOut {
				fmt.Fprintf(ew, "level %d, %s: the codes ran out after %.2f s\n", p.Level, p.Phase, p.WallSeconds)
			}
			if p.Checked != "" {
				fmt.Fprintf(ew, "level %d, %s: checked: %s\n", p.Level, p.Phase, p.Checked)
			}
			if w := p.PGWaits; w.Busy > 0 {
				fmt.Fprintf(ew, "level %d, %s: busy PostgreSQL sessions: %.1f on average; %s; most frequent: %s\n",
					p.Level, p.Phase, w.Busy, strings.Join(w.Classes, ", "), strings.Join(w.Top, "; "))
			}
			for _, e := range p.Errors {
				fmt.Fprintf(ew, "level %d, %s: FAILED: %s\n", p.Level, p.Phase, e)
			}
		}
	}
	fmt.Fprintf(ew, "\nMarkdown (docs/benchmarks.md):\n\n")
	fmt.Fprintf(ew, "Machine: %s.\n\n", r.Machine)
	fmt.Fprintln(ew, "| Level | Phase | ok | failed | per second | p50 | p99 | × store ref: rate / p50 / p99 | p50 × HTTP ref | load before |")
	fmt.Fprintln(ew, "|--:|---|--:|--:|--:|--:|--:|--:|--:|---|")
	for _, l := range r.Levels {
		for _, p := range l.Phases {
			rel := ratio(p.TxRate) + " / " + ratio(p.TxP50) + " / " + ratio(p.TxP99)
			if p.Phase == phaseRefTx {
				rel = "1.00×"
			}
			fmt.Fprintf(ew, "| %d | %s | %d | %d | %.0f | %s | %s | %s | %s | %s |\n",
				p.Level, p.Title, p.OK, p.Failed, p.Rate, ms(p.P50), ms(p.P99), rel, ratio(p.HTTPP50), p.Load)
		}
	}
	return ew.Err()
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
