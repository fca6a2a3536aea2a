// Package accounts is the account service: creating accounts, merging two
// accounts into one and undoing a merge, each as one store transaction with
// its merge record, audit and outbox events. Planning is pure and lives in
// package identity; this package reads the two sides, applies the plan and
// records it. Its HTTP handlers serve the accounts part of /api/v1.
package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// Errors the service returns besides the store's sentinels. The HTTP layer
// maps them to 4xx answers.
var (
	// ErrInvalid: the request itself is wrong (merging an account into
	// itself, a bad field). The error text says what.
	ErrInvalid = errors.New("invalid request")
	// ErrMergeConflict: the merge cannot happen in the current state (an
	// account is already merged). The error text says which.
	ErrMergeConflict = errors.New("merge conflict")
	// ErrUndoExpired: the undo window of the merge has passed.
	ErrUndoExpired = errors.New("undo window has passed")
)

// Config is the merge policy: the "policies" section of the configuration.
type Config struct {
	// Precedence orders sources, per field, for survivorship: the value
	// from the better-ranked source survives a merge.
	Precedence identity.Precedence `yaml:"source_precedence"`
	// UndoWindow is how long after a merge it can be undone (default 30
	// days).
	UndoWindow time.Duration `yaml:"undo_window"`
	// AutoMerge merges suggestions that meet a rule; off by default.
	AutoMerge AutoMergeConfig `yaml:"auto_merge"`
}

// DefaultConfig is the built-in merge policy.
func DefaultConfig() Config {
	return Config{Precedence: identity.DefaultPrecedence(), UndoWindow: 30 * 24 * time.Hour,
		AutoMerge: AutoMergeConfig{MinScore: 0.95}}
}

// Validate reports every problem, each prefixed with its key.
func (c Config) Validate() error {
	var errs []error
	if c.UndoWindow < 0 {
		errs = append(errs, fmt.Errorf("undo_window: must not be negative, got %s", c.UndoWindow))
	}
	if err := c.Precedence.Validate(); err != nil {
		for _, e := range unwrapAll(err) {
			errs = append(errs, fmt.Errorf("source_precedence.%w", e))
		}
	}
	for _, e := range unwrapAll(c.AutoMerge.Validate()) {
		if e != nil {
			errs = append(errs, fmt.Errorf("auto_merge.%w", e))
		}
	}
	return errors.Join(errs...)
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Service runs account operations on a store.
type Service struct {
	st  store.Store
	cfg Config
	log *slog.Logger
	now func() time.Time
}

// New returns a service. A zero UndoWindow means 30 days.
func New(st store.Store, cfg Config, logger *slog.Logger) *Service {
	if cfg.UndoWindow <= 0 {
		cfg.UndoWindow = 30 * 24 * time.Hour
	}
	return &Service{st: st, cfg: cfg, log: logger, now: time.Now}
}

// SetClock replaces the service's clock, for tests.
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// NewAccount is what Create takes.
type NewAccount struct {
	Login      string
	GivenName  string
	FamilyName string
	BirthDate  string
	Emails     []NewEmail
	// Source is the provenance of the fields ("admin" from the API).
	Source string
}

// NewEmail is an address of a NewAccount.
type NewEmail struct {
	Address  string
	Verified bool
}

// Create creates an active account with its e-mails (the first verified one
// becomes primary) and records account.created.
func (s *Service) Create(ctx context.Context, n NewAccount, actor string) (identity.Account, error) {
	if err := n.validate(); err != nil {
		return identity.Account{}, err
	}
	source := n.Source
	if source == "" {
		source = "admin"
	}
	a := identity.Account{
		Status: identity.StatusActive, Login: n.Login, GivenName: strings.TrimSpace(n.GivenName),
		FamilyName: strings.TrimSpace(n.FamilyName), BirthDate: n.BirthDate, Provenance: map[string]string{},
	}
	for field, v := range map[string]string{identity.FieldGivenName: a.GivenName, identity.FieldFamilyName: a.FamilyName, identity.FieldBirthDate: a.BirthDate} {
		if v != "" {
			a.Provenance[field] = source
		}
	}
	err := s.st.Update(ctx, func(tx store.Tx) error {
		a.ID, a.Version = "", 0
		if err := tx.Accounts().Create(ctx, &a); err != nil {
			return err
		}
		primary := false
		for _, e := range n.Emails {
			em := identity.Email{AccountID: a.ID, Address: e.Address, Verified: e.Verified, Source: source}
			if e.Verified && !primary {
				em.Primary, primary = true, true
			}
			if err := tx.Emails().Add(ctx, &em); err != nil {
				return err
			}
		}
		return tx.Record(ctx, store.Event{Type: identity.EventAccountCreated, Actor: actor, AccountID: a.ID,
			Data: map[string]string{"login": a.Login}})
	})
	return a, err
}

func (n *NewAccount) validate() error {
	var errs []string
	n.Login = identity.NormalizeLogin(n.Login)
	if n.Login != "" && (len(n.Login) > 128 || strings.ContainsAny(n.Login, " \t\n@/")) {
		errs = append(errs, "login: must be at most 128 characters without spaces, '@' or '/'")
	}
	if strings.TrimSpace(n.GivenName) == "" && strings.TrimSpace(n.FamilyName) == "" {
		errs = append(errs, "given_name, family_name: at least one is required")
	}
	if n.BirthDate != "" {
		if _, err := time.Parse(time.DateOnly, n.BirthDate); err != nil {
			errs = append(errs, fmt.Sprintf("birth_date: must be YYYY-MM-DD, got %q", n.BirthDate))
		}
	}
	seen := map[string]bool{}
	for i, e := range n.Emails {
		addr := identity.NormalizeEmail(e.Address)
		switch {
		case !identity.ValidEmail(addr):
			errs = append(errs, fmt.Sprintf("emails[%d].address: %q is not a valid address", i, e.Address))
		case seen[addr]:
			errs = append(errs, fmt.Sprintf("emails[%d].address: %q is listed twice", i, e.Address))
		}
		seen[addr] = true
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(errs, "; "))
	}
	return nil
}

