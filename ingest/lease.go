package ingest

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/canonid/canonid/store"
)

// DefaultLeaseTTL is how long a connector's lease lasts without renewal.
const DefaultLeaseTTL = 5 * time.Minute

// lease is a connector's lease, held by one run (sync or import) so that
// one run per connector goes on at a time, across processes.
type lease struct {
	in        *Ingester
	connector string
	owner     string
	ttl       time.Duration
	renewed   time.Time
	err       error // a renewal that failed: the run must stop
}

// acquire takes the connector's lease (a *store.LeaseHeldError when another
// owner holds it) and returns it with the connector's state.
func (in *Ingester) acquire(ctx context.Context, connector, owner string, ttl time.Duration) (*lease, store.SyncState, error) {
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	l := &lease{in: in, connector: connector, owner: owner, ttl: ttl, renewed: in.now()}
	var state store.SyncState
	err := in.st.Update(ctx, func(tx store.Tx) error {
		var err error
		state, err = tx.SyncStates().Acquire(ctx, connector, owner, l.renewed, l.renewed.Add(ttl))
		var held *store.LeaseHeldError
		if errors.As(err, &held) && deadOwner(held.Owner) {
			// The holder was a process of this host that died (killed,
			// crashed) without releasing the lease: waiting for the lease
			// to run out would only delay the next run.
			in.log.WarnContext(ctx, "taking over the lease of a process that is gone", "connector", connector, "owner", held.Owner)
			if err := tx.SyncStates().Release(ctx, connector, held.Owner); err != nil {
				return err
			}
			state, err = tx.SyncStates().Acquire(ctx, connector, owner, l.renewed, l.renewed.Add(ttl))
		}
		return err
	})
	return l, state, err
}

// deadOwner tells whether a lease owner ("host:pid", as canonid names
// them) is a process of this host that no longer runs.
func deadOwner(owner string) bool {
	host, pidText, ok := strings.Cut(owner, ":")
	if !ok {
		return false
	}
	pid, err := strconv.Atoi(pidText)
	if me, herr := os.Hostname(); herr != nil || err != nil || host != me || pid <= 0 || pid == os.Getpid() {
		return false
	}
	return !processAlive(pid)
}

// renew extends the lease once a third of its time has passed; called as
// batches commit. A failure is kept in l.err.
func (l *lease) renew(ctx context.Context) {
	now := l.in.now()
	if l.err != nil || now.Sub(l.renewed) <= l.ttl/3 {
		return
	}
	l.renewed = now
	l.err = l.in.st.Update(ctx, func(tx store.Tx) error {
		_, err := tx.SyncStates().Acquire(ctx, l.connector, l.owner, now, now.Add(l.ttl))
		return err
	})
}

// release ends the lease, even when ctx is cancelled.
func (l *lease) release(ctx context.Context) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := l.in.st.Update(rctx, func(tx store.Tx) error { return tx.SyncStates().Release(rctx, l.connector, l.owner) }); err != nil {
		l.in.log.WarnContext(ctx, "releasing the connector lease failed", "connector", l.connector, "err", err)
	}
}
