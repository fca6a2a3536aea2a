package accounts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// EventDuplicateDismissed is recorded when a pair is marked "not a duplicate".
const EventDuplicateDismissed = "duplicate.dismissed"

// Suggestion is a pair of live accounts that look like one person.
type Suggestion struct {
	A, B  identity.Account
	Score identity.Score
}

// DuplicateReport is the result of a duplicate run.
type DuplicateReport struct {
	Suggestions []Suggestion
	Pairs       int // candidate pairs scored
	Dismissed   int // pairs left out because someone decided "not a duplicate"
}

// Duplicates scores every candidate pair (accounts sharing a blocking key
// held by at most identity.DefaultMaxBlock accounts) and returns those at
// or above the threshold, best first, leaving out dismissed pairs. With
// accountID set, only that account's candidates are scored.
func (s *Service) Duplicates(ctx context.Context, accountID string) (DuplicateReport, error) {
	var rep DuplicateReport
	err := s.st.View(ctx, func(tx store.Tx) error {
		dismissed, err := tx.Duplicates().Dismissed(ctx)
		if err != nil {
			return err
		}
		var pairs [][2]string
		if accountID != "" {
			a, err := tx.Accounts().Resolve(ctx, accountID)
			if err != nil {
				return err
			}
			cands, err := tx.Duplicates().Candidates(ctx, a.ID, identity.DefaultMaxBlock)
			if err != nil {
				return err
			}
			for id := range cands {
				pairs = append(pairs, [2]string{a.ID, id})
			}
			slices.SortFunc(pairs, func(x, y [2]string) int { return compare(x[1], y[1]) })
		} else {
			blocks := map[string][]string{}
			if err := tx.Duplicates().Blocks(ctx, identity.DefaultMaxBlock, func(key string, ids []string) error {
				blocks[key] = ids
				return nil
			}); err != nil {
				return err
			}
			pairs = identity.Pairs(blocks, identity.DefaultMaxBlock)
		}
		// Load every candidate at once: one query per 500 accounts rather
		// than two per account.
		var ids []string
		seen := map[string]bool{}
		for _, p := range pairs {
			for _, id := range p {
				if !seen[id] && !dismissed[identity.PairKey(p[0], p[1])] {
					seen[id] = true
					ids = append(ids, id)
				}
			}
		}
		accs, err := tx.Accounts().GetMany(ctx, ids)
		if err != nil {
			return err
		}
		emails, err := tx.Emails().ListByAccounts(ctx, ids)
		if err != nil {
			return err
		}
		cache := make(map[string]identity.Candidate, len(accs))
		for _, a := range accs {
			cache[a.ID] = identity.Candidate{Account: a, Emails: emails[a.ID]}
		}
		load := func(id string) (identity.Candidate, error) {
			c, ok := cache[id]
			if !ok {
				return c, fmt.Errorf("duplicates: account %s: %w", id, store.ErrNotFound)
			}
			return c, nil
		}
		for _, p := range pairs {
			if dismissed[identity.PairKey(p[0], p[1])] {
				rep.Dismissed++
				continue
			}
			a, err := load(p[0])
			if err != nil {
				return err
			}
			b, err := load(p[1])
			if err != nil {
				return err
			}
			rep.Pairs++
			if score := identity.ScorePair(a, b); identity.Suggest(score) {
				rep.Suggestions = append(rep.Suggestions, Suggestion{A: a.Account, B: b.Account, Score: score})
			}
		}
		return nil
	})
	slices.SortStableFunc(rep.Suggestions, func(x, y Suggestion) int {
		switch {
		case x.Score.Value > y.Score.Value:
			return -1
		case x.Score.Value < y.Score.Value:
			return 1
		}
		return compare(identity.PairKey(x.A.ID, x.B.ID), identity.PairKey(y.A.ID, y.B.ID))
	})
	return rep, err
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Dismiss records that two accounts are not the same person: the pair is
// no longer suggested.
func (s *Service) Dismiss(ctx context.Context, a, b, actor string) error {
	if a == "" || b == "" || a == b {
		return fmt.Errorf("%w: two different account ids are required", ErrInvalid)
	}
	return s.st.Update(ctx, func(tx store.Tx) error {
		for _, id := range []string{a, b} {
			if _, err := tx.Accounts().Get(ctx, id); err != nil {
				return err
			}
		}
		if err := tx.Duplicates().Dismiss(ctx, a, b, actor, s.now()); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: EventDuplicateDismissed, Actor: actor, AccountID: a,
			Data: map[string]string{"account_a": a, "account_b": b}})
	})
}

