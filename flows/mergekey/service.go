// Package mergekey is the merge-by-key flow of seed 002 (the ODE ENT's "clé
// de fusion"): logged in on the account they no longer want, a person
// generates a merge key; logged in on the account they keep, they paste it,
// see the field-by-field preview and confirm; the account of the key is
// merged into the account that pasted it, which then lists the merged
// login under "merged users".
//
// A key is a one-time token (store.PurposeMergeKey): 100 random bits shown
// once, stored as a SHA-256 hash, valid 24 hours by default, single use, and
// an account has at most one: generating a key voids the previous one. A key
// that is mistyped, forged, expired, used, replaced, or whose account is no
// longer live is refused with one and the same error (ErrInvalidKey), so
// that a refusal tells nothing about why. Consuming the key and merging are
// one store transaction (accounts.Service.MergeTx), with their events.
//
// The HTTP side (Handler) serves the JSON self-service API under
// /api/v1/me and the pages /account/merge-key and /account/merge; it rate
// limits failed redemptions per account and per client address.
package mergekey

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// Events the flow records (besides account.merged, recorded by the merge).
const (
	// EventKeyCreated: a merge key was generated on the account. Data:
	// token_id, expires_at, replaced (how many pending keys it voided).
	// Never the key.
	EventKeyCreated = "merge_key.created"
	// EventKeyUsed: the account's merge key was pasted on another account
	// and the account merged into it. Data: token_id, merge_id,
	// survivor_id.
	EventKeyUsed = "merge_key.used"
)

// Errors of the service. The HTTP layer maps them to its answers.
var (
	// ErrInvalidKey: the key is mistyped, forged, expired, already used,
	// replaced by a newer one, or its account is no longer live (merged,
	// suspended). One error for all.
	ErrInvalidKey = errors.New("this merge key is not valid: it may be mistyped, expired, already used or replaced by a newer key")
	// ErrOwnKey: the key was generated on the account pasting it.
	ErrOwnKey = errors.New("this merge key was generated on this account: paste it while logged in on the account you want to keep")
	// ErrNotMergeable: the caller's own account cannot take part in a
	// merge in its status (suspended, merged).
	ErrNotMergeable = errors.New("your account cannot take part in a merge in its current status")
)

// Config configures the flow: the merge_key section. Zero fields take their
// defaults.
type Config struct {
	// TTL is how long a key works. Default 24 hours.
	TTL time.Duration `yaml:"ttl"`
	// IPLimit bounds failed redemptions (previews and merges with a key
	// that is not valid) per client address. Default 20 a minute, burst
	// 20.
	IPLimit Limit `yaml:"ip_limit"`
	// AccountLimit bounds failed redemptions per account pasting keys.
	// Default 10 per 15 minutes, burst 10.
	AccountLimit Limit `yaml:"account_limit"`
	// Location is the time zone the pages write times in, set by the
	// wiring from the top-level timezone; nil means Europe/Paris.
	Location *time.Location `yaml:"-"`
}

// Limit is a token bucket: Burst tokens, refilled at Events per Per.
type Limit struct {
	Events int           `yaml:"events"`
	Per    time.Duration `yaml:"per"`
	Burst  int           `yaml:"burst"`
}

// DefaultTTL is the default lifetime of a key.
const DefaultTTL = 24 * time.Hour

// Default limits of Config.
var (
	DefaultIPLimit      = Limit{Events: 20, Per: time.Minute, Burst: 20}
	DefaultAccountLimit = Limit{Events: 10, Per: 15 * time.Minute, Burst: 10}
)

func (c Config) withDefaults() Config {
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.IPLimit == (Limit{}) {
		c.IPLimit = DefaultIPLimit
	}
	if c.AccountLimit == (Limit{}) {
		c.AccountLimit = DefaultAccountLimit
	}
	return c
}

// Validate reports every problem of c, each prefixed with its key. Zero
// fields stand for their defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.TTL < time.Minute || c.TTL > 30*24*time.Hour {
		errs = append(errs, fmt.Errorf("ttl: must be from 1m to 720h, got %s", c.TTL))
	}
	errs = append(errs, c.IPLimit.validate("ip_limit")...)
	errs = append(errs, c.AccountLimit.validate("account_limit")...)
	return errors.Join(errs...)
}

