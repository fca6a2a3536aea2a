package ldap

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/canonid/canonid/connectors"
)

// resultSyncRefreshRequired is e-syncRefreshRequired (RFC 4533 §2.5): the
// server cannot resume from the cookie and asks for a full refresh.
const resultSyncRefreshRequired = 4096

// Changes reports what changed in the directory since cookie, with a
// Content Synchronization refresh (RFC 4533, refreshOnly). It needs the
// syncprov overlay on the server. Without cookie every entry comes as
// ChangeUpsert and the result is Complete. With one, syncprov either
// replays its session log (deletions as ChangeDelete) or runs a present
// phase (unchanged entries as ChangePresent, the result Complete: the
// entries not reported are gone). A cookie the server can no longer
// resume from starts a full refresh.
func (c *Connector) Changes(ctx context.Context, cookie []byte, fn func(connectors.Change) error) (connectors.ChangeResult, error) {
	res, err := c.refresh(ctx, cookie, c.attrs, fn)
	if len(cookie) > 0 && ldap.IsErrorWithCode(err, resultSyncRefreshRequired) {
		c.log.Info("syncrepl cookie expired, refreshing everything", "url", c.cfg.URL)
		return c.refresh(ctx, nil, c.attrs, fn)
	}
	return res, err
}

// syncScan is ScanIDs with presence "syncrepl": a refresh without cookie
// reading no attribute, the entryUUIDs coming in the Sync State controls.
func (c *Connector) syncScan(ctx context.Context, fn func(string) error) error {
	res, err := c.refresh(ctx, nil, []string{noAttributes}, func(ch connectors.Change) error {
		if ch.Kind == connectors.ChangeDelete {
			return nil
		}
		return fn(ch.ExternalID)
	})
	if err == nil && !res.Complete {
		err = fmt.Errorf("ldap %s: syncrepl refresh without cookie was not complete", c.cfg.URL)
	}
	return err
}

// refresh runs one refreshOnly Content Synchronization search.
func (c *Connector) refresh(ctx context.Context, cookie []byte, attrs []string, fn func(connectors.Change) error) (connectors.ChangeResult, error) {
	result := connectors.ChangeResult{Cookie: cookie}
	conn, err := c.connect(ctx)
	if err != nil {
		return result, err
	}
	defer conn.Close()
	if err := c.checkSync(ctx, conn); err != nil {
		return result, err
	}

	req := ldap.NewSearchRequest(c.cfg.BaseDN, c.scope, ldap.NeverDerefAliases, 0, 0, false,
		c.cfg.Filter, attrs, []ldap.Control{ldap.NewControlSyncRequest(ldap.SyncRequestModeRefreshOnly, cookie, false)})
	var (
		next    = cookie
		done    bool
		present bool // the refresh ended with a present phase
	)
	setCookie := func(v []byte) {
		if len(v) > 0 {
			next = v
		}
	}
	err = c.each(ctx, conn, req, func(r ldap.Response) error {
		if e := r.Entry(); e != nil {
			state, ok := ldap.FindControl(r.Controls(), ldap.ControlTypeSyncState).(*ldap.ControlSyncState)
			if !ok {
				return fmt.Errorf("ldap %s: syncrepl entry %s without Sync State control", c.cfg.URL, e.DN)
			}
			setCookie(state.Cookie)
			id := state.EntryUUID.String()
			switch state.State {
			case ldap.SyncStateAdd, ldap.SyncStateModify:
				entry, _ := c.entry(e)
				entry.ExternalID = id
				return fn(connectors.Change{Kind: connectors.ChangeUpsert, ExternalID: id, Entry: entry})
			case ldap.SyncStatePresent:
				return fn(connectors.Change{Kind: connectors.ChangePresent, ExternalID: id})
			case ldap.SyncStateDelete:
				return fn(connectors.Change{Kind: connectors.ChangeDelete, ExternalID: id})
			default:
				return fmt.Errorf("ldap %s: syncrepl entry %s: unknown state %d", c.cfg.URL, e.DN, state.State)
			}
		}
		for _, ctl := range r.Controls() {
			switch ctl := ctl.(type) {
			case *ldap.ControlSyncInfo:
				switch {
				case ctl.NewCookie != nil:
					setCookie(ctl.NewCookie.Cookie)
				case ctl.RefreshPresent != nil:
					setCookie(ctl.RefreshPresent.Cookie)
				case ctl.RefreshDelete != nil:
					setCookie(ctl.RefreshDelete.Cookie)
				case ctl.SyncIdSet != nil:
					setCookie(ctl.SyncIdSet.Cookie)
					kind := connectors.ChangePresent
					if ctl.SyncIdSet.RefreshDeletes {
						kind = connectors.ChangeDelete
					}
					for _, id := range ctl.SyncIdSet.SyncUUIDs {
						if err := fn(connectors.Change{Kind: kind, ExternalID: id.String()}); err != nil {
							return err
						}
					}
				}
			case *ldap.ControlSyncDone:
				done = true
				setCookie(ctl.Cookie)
				// refreshDeletes FALSE: the refresh was a present
				// phase, whatever was not reported is gone.
				present = !ctl.RefreshDeletes
			}
		}
		return nil
	})
	if err != nil {
		return result, err
	}
	if !done {
		return result, fmt.Errorf("ldap %s: syncrepl refresh ended without Sync Done control", c.cfg.URL)
	}
	result.Cookie = next
	result.Complete = len(cookie) == 0 || present
	return result, nil
}

