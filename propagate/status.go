package propagate

import (
	"context"
	"time"

	"github.com/canonid/canonid/store"
)

// TargetStatus is where a target's delivery stands, for the API, the admin
// console and the metrics.
type TargetStatus struct {
	Name string `json:"name"`
	// Cursor is the outbox sequence delivered up to; Head the last one
	// committed; Lag the difference.
	Cursor int64 `json:"cursor"`
	Head   int64 `json:"head"`
	Lag    int64 `json:"lag"`
	// DeadLetters counts the changes the target refused too often.
	DeadLetters int `json:"dead_letters"`
	// LastError is what holds the target back, if anything.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	DeliveredAt time.Time `json:"delivered_at,omitzero"`
	LeaseOwner  string    `json:"lease_owner,omitempty"`
	LeaseUntil  time.Time `json:"lease_until,omitzero"`
}

// Status reads the status of the named targets (all known ones when names
// is empty).
func Status(ctx context.Context, st store.Store, names []string) ([]TargetStatus, error) {
	var targets []store.PropagationTarget
	var dead map[string]int
	var head int64
	err := st.View(ctx, func(tx store.Tx) error {
		var err error
		if targets, err = tx.Propagation().Targets(ctx); err != nil {
			return err
		}
		if dead, err = tx.Propagation().CountDeadLetters(ctx); err != nil {
			return err
		}
		head, err = tx.Outbox().Head(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	known := map[string]store.PropagationTarget{}
	for _, t := range targets {
		known[t.Name] = t
	}
	if len(names) == 0 {
		for _, t := range targets {
			names = append(names, t.Name)
		}
	}
	out := make([]TargetStatus, 0, len(names))
	for _, n := range names {
		t := known[n]
		s := TargetStatus{Name: n, Cursor: t.Cursor, Head: head, Lag: max(head-t.Cursor, 0), DeadLetters: dead[n],
			LastError: t.LastError, LastErrorAt: t.LastErrorAt, DeliveredAt: t.DeliveredAt,
			LeaseOwner: t.LeaseOwner, LeaseUntil: t.LeaseUntil}
		out = append(out, s)
	}
	return out, nil
}
