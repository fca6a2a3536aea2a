// Package imports runs file imports — the CSV and XLSX files regional
// health agencies send — through a configured file connector: it opens the
// file (connectors/csvimport), refuses it before writing anything when a
// required column is missing, applies its rows (package ingest: mapping,
// correlation, batched writes), and keeps a record of each import with its
// report. The CLI (canonid import) and the API (POST /api/v1/imports/{connector})
// both run imports through a Service.
package imports

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/canonid/canonid/connectors"
	"github.com/canonid/canonid/connectors/csvimport"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/ingest"
	"github.com/canonid/canonid/mapping"
	"github.com/canonid/canonid/store"
)

// EventImported is recorded with each import record.
const EventImported = "import.recorded"

// Connector is a configured file connector.
type Connector struct {
	// Name is the connector's name; its links have the source "csv:<name>".
	Name    string
	Mapping *mapping.Mapping
	Ingest  ingest.Config
	File    csvimport.Config
	// Snapshot says each file holds every identity of the source: rows
	// missing from a newer file mark their links gone.
	Snapshot bool
}

// Source is the links' source of the connector.
func (c Connector) Source() string { return "csv:" + c.Name }

// Service runs and records imports.
type Service struct {
	st    store.Store
	conns map[string]Connector
	prec  identity.Precedence
	log   *slog.Logger
	now   func() time.Time
	// AfterCommit, when set, runs after each batch with the accounts it
	// touched (the auto-merge hook).
	AfterCommit func(ctx context.Context, accountIDs []string) error
	// OnCreate, when set, runs in the transaction that creates an account
	// (ingest.Source.OnCreate: the activation mail).
	OnCreate func(ctx context.Context, tx store.Tx, acc identity.Account) error
}

// New returns a Service for the given connectors.
func New(st store.Store, conns []Connector, prec identity.Precedence, log *slog.Logger) *Service {
	m := make(map[string]Connector, len(conns))
	for _, c := range conns {
		m[c.Name] = c
	}
	return &Service{st: st, conns: m, prec: prec, log: log, now: time.Now}
}

