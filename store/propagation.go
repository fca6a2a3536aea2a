package store

import (
	"context"
	"errors"
	"time"
)

// This file holds the bookkeeping of propagation (package propagate): per
// downstream target, how far in the outbox it has been delivered, who holds
// its lease, what was last written for each account, and the dead letters.
//
// Lease, Commit and Release are bookkeeping of the dispatcher and need no
// event: the outbox itself is the record of the changes they deliver.
// RetryDeadLetters is an operator's decision and is a change: the
// transaction must record an event.

// ErrLeaseLost: the caller no longer holds the target's lease (it expired
// and another dispatcher took it); nothing was written.
var ErrLeaseLost = errors.New("propagation lease lost")

// PropagationTarget is where one target's delivery stands.
type PropagationTarget struct {
	Name string
	// Cursor is the outbox sequence number delivered up to.
	Cursor int64
	// LeaseOwner holds the lease until LeaseUntil.
	LeaseOwner string
	LeaseUntil time.Time
	// LastError is the error that holds the target back (unreachable,
	// throttling), empty when it is healthy; LastErrorAt is when it was
	// last seen.
	LastError   string
	LastErrorAt time.Time
	// DeliveredAt is when a change was last delivered.
	DeliveredAt time.Time
	// DeliveredThrough is the At of the last outbox event delivered, for
	// the lag.
	DeliveredThrough time.Time
}

// RemoteState is what a target remembers of one account.
type RemoteState struct {
	AccountID string
	RemoteID  string
	// Hash is the hash of the state last written.
	Hash string
	// RetiredAt: written as retired (merged) at that time; zero otherwise.
	RetiredAt time.Time
	UpdatedAt time.Time
}

// DeadLetter is a change a target refused more times than allowed. For an
// account target it stands for the account (its current state is what a
// retry writes); for an event target, for one outbox event.
type DeadLetter struct {
	ID     int64
	Target string
	// AccountID is set for account targets, Seq for event targets.
	AccountID string
	Seq       int64
	EventType string
	Attempts  int
	LastError string
	// Retry: an operator asked for another attempt.
	Retry     bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// DeadLetterQuery selects dead letters, newest first.
type DeadLetterQuery struct {
	Target string // empty: every target
	Retry  bool   // only those marked for retry
	Before int64  // cursor: ids below it
	Limit  int    // 0 means 100
}

// PropagationProgress is what a dispatcher stores after a batch, at once.
type PropagationProgress struct {
	Target, Owner string
	// Now is the time the lease is checked against (zero: the current
	// time).
	Now time.Time
	// Cursor moves forward (never back).
	Cursor int64
	// LeaseUntil renews the lease.
	LeaseUntil time.Time
	// Put upserts remote states; Forget removes those of these accounts.
	Put    []RemoteState
	Forget []string
	// Dead upserts dead letters: one per (target, account) or (target,
	// seq), counting attempts. ClearAccounts and ClearSeqs remove the dead
	// letters of these accounts and events (delivered since).
	Dead          []DeadLetter
	ClearAccounts []string
	ClearSeqs     []int64
	// LastError replaces the target's error ("" clears it).
	LastError string
	// DeliveredAt/DeliveredThrough are set when non-zero.
	DeliveredAt      time.Time
	DeliveredThrough time.Time
}

// Propagation is the dispatcher's bookkeeping.
type Propagation interface {
	// Lease gives owner the lease of target until until, if it is free,
	// expired, or already owner's, creating the target at cursor 0 when
	// new. It returns the target and whether owner now holds it.
	Lease(ctx context.Context, target, owner string, now, until time.Time) (PropagationTarget, bool, error)
	// Release gives the lease up, if owner holds it.
	Release(ctx context.Context, target, owner string) error
	// Commit stores p if p.Owner still holds the lease (ErrLeaseLost
	// otherwise, and nothing is written).
	Commit(ctx context.Context, p PropagationProgress) error
	// Targets lists the targets known, by name.
	Targets(ctx context.Context) ([]PropagationTarget, error)
	// Remotes returns the remote states of these accounts on target.
	Remotes(ctx context.Context, target string, accountIDs []string) (map[string]RemoteState, error)
	// RemotesAfter pages through every remote state of target, by account
	// id after the cursor (0 limit means 1000).
	RemotesAfter(ctx context.Context, target, after string, limit int) ([]RemoteState, error)
	// RetiredBefore lists remote states written as retired before t.
	RetiredBefore(ctx context.Context, target string, t time.Time, limit int) ([]RemoteState, error)
	// DeadLetters lists dead letters.
	DeadLetters(ctx context.Context, q DeadLetterQuery) ([]DeadLetter, error)
	// CountDeadLetters counts the dead letters per target.
	CountDeadLetters(ctx context.Context) (map[string]int, error)
	// RetryDeadLetters marks the dead letters with these ids of target
	// (every one of target when ids is empty) for another attempt, and
	// returns how many it marked. A change: record an event.
	RetryDeadLetters(ctx context.Context, target string, ids []int64) (int, error)
}