// Reindex recomputes the blocking keys of every account (after an upgrade
// from a version without them).
func (s *Service) Reindex(ctx context.Context) error {
	return s.st.Update(ctx, func(tx store.Tx) error { return tx.Duplicates().Reindex(ctx) })
}

// AutoMergeConfig is the rule-based auto-merge policy (policies.auto_merge).
// It is off by default: duplicates are only suggested.
type AutoMergeConfig struct {
	// Enabled turns the rule on.
	Enabled bool `yaml:"enabled"`
	// MinScore is the score at or above which a suggestion is merged
	// (default 0.95, never below identity.DuplicateThreshold).
	MinScore float64 `yaml:"min_score"`
	// Require lists match fields that must all be among the matches, e.g.
	// [ine] to merge only pairs sharing a national student id.
	Require []string `yaml:"require"`
}

// Validate reports every problem, each prefixed with its key.
func (c AutoMergeConfig) Validate() error {
	var errs []error
	if c.Enabled && (c.MinScore < identity.DuplicateThreshold || c.MinScore > 1) {
		errs = append(errs, fmt.Errorf("min_score: must be between %.2f and 1, got %.2f", identity.DuplicateThreshold, c.MinScore))
	}
	for i, f := range c.Require {
		if strings.TrimSpace(f) == "" {
			errs = append(errs, fmt.Errorf("require[%d]: empty field name", i))
		}
	}
	return errors.Join(errs...)
}

// qualifies reports whether a suggestion meets the rule.
func (c AutoMergeConfig) qualifies(s Suggestion) bool {
	if !c.Enabled || s.Score.Value < c.MinScore {
		return false
	}
	matched := map[string]bool{}
	for _, m := range s.Score.Matches {
		if m.Conflict() {
			return false
		}
		matched[m.Field] = true
	}
	for _, f := range c.Require {
		if !matched[f] {
			return false
		}
	}
	return true
}

// SuggestSurvivor picks the account to keep in a pair: the one whose best
// source ranks better under the precedence, then the older one.
func SuggestSurvivor(p identity.Precedence, a, b identity.Account) (survivor, retired identity.Account) {
	best := func(x identity.Account) int {
		r := p.Rank("", "")
		for field, src := range x.Provenance {
			r = min(r, p.Rank(field, src))
		}
		return r
	}
	ra, rb := best(a), best(b)
	if rb < ra || (rb == ra && b.CreatedAt.Before(a.CreatedAt)) {
		return b, a
	}
	return a, b
}

// AutoMerge applies the auto-merge rule to the suggestions of one account
// (accountID set) or of every account, and returns the merges it made. With
// the rule off it does nothing.
func (s *Service) AutoMerge(ctx context.Context, accountID string) ([]identity.MergeRecord, error) {
	if !s.cfg.AutoMerge.Enabled {
		return nil, nil
	}
	rep, err := s.Duplicates(ctx, accountID)
	if err != nil {
		return nil, err
	}
	var out []identity.MergeRecord
	for _, sug := range rep.Suggestions {
		if !s.cfg.AutoMerge.qualifies(sug) {
			continue
		}
		survivor, retired := SuggestSurvivor(s.cfg.Precedence, sug.A, sug.B)
		rec, err := s.Merge(ctx, MergeRequest{SurvivorID: survivor.ID, RetiredID: retired.ID, Reason: identity.MergeByRule,
			Actor: "system:auto-merge", SurvivorVersion: survivor.Version, RetiredVersion: retired.Version})
		var stale *StaleError
		switch {
		case errors.Is(err, ErrMergeConflict), errors.As(err, &stale):
			continue // an earlier merge of this run changed one of them
		case err != nil:
			return out, err
		}
		out = append(out, rec)
	}
	return out, nil
}