// Connectors returns the names of the file connectors, sorted.
func (s *Service) Connectors() []string {
	names := make([]string, 0, len(s.conns))
	for n := range s.conns {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Request is one import to run.
type Request struct {
	Connector string
	// FileName is the file's name as given (for the record and messages).
	FileName string
	File     io.ReaderAt
	Size     int64
	DryRun   bool
	Strict   bool
	// Actor is recorded on events and the import record.
	Actor string
	// Owner names this process in the connector's lease.
	Owner    string
	Progress func(done int)
	Diff     func(ingest.Change)
}

// Report is what an import did; the command prints it and the API returns it.
type Report struct {
	ImportID  string `json:"import_id,omitempty"`
	Connector string `json:"connector"`
	File      string `json:"file"`
	// Status is completed, rejected (nothing written) or failed.
	Status    string `json:"status"`
	Message   string `json:"message,omitempty"`
	Format    string `json:"format,omitempty"`
	Encoding  string `json:"encoding,omitempty"`
	Delimiter string `json:"delimiter,omitempty"`
	DryRun    bool   `json:"dry_run"`
	Strict    bool   `json:"strict"`
	// Rows is the number of data rows read.
	Rows int `json:"rows"`
	ingest.Summary
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
}

// Import statuses.
const (
	StatusCompleted = "completed"
	StatusRejected  = "rejected"
	StatusFailed    = "failed"
)

// ErrUnknownConnector: no file connector by that name.
var ErrUnknownConnector = errors.New("unknown file connector")

// RejectedError says why a file was refused before anything was written: a
// problem of the file as a whole (not a CSV or XLSX file, a missing required
// column), or, with --strict, rows in error.
type RejectedError struct{ Reason string }

func (e *RejectedError) Error() string { return e.Reason }

// Run imports one file. A file refused as a whole, or rows in error with
// Strict, give a *RejectedError and a report with status rejected; nothing
// is written then but the import record. Dry runs write nothing at all, not
// even the record.
func (s *Service) Run(ctx context.Context, req Request) (Report, error) {
	start := s.now()
	rep := Report{Connector: req.Connector, File: req.FileName, DryRun: req.DryRun, Strict: req.Strict, Started: start.UTC(),
		Summary: ingest.Summary{Errors: []ingest.EntryError{}, Suggestions: []ingest.Suggestion{}}}
	conn, ok := s.conns[req.Connector]
	if !ok {
		return rep, fmt.Errorf("%w %q (configured: %s)", ErrUnknownConnector, req.Connector, strings.Join(s.Connectors(), ", "))
	}
	// The record names the file by its SHA-256; a dry run keeps no record.
	digest := ""
	if !req.DryRun {
		sum := sha256.New()
		if _, err := io.Copy(sum, io.NewSectionReader(req.File, 0, req.Size)); err != nil {
			return rep, fmt.Errorf("read %s: %w", req.FileName, err)
		}
		digest = hex.EncodeToString(sum.Sum(nil))
	}

	finish := func(status string, err error) (Report, error) {
		rep.Status, rep.Duration = status, s.now().Sub(start)
		if err != nil {
			rep.Message = err.Error()
		}
		if !req.DryRun {
			if rerr := s.record(ctx, req, digest, &rep); rerr != nil {
				return rep, errors.Join(err, rerr)
			}
		}
		return rep, err
	}
	f, err := csvimport.Open(req.File, req.Size, conn.File)
	if err != nil {
		return finish(StatusRejected, &RejectedError{Reason: fmt.Sprintf("%s: %v", req.FileName, err)})
	}
	rep.Format, rep.Encoding, rep.Delimiter = f.Format(), f.Encoding(), f.Delimiter()
	if missing := missingColumns(f, conn.Mapping, conn.File.KeyColumns); len(missing) > 0 {
		return finish(StatusRejected, &RejectedError{Reason: fmt.Sprintf("%s: missing required column %s: nothing imported",
			req.FileName, strings.Join(missing, ", "))})
	}
	in := ingest.New(s.st, ingest.Source{Name: conn.Source(), Mapping: conn.Mapping, Config: conn.Ingest, OnCreate: s.OnCreate}, s.prec, s.log)
	rows := func(ctx context.Context, fn func(connectors.Entry, *ingest.EntryError) error) error {
		rep.Rows = 0
		return f.Rows(ctx, func(r csvimport.Row) error {
			rep.Rows++
			if r.Err != nil {
				return fn(r.Entry, &ingest.EntryError{Line: r.Err.Line, Column: r.Err.Column, Value: r.Err.Value, Reason: r.Err.Reason})
			}
			return fn(r.Entry, nil)
		})
	}
	actor := req.Actor
	if actor == "" {
		actor = "import:" + conn.Name
	}
	summary, err := in.Import(ctx, conn.Name, rows, ingest.ImportOptions{
		DryRun: req.DryRun, Strict: req.Strict, Snapshot: conn.Snapshot, Owner: req.Owner, Actor: actor,
		Diff: req.Diff, Progress: req.Progress, AfterCommit: s.AfterCommit,
	})
	rep.Summary = summary
	switch {
	case errors.Is(err, ingest.ErrRejected):
		return finish(StatusRejected, &RejectedError{Reason: fmt.Sprintf("%s: %d rows in error: nothing imported (--strict)", req.FileName, len(summary.Errors))})
	case err != nil:
		var held *store.LeaseHeldError
		if errors.As(err, &held) {
			return rep, err // another import runs: nothing happened here
		}
		return finish(StatusFailed, err)
	}
	return finish(StatusCompleted, nil)
}

// missingColumns lists, for each required field none of whose columns the
// file has, those columns, and the missing key columns.
func missingColumns(f *csvimport.File, m *mapping.Mapping, keys []string) (out []string) {
	defer func() {
		for _, k := range f.Missing(keys) {
			if !slices.ContainsFunc(out, func(o string) bool { return strings.HasPrefix(o, k+" ") }) {
				out = append(out, k+" (key)")
			}
		}
	}()
	req := m.Required()
	fields := make([]string, 0, len(req))
	for field := range req {
		fields = append(fields, field)
	}
	slices.Sort(fields)
	for _, field := range fields {
		cols := req[field]
		if len(f.Missing(cols)) == len(cols) {
			out = append(out, strings.Join(cols, " or ")+" ("+field+")")
		}
	}
	return out
}

// record stores the import record and its event.
func (s *Service) record(ctx context.Context, req Request, digest string, rep *Report) error {
	rec := store.ImportRecord{Connector: req.Connector, FileName: req.FileName, FileSHA256: digest, Actor: orDefault(req.Actor, "cli"),
		DryRun: req.DryRun, Status: rep.Status, StartedAt: rep.Started, FinishedAt: rep.Started.Add(rep.Duration)}
	rec.ID = uuid.NewString()
	rep.ImportID = rec.ID // the stored report names its own id
	body, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	rec.Report = body
	return s.st.Update(ctx, func(tx store.Tx) error {
		if err := tx.Imports().Create(ctx, &rec); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: EventImported, Actor: rec.Actor, Data: map[string]any{
			"import_id": rec.ID, "connector": rec.Connector, "file": rec.FileName, "status": rec.Status,
			"created": rep.Created, "updated": rep.Updated, "linked": rep.Linked, "gone": rep.Gone, "errors": len(rep.Errors),
		}})
	})
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// List returns the import records of a connector (all when empty), newest
// first.
func (s *Service) List(ctx context.Context, connector string, limit int) ([]store.ImportRecord, error) {
	var out []store.ImportRecord
	err := s.st.View(ctx, func(tx store.Tx) error {
		var err error
		out, err = tx.Imports().List(ctx, connector, limit)
		return err
	})
	return out, err
}

// Get returns one import record.
func (s *Service) Get(ctx context.Context, id string) (store.ImportRecord, error) {
	var out store.ImportRecord
	err := s.st.View(ctx, func(tx store.Tx) error {
		var err error
		out, err = tx.Imports().Get(ctx, id)
		return err
	})
	return out, err
}