func (l Limit) validate(key string) []error {
	var errs []error
	if l.Events < 1 {
		errs = append(errs, fmt.Errorf("%s.events: must be at least 1, got %d", key, l.Events))
	}
	if l.Per <= 0 {
		errs = append(errs, fmt.Errorf("%s.per: must be positive, got %s", key, l.Per))
	}
	if l.Burst < 1 {
		errs = append(errs, fmt.Errorf("%s.burst: must be at least 1, got %d", key, l.Burst))
	}
	return errs
}

// Merger plans and performs merges: *accounts.Service.
type Merger interface {
	// Preview plans the merge of retired into survivor without changing
	// anything.
	Preview(ctx context.Context, survivorID, retiredID string) (identity.Plan, error)
	// MergeTx merges inside the caller's transaction.
	MergeTx(ctx context.Context, tx store.Tx, req accounts.MergeRequest) (identity.MergeRecord, error)
}

var _ Merger = (*accounts.Service)(nil)

// Deps are what the service needs from the rest of canonid.
type Deps struct {
	// Store keeps the keys, the accounts and the events.
	Store store.Store
	// Accounts merges: the accounts service.
	Accounts Merger
	// Now is the clock. Nil means time.Now. (The accounts service has
	// its own, which dates the merge record.)
	Now func() time.Time
	// RequestID returns the request id of a request context, recorded
	// with the events. Nil: none.
	RequestID func(ctx context.Context) string
}

// Service runs the flow.
type Service struct {
	cfg    Config
	st     store.Store
	merger Merger
	now    func() time.Time
	reqID  func(ctx context.Context) string
}

