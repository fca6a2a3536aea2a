package ingest

import (
	"context"
	"fmt"

	"github.com/canonid/canonid/connectors"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// Outcome is what Apply did with one entry.
type Outcome struct {
	// Op is create, link, update, restore, unchanged or error.
	Op        string
	AccountID string
	// By is the correlation rule that linked the entry (Op link).
	By identity.LookupKind
	// Errors say why the entry was refused (Op error): each names the
	// field and value at fault.
	Errors []EntryError
	Fields []FieldChange
}

// Apply plans and writes one entry inside tx, the caller's transaction, so
// that the caller can check its own preconditions (a SCIM ETag) and make
// further changes atomically with it. An entry without a link yet is linked
// to target when target is set, without correlation; otherwise it is
// correlated as in a run. An entry refused (a login or address owned by
// another account, a mapping error) writes nothing and comes back as Op
// error with its reasons, not as an error; an error is a storage failure.
func (in *Ingester) Apply(ctx context.Context, tx store.Tx, e connectors.Entry, target string, opts Options) (Outcome, error) {
	r := in.Start(opts)
	if target != "" {
		r.targets = map[string]string{e.ExternalID: target}
	}
	acts, err := r.plan(ctx, tx, []connectors.Entry{e})
	if err != nil {
		return Outcome{}, err
	}
	a := acts[0]
	out := Outcome{AccountID: a.accountID, By: a.by, Errors: a.errs, Fields: a.fields}
	switch a.kind {
	case actError:
		return Outcome{Op: "error", Errors: a.errs}, nil
	case actUnchanged:
		out.Op = "unchanged"
		return out, nil
	}
	out.Op = actionOps[a.kind]
	if opts.DryRun {
		return out, nil
	}
	if err := r.apply(ctx, tx, acts); err != nil {
		return Outcome{}, err
	}
	return out, nil
}

// Leave ends the identity externalID of the source inside tx: its link is
// marked gone, or deleted when remove is set (a SCIM DELETE), and its
// account is suspended when that was its last active link (Config.OnGone).
// It reports whether the account was suspended; store.ErrNotFound when the
// source has no such link.
func (in *Ingester) Leave(ctx context.Context, tx store.Tx, externalID string, remove bool, opts Options) (bool, error) {
	r := in.Start(opts)
	l, err := tx.Links().Get(ctx, in.src.Name, externalID)
	if err != nil {
		return false, fmt.Errorf("link %s/%s: %w", in.src.Name, externalID, err)
	}
	changes, err := r.leave(ctx, tx, l, remove)
	if err != nil {
		return false, err
	}
	for _, c := range changes {
		if c.Op == "suspend" {
			return true, nil
		}
	}
	return false, nil
}