// loadSide reads an account and everything it owns, inside tx.
func loadSide(ctx context.Context, tx store.Tx, id string) (identity.Side, error) {
	var side identity.Side
	var err error
	if side.Account, err = tx.Accounts().Get(ctx, id); err != nil {
		return side, err
	}
	if side.Links, err = tx.Links().ListByAccount(ctx, id); err != nil {
		return side, err
	}
	if side.Emails, err = tx.Emails().ListByAccount(ctx, id); err != nil {
		return side, err
	}
	side.Memberships, err = tx.Memberships().ListByAccount(ctx, id)
	return side, err
}

// loadPair reads both sides, locking the accounts in id order so that two
// merges of the same pair in opposite directions queue instead of
// deadlocking.
func loadPair(ctx context.Context, tx store.Tx, survivorID, retiredID string) (survivor, retired identity.Side, err error) {
	ids := []string{survivorID, retiredID}
	slices.Sort(ids)
	sides := map[string]identity.Side{}
	for _, id := range ids {
		side, err := loadSide(ctx, tx, id)
		if err != nil {
			return survivor, retired, err
		}
		sides[id] = side
	}
	return sides[survivorID], sides[retiredID], nil
}

// Preview plans the merge of retired into survivor without changing
// anything: the field-by-field preview a person or admin confirms.
func (s *Service) Preview(ctx context.Context, survivorID, retiredID string) (identity.Plan, error) {
	if survivorID == retiredID {
		return identity.Plan{}, fmt.Errorf("%w: an account cannot be merged into itself", ErrInvalid)
	}
	var plan identity.Plan
	err := s.st.View(ctx, func(tx store.Tx) error {
		survivor, retired, err := loadPair(ctx, tx, survivorID, retiredID)
		if err != nil {
			return err
		}
		plan, err = s.plan(survivor, retired)
		return err
	})
	return plan, err
}

func (s *Service) plan(survivor, retired identity.Side) (identity.Plan, error) {
	for _, side := range []identity.Side{survivor, retired} {
		if side.Account.Status == identity.StatusMerged {
			return identity.Plan{}, fmt.Errorf("%w: account %s is already merged into %s", ErrMergeConflict, side.Account.ID, side.Account.MergedInto)
		}
	}
	plan, err := identity.PlanMerge(survivor, retired, s.cfg.Precedence)
	if err != nil {
		return plan, fmt.Errorf("%w: %v", ErrMergeConflict, err)
	}
	return plan, nil
}

// MergeRequest describes a merge.
type MergeRequest struct {
	SurvivorID, RetiredID string
	Reason                identity.MergeReason
	Actor                 string
	// SurvivorVersion and RetiredVersion, when not zero, must be the
	// accounts' current versions (the versions the preview was made
	// from); otherwise the merge fails with store.ErrConflict.
	SurvivorVersion, RetiredVersion int64
}