// New returns the service. cfg is validated (zero fields take their
// defaults); Store and Accounts are required.
func New(cfg Config, deps Deps) (*Service, error) {
	var errs []error
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if deps.Store == nil {
		errs = append(errs, errors.New("mergekey: Deps.Store is required"))
	}
	if deps.Accounts == nil {
		errs = append(errs, errors.New("mergekey: Deps.Accounts is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg.withDefaults(), st: deps.Store, merger: deps.Accounts, now: deps.Now, reqID: deps.RequestID}
	if s.now == nil {
		s.now = time.Now
	}
	if s.reqID == nil {
		s.reqID = func(context.Context) string { return "" }
	}
	if s.cfg.Location == nil {
		s.cfg.Location = parisOrUTC()
	}
	return s, nil
}

func parisOrUTC() *time.Location {
	if loc, err := time.LoadLocation("Europe/Paris"); err == nil {
		return loc
	}
	return time.UTC
}

// mergeable reports whether an account may take part in a merge by key:
// live, and not suspended (a suspended account could otherwise hand its
// links and addresses over, or take others').
func mergeable(a identity.Account) bool {
	return a.Status.Live() && a.Status != identity.StatusSuspended
}

// Generate creates a merge key on the account, voiding the pending one if
// any, and returns it, formatted for display (XXXX-XXXX-XXXX-XXXX-XXXX),
// with its expiry. The key is not kept: it can be shown only now.
func (s *Service) Generate(ctx context.Context, accountID string) (string, time.Time, error) {
	key := newKey()
	now := s.now()
	expires := now.Add(s.cfg.TTL).UTC().Truncate(time.Microsecond)
	err := s.st.Update(ctx, func(tx store.Tx) error {
		// Reading the account locks it: two keys generated at once
		// queue, and the second voids the first.
		a, err := tx.Accounts().Get(ctx, accountID)
		if err != nil {
			return fmt.Errorf("account %s: %w", accountID, err)
		}
		if !mergeable(a) {
			return ErrNotMergeable
		}
		replaced, err := tx.Tokens().Revoke(ctx, accountID, now, store.PurposeMergeKey)
		if err != nil {
			return err
		}
		tok := store.OneTimeToken{Purpose: store.PurposeMergeKey, Hash: keyHash(key), AccountID: accountID,
			CreatedAt: now, ExpiresAt: expires}
		if err := tx.Tokens().Create(ctx, &tok); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{
			Type: EventKeyCreated, Actor: "account:" + accountID, AccountID: accountID,
			RequestID: s.reqID(ctx), At: now,
			Data: map[string]any{"token_id": tok.ID, "expires_at": expires, "replaced": replaced},
		})
	})
	if err != nil {
		return "", time.Time{}, err
	}
	return formatKey(key), expires, nil
}

// ActiveKey returns the expiry of the account's pending merge key, if it
// has one (the key itself is not kept).
func (s *Service) ActiveKey(ctx context.Context, accountID string) (expiresAt time.Time, ok bool, err error) {
	err = s.st.View(ctx, func(tx store.Tx) error {
		pending, err := tx.Tokens().ListPending(ctx, accountID, s.now())
		for _, t := range pending {
			if t.Purpose == store.PurposeMergeKey && t.ExpiresAt.After(expiresAt) {
				expiresAt, ok = t.ExpiresAt, true
			}
		}
		return err
	})
	return expiresAt, ok, err
}

// Summary is an account as the preview shows it.
type Summary struct {
	ID          string
	Login       string
	GivenName   string
	FamilyName  string
	DisplayName string
	// Emails are the account's addresses, primary first.
	Emails []string
	// Version is the account's version the preview was made from.
	Version int64
}

// Name is the person's name as the account shows it.
func (s Summary) Name() string {
	if s.DisplayName != "" {
		return s.DisplayName
	}
	return strings.TrimSpace(s.GivenName + " " + s.FamilyName)
}

// Preview is what pasting a key shows before anything changes.
type Preview struct {
	// Survivor is the account pasting the key; Retired the key's.
	Survivor, Retired Summary
	// Plan is the field-by-field preview and what moves.
	Plan identity.Plan
	// KeyExpiresAt is when the key stops working.
	KeyExpiresAt time.Time
}

// Versions are the versions of the two accounts a preview was made from.
type Versions struct{ Survivor, Retired int64 }

// Preview finds the key's account and plans its merge into survivorID,
// without using the key or changing anything.
func (s *Service) Preview(ctx context.Context, survivorID, key string) (Preview, error) {
	hash, ok := parseKey(key)
	if !ok {
		return Preview{}, ErrInvalidKey
	}
	var p Preview
	err := s.st.View(ctx, func(tx store.Tx) error {
		tok, err := s.find(ctx, tx, survivorID, hash)
		if err != nil {
			return err
		}
		p.KeyExpiresAt = tok.ExpiresAt
		survivor, retired, err := s.pair(ctx, tx, survivorID, tok.AccountID)
		if err != nil {
			return err
		}
		if p.Survivor, err = summarise(ctx, tx, survivor); err != nil {
			return err
		}
		p.Retired, err = summarise(ctx, tx, retired)
		return err
	})
	if err != nil {
		return Preview{}, err
	}
	// Planned after the versions were read: if an account changes in
	// between, a merge checked against these versions is refused rather
	// than made from a preview the person did not see.
	if p.Plan, err = s.merger.Preview(ctx, survivorID, p.Retired.ID); err != nil {
		return Preview{}, err
	}
	return p, nil
}

// parseKey normalises a key as typed and returns its hash.
func parseKey(key string) ([]byte, bool) {
	k, ok := normaliseKey(key)
	if !ok {
		return nil, false
	}
	return keyHash(k), true
}

// find returns the pending key of this hash, not the survivor's own.
func (s *Service) find(ctx context.Context, tx store.Tx, survivorID string, hash []byte) (store.OneTimeToken, error) {
	tok, err := tx.Tokens().Find(ctx, store.PurposeMergeKey, hash, s.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return tok, ErrInvalidKey
	case err != nil:
		return tok, err
	case tok.AccountID == survivorID:
		return tok, ErrOwnKey
	}
	return tok, nil
}

// pair reads both accounts, in id order (inside a write transaction this
// locks them in the order the merge does), and checks that both may take
// part in a merge.
func (s *Service) pair(ctx context.Context, tx store.Tx, survivorID, retiredID string) (survivor, retired identity.Account, err error) {
	ids := []string{survivorID, retiredID}
	slices.Sort(ids)
	got := map[string]identity.Account{}
	for _, id := range ids {
		a, err := tx.Accounts().Get(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound) && id == retiredID:
			return survivor, retired, ErrInvalidKey
		case err != nil:
			return survivor, retired, fmt.Errorf("account %s: %w", id, err)
		}
		got[id] = a
	}
	survivor, retired = got[survivorID], got[retiredID]
	if !mergeable(retired) {
		return survivor, retired, ErrInvalidKey
	}
	if !mergeable(survivor) {
		return survivor, retired, ErrNotMergeable
	}
	return survivor, retired, nil
}

func summarise(ctx context.Context, tx store.Tx, a identity.Account) (Summary, error) {
	emails, err := tx.Emails().ListByAccount(ctx, a.ID)
	if err != nil {
		return Summary{}, err
	}
	slices.SortStableFunc(emails, func(x, y identity.Email) int {
		switch {
		case x.Primary == y.Primary:
			return 0
		case x.Primary:
			return -1
		}
		return 1
	})
	sum := Summary{ID: a.ID, Login: a.Login, GivenName: a.GivenName, FamilyName: a.FamilyName,
		DisplayName: a.DisplayName, Emails: []string{}, Version: a.Version}
	for _, e := range emails {
		sum.Emails = append(sum.Emails, e.Address)
	}
	return sum, nil
}

// Merge uses the key and merges its account into survivorID, in one
// transaction: the key consumed, the merge (its record, account.merged)
// and merge_key.used. actor is recorded with the merge ("account:<id>").
func (s *Service) Merge(ctx context.Context, survivorID, key, actor string) (identity.MergeRecord, error) {
	return s.MergeSeen(ctx, survivorID, key, actor, Versions{})
}

// MergeSeen is Merge refusing (with an *accounts.StaleError, the key left
// unused) when an account changed since the preview: seen holds the
// versions the preview showed; a zero version is not checked.
func (s *Service) MergeSeen(ctx context.Context, survivorID, key, actor string, seen Versions) (identity.MergeRecord, error) {
	hash, ok := parseKey(key)
	if !ok {
		return identity.MergeRecord{}, ErrInvalidKey
	}
	var rec identity.MergeRecord
	err := s.st.Update(ctx, func(tx store.Tx) error {
		now := s.now()
		tok, err := s.find(ctx, tx, survivorID, hash)
		if err != nil {
			return err
		}
		// Lock both accounts before the key, as Generate does: the
		// same order everywhere, so that no two transactions wait on
		// each other.
		if _, _, err := s.pair(ctx, tx, survivorID, tok.AccountID); err != nil {
			return err
		}
		// Consume decides: of two confirmations of one key, one finds
		// it used.
		used, err := tx.Tokens().Consume(ctx, store.PurposeMergeKey, hash, now)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return ErrInvalidKey
		case err != nil:
			return err
		case used.ID != tok.ID:
			return ErrInvalidKey
		}
		rec, err = s.merger.MergeTx(ctx, tx, accounts.MergeRequest{
			SurvivorID: survivorID, RetiredID: tok.AccountID, Reason: identity.MergeByKey, Actor: actor,
			SurvivorVersion: seen.Survivor, RetiredVersion: seen.Retired,
		})
		if err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{
			Type: EventKeyUsed, Actor: actor, AccountID: tok.AccountID, RequestID: s.reqID(ctx), At: now,
			Data: map[string]any{"token_id": tok.ID, "merge_id": rec.ID, "survivor_id": survivorID},
		})
	})
	return rec, err
}

