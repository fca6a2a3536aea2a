package propagate

import (
	"context"
	"fmt"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// Reconciler is an AccountTarget that can list its remote side and repair
// what drifted from canonid (a SCIM provider where someone edited users by
// hand, a user deleted by mistake).
type Reconciler interface {
	// Reconcile compares the remote side with want (every account in the
	// target's scope, retired ones included) and, unless dryRun, repairs
	// it; remotes are the remote states the dispatcher keeps, by account.
	Reconcile(ctx context.Context, want []Account, remotes map[string]Remote, dryRun bool) (ReconcileReport, error)
}

// ReconcileReport says what a reconciliation found, and did unless it was
// a dry run.
type ReconcileReport struct {
	DryRun bool `json:"dry_run"`
	// Checked counts the accounts compared.
	Checked int `json:"checked"`
	// Missing are the accounts without a remote entry (created unless dry
	// run); Differing those whose entry differs, with the fields.
	Missing   []string            `json:"missing"`
	Differing map[string][]string `json:"differing"`
	// Unknown are remote entries that hold no account of canonid:
	// reported, never deleted.
	Unknown []string `json:"unknown"`
}

// allStatuses lists every account status, merged included: a retired
// account's remote entry is reconciled too.
var allStatuses = []identity.Status{identity.StatusPendingActivation, identity.StatusPendingValidation,
	identity.StatusActive, identity.StatusSuspended, identity.StatusMerged}

// Reconcile runs a full reconciliation of target r configured by cfg: it
// reads every account in scope and the remote states, and hands them to r.
// It writes nothing to the store: the remote side is repaired to the
// state the dispatcher would write, so its bookkeeping stays true.
func Reconcile(ctx context.Context, st store.Store, cfg TargetConfig, r Reconciler, dryRun bool) (ReconcileReport, error) {
	rn := &runner{cfg: cfg}
	var want []Account
	remotes := map[string]Remote{}
	err := st.View(ctx, func(tx store.Tx) error {
		after := ""
		for {
			page, err := tx.Accounts().List(ctx, store.AccountQuery{Statuses: allStatuses, After: after, Limit: 500})
			if err != nil {
				return err
			}
			if len(page) == 0 {
				break
			}
			ids := make([]string, len(page))
			for i, a := range page {
				ids[i] = a.ID
			}
			after = ids[len(ids)-1]
			got, err := Load(ctx, tx, ids)
			if err != nil {
				return err
			}
			for _, id := range ids {
				if a, ok := got[id]; ok && rn.inScope(a) {
					want = append(want, a)
				}
			}
		}
		after = ""
		for {
			page, err := tx.Propagation().RemotesAfter(ctx, cfg.Name, after, 1000)
			if err != nil {
				return err
			}
			for _, rs := range page {
				remotes[rs.AccountID] = Remote{ID: rs.RemoteID, Hash: rs.Hash, RetiredAt: rs.RetiredAt}
				after = rs.AccountID
			}
			if len(page) < 1000 {
				return nil
			}
		}
	})
	if err != nil {
		return ReconcileReport{}, fmt.Errorf("reconcile %s: read accounts: %w", cfg.Name, err)
	}
	rep, err := r.Reconcile(ctx, want, remotes, dryRun)
	rep.DryRun, rep.Checked = dryRun, len(want)
	if err != nil {
		return rep, fmt.Errorf("reconcile %s: %w", cfg.Name, err)
	}
	return rep, nil
}