// Merge merges retired into survivor in one transaction: the plan's changes,
// the retired account's pending one-time tokens revoked, the merge record,
// and account.merged in the audit log and the outbox.
func (s *Service) Merge(ctx context.Context, req MergeRequest) (identity.MergeRecord, error) {
	var rec identity.MergeRecord
	err := s.st.Update(ctx, func(tx store.Tx) error {
		var err error
		rec, err = s.MergeTx(ctx, tx, req)
		return err
	})
	return rec, err
}

// MergeTx is Merge inside the caller's transaction, for flows that do more
// in the same transaction (consume the merge key or the verification link
// that asked for it).
func (s *Service) MergeTx(ctx context.Context, tx store.Tx, req MergeRequest) (identity.MergeRecord, error) {
	if req.SurvivorID == req.RetiredID {
		return identity.MergeRecord{}, fmt.Errorf("%w: an account cannot be merged into itself", ErrInvalid)
	}
	if req.Reason == "" {
		req.Reason = identity.MergeByAdmin
	}
	survivor, retired, err := loadPair(ctx, tx, req.SurvivorID, req.RetiredID)
	if err != nil {
		return identity.MergeRecord{}, err
	}
	if err := checkVersion(survivor.Account, req.SurvivorVersion); err != nil {
		return identity.MergeRecord{}, err
	}
	if err := checkVersion(retired.Account, req.RetiredVersion); err != nil {
		return identity.MergeRecord{}, err
	}
	plan, err := s.plan(survivor, retired)
	if err != nil {
		return identity.MergeRecord{}, err
	}
	if err := apply(ctx, tx, plan.Changes); err != nil {
		return identity.MergeRecord{}, err
	}
	now := s.now()
	if _, err := tx.Tokens().Revoke(ctx, req.RetiredID, now); err != nil {
		return identity.MergeRecord{}, err
	}
	// A merged account owns no sessions and no tokens (DESIGN
	// invariant 3): whoever holds them logs in again, as the survivor.
	if _, err := tx.Sessions().RevokeAccount(ctx, req.RetiredID, now); err != nil {
		return identity.MergeRecord{}, err
	}
	if _, err := tx.OAuthTokens().RevokeAccount(ctx, req.RetiredID, "", now); err != nil {
		return identity.MergeRecord{}, err
	}
	rec := identity.MergeRecord{SurvivorID: req.SurvivorID, RetiredID: req.RetiredID, Reason: req.Reason,
		Actor: req.Actor, CreatedAt: now, Moved: plan.Moved}
	if err := tx.Merges().Create(ctx, &rec); err != nil {
		return identity.MergeRecord{}, err
	}
	err = tx.Record(ctx, store.Event{Type: identity.EventAccountMerged, Actor: req.Actor, AccountID: req.SurvivorID,
		Data: identity.MergeEventData{MergeID: rec.ID, SurvivorID: req.SurvivorID, RetiredID: req.RetiredID}})
	return rec, err
}

// checkVersion fails with a *StaleError when want is set and differs.
func checkVersion(a identity.Account, want int64) error {
	if want != 0 && a.Version != want {
		return &StaleError{AccountID: a.ID, Want: want, Have: a.Version}
	}
	return nil
}

// StaleError says the caller's version of an account is out of date.
type StaleError struct {
	AccountID  string
	Want, Have int64
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("account %s is at version %d, not %d: it changed since it was read", e.AccountID, e.Have, e.Want)
}