// checkSync fails with errNoSync unless the root DSE lists the Sync
// Request control among its supported controls.
func (c *Connector) checkSync(ctx context.Context, conn *ldap.Conn) error {
	req := ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, c.timeLimit(), false,
		"(objectClass=*)", []string{"supportedControl"}, nil)
	res, err := c.search(ctx, conn, req)
	if err != nil {
		return fmt.Errorf("ldap %s: read root DSE: %w", c.cfg.URL, err)
	}
	for _, e := range res.Entries {
		for _, oid := range e.GetAttributeValues("supportedControl") {
			if oid == ldap.ControlTypeSyncRequest {
				return nil
			}
		}
	}
	return fmt.Errorf("ldap %s: %w: root DSE does not list control %s", c.cfg.URL, ErrNoSyncrepl, ldap.ControlTypeSyncRequest)
}

// ErrNoSyncrepl is wrapped by the errors of Changes, and of ScanIDs with
// presence "syncrepl", on a server that does not offer Content
// Synchronization.
var ErrNoSyncrepl = errors.New("server does not offer syncrepl (syncprov overlay)")

// searchBuffer is how many results SearchAsync queues for a refresh.
const searchBuffer = 64

// each runs req with go-ldap's SearchAsync on conn and calls fn for every
// result. Each wait for the server's next message is bounded by
// cfg.Timeout; the time fn takes is not.
func (c *Connector) each(ctx context.Context, conn *ldap.Conn, req *ldap.SearchRequest, fn func(ldap.Response) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var timedOut atomic.Bool
	timer := time.AfterFunc(c.cfg.Timeout, func() {
		timedOut.Store(true)
		cancel()
	})
	defer timer.Stop()

	// go-ldap drops a message it cannot hand over within the request
	// timeout, and fails requests that last longer: a slow fn would lose
	// entries. The search runs without it; the timer above replaces it.
	conn.SetTimeout(0)
	defer conn.SetTimeout(c.cfg.Timeout)

	r := conn.SearchAsync(ctx, req, searchBuffer)
	for {
		timer.Reset(c.cfg.Timeout)
		more := r.Next()
		timer.Stop()
		if !more {
			break
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := r.Err(); err != nil {
		return fmt.Errorf("ldap %s: search %s: %w", c.cfg.URL, req.BaseDN, err)
	}
	if timedOut.Load() {
		return fmt.Errorf("ldap %s: search %s: no answer within %s", c.cfg.URL, req.BaseDN, c.cfg.Timeout)
	}
	// SearchAsync ends silently when ctx is cancelled.
	return ctx.Err()
}