// MergedUser is an account merged into another, as the survivor lists it
// ("utilisateurs fusionnés").
type MergedUser struct {
	AccountID string
	Login     string
	Name      string
	MergeID   string
	Reason    identity.MergeReason
	MergedAt  time.Time
}

// MergedUsers lists the accounts merged into accountID by standing merges
// (not undone), whatever the reason, newest first.
func (s *Service) MergedUsers(ctx context.Context, accountID string) ([]MergedUser, error) {
	out := []MergedUser{}
	err := s.st.View(ctx, func(tx store.Tx) error {
		merges, err := tx.Merges().ListByAccount(ctx, accountID)
		if err != nil {
			return err
		}
		var ids []string
		for _, m := range merges {
			if m.SurvivorID == accountID && !m.Undone() {
				ids = append(ids, m.RetiredID)
			}
		}
		retired, err := tx.Accounts().GetMany(ctx, ids)
		if err != nil {
			return err
		}
		byID := map[string]identity.Account{}
		for _, a := range retired {
			byID[a.ID] = a
		}
		for _, m := range merges {
			if m.SurvivorID != accountID || m.Undone() {
				continue
			}
			a := byID[m.RetiredID]
			name := a.DisplayName
			if name == "" {
				name = strings.TrimSpace(a.GivenName + " " + a.FamilyName)
			}
			out = append(out, MergedUser{AccountID: m.RetiredID, Login: a.Login, Name: name, MergeID: m.ID,
				Reason: m.Reason, MergedAt: m.CreatedAt})
		}
		return nil
	})
	return out, err
}