// Undo reverses a standing merge within the undo window, in one
// transaction: everything moved goes back, the retired account is live
// again, the record is marked undone and account.unmerged is recorded. It
// refuses with an *identity.UndoConflict naming every conflicting later
// change.
func (s *Service) Undo(ctx context.Context, mergeID, actor string) (identity.MergeRecord, error) {
	var rec identity.MergeRecord
	err := s.st.Update(ctx, func(tx store.Tx) error {
		var err error
		if rec, err = tx.Merges().Get(ctx, mergeID); err != nil {
			return err
		}
		survivor, retired, err := loadPair(ctx, tx, rec.SurvivorID, rec.RetiredID)
		if err != nil {
			return err
		}
		// Read the record again now that both accounts are locked: a
		// concurrent undo of the same merge may have committed meanwhile.
		if rec, err = tx.Merges().Get(ctx, mergeID); err != nil {
			return err
		}
		if rec.Undone() {
			return fmt.Errorf("%w: merge %s was already undone at %s", ErrMergeConflict, rec.ID, rec.UndoneAt.Format(time.RFC3339))
		}
		now := s.now()
		if deadline := rec.CreatedAt.Add(s.cfg.UndoWindow); now.After(deadline) {
			return fmt.Errorf("%w: merge %s could be undone until %s", ErrUndoExpired, rec.ID, deadline.Format(time.RFC3339))
		}
		changes, err := identity.PlanUndo(rec, survivor, retired)
		var conflict *identity.UndoConflict
		switch {
		case errors.As(err, &conflict):
			return err
		case err != nil:
			return fmt.Errorf("%w: %v", ErrMergeConflict, err)
		}
		if err := apply(ctx, tx, changes); err != nil {
			return err
		}
		if err := tx.Merges().MarkUndone(ctx, rec.ID, actor, now); err != nil {
			return err
		}
		rec.UndoneAt, rec.UndoneBy = now, actor
		return tx.Record(ctx, store.Event{Type: identity.EventAccountUnmerged, Actor: actor, AccountID: rec.RetiredID,
			Data: identity.MergeEventData{MergeID: rec.ID, SurvivorID: rec.SurvivorID, RetiredID: rec.RetiredID}})
	})
	return rec, err
}

// apply writes a plan's changes in the order the unique constraints need:
// deletions first, then additions, then owners and accounts.
func apply(ctx context.Context, tx store.Tx, c identity.Changes) error {
	for _, e := range c.DeleteEmails {
		if err := tx.Emails().Delete(ctx, e.AccountID, e.Address); err != nil {
			return err
		}
	}
	for _, m := range c.DeleteMemberships {
		if err := tx.Memberships().Delete(ctx, m.OrgID, m.AccountID); err != nil {
			return err
		}
	}
	for _, e := range c.AddEmails {
		if err := tx.Emails().Add(ctx, &e); err != nil {
			return err
		}
	}
	for _, e := range c.UpdateEmails {
		if err := tx.Emails().Update(ctx, &e); err != nil {
			return err
		}
	}
	for _, l := range c.Links {
		if err := tx.Links().Update(ctx, &l); err != nil {
			return err
		}
	}
	for _, m := range c.PutMemberships {
		if err := tx.Memberships().Put(ctx, &m); err != nil {
			return err
		}
	}
	for _, a := range c.Accounts {
		if err := tx.Accounts().Update(ctx, &a); err != nil {
			return err
		}
	}
	return nil
}

// Details is an account with what it owns and its merge history, as shown
// by the API.
type Details struct {
	Account     identity.Account
	Emails      []identity.Email
	Links       []identity.Link
	Memberships []identity.Membership
	// MergedFrom lists the accounts merged into this one (standing merges).
	MergedFrom []MergedAccount
	// RequestedID is the id asked for when it resolved to another account.
	RequestedID string
}

// MergedAccount is a retired account as its survivor lists it ("merged
// users").
type MergedAccount struct {
	ID, Login, MergeID string
	MergedAt           time.Time
}

// Get returns an account with what it owns. A merged account's id resolves
// to the live account at the end of its chain (RequestedID tells).
func (s *Service) Get(ctx context.Context, id string) (Details, error) {
	var d Details
	err := s.st.View(ctx, func(tx store.Tx) error {
		a, err := tx.Accounts().Resolve(ctx, id)
		if err != nil {
			return err
		}
		side, err := loadSide(ctx, tx, a.ID)
		if err != nil {
			return err
		}
		d = Details{Account: side.Account, Emails: side.Emails, Links: side.Links, Memberships: side.Memberships}
		if a.ID != id {
			d.RequestedID = id
		}
		merges, err := tx.Merges().ListByAccount(ctx, a.ID)
		if err != nil {
			return err
		}
		for _, m := range merges {
			if m.SurvivorID != a.ID || m.Undone() {
				continue
			}
			r, err := tx.Accounts().Get(ctx, m.RetiredID)
			if err != nil {
				return err
			}
			d.MergedFrom = append(d.MergedFrom, MergedAccount{ID: r.ID, Login: r.Login, MergeID: m.ID, MergedAt: m.CreatedAt})
		}
		return nil
	})
	return d, err
}

// List searches accounts (login, names, any e-mail), by id order.
func (s *Service) List(ctx context.Context, q store.AccountQuery) ([]identity.Account, error) {
	var out []identity.Account
	err := s.st.View(ctx, func(tx store.Tx) error {
		var err error
		out, err = tx.Accounts().List(ctx, q)
		return err
	})
	return out, err
}
