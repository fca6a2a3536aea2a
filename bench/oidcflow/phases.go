package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/canonid/canonid/oidc"
	"github.com/canonid/canonid/store"
)

// The timed phases. At each concurrency level each runs with that many
// workers, each worker sending one request after the other.
const (
	// phaseRefTx is the store reference: one Update that inserts one
	// oidc_tokens row (an access token) and records one event, called in
	// process, no HTTP.
	phaseRefTx = "ref-tx"
	// phaseCode is POST /oidc/token grant_type=authorization_code with the
	// PKCE code_verifier, for codes made before the clock starts.
	phaseCode = "code"
	// phaseRefresh is POST /oidc/token grant_type=refresh_token, each
	// worker sending the refresh token the previous answer gave it.
	phaseRefresh = "refresh"
	// phaseRefHTTP is the HTTP reference: a form POST, as large as a token
	// request and with the same client authentication header, to a trivial
	// handler on the same server, through the same middleware.
	phaseRefHTTP = "ref-http"
)

// allPhases is the order the phases run in at each level.
var allPhases = []string{phaseRefTx, phaseCode, phaseRefresh, phaseRefHTTP}

// eventReference is the event the store reference records.
const eventReference = "bench.reference"

// maxErrors is how many failure messages a phase keeps (all are counted).
const maxErrors = 5

// errRanOut stops a worker of a phase run for a duration that used every
// code made for it.
var errRanOut = errors.New("no code left")

// job is one request of a phase, by worker w (0 ≤ w < level) and rank i
// in the phase (0, 1, 2… across workers). It returns how long the request
// took (the caller times nothing), the ID token to verify when there is
// one, and an error when the request failed (it is counted, and the worker
// goes on) or, wrapping errRanOut, when the worker must stop.
type job func(ctx context.Context, w, i int, buf *bytes.Buffer) (time.Duration, *issued, error)

// outcome is what the workers of a phase did.
type outcome struct {
	lat      []time.Duration // of the requests that succeeded
	requests int
	failed   int
	errors   []string
	tokens   []issued
	ranOut   bool
	wall     time.Duration
}

// drive runs do with level workers: n requests in all, or, when d > 0, as
// many as they send in d. Each worker has its own buffer, and the
// latencies and ID tokens of its own, merged at the end.
func drive(ctx context.Context, level, n int, d time.Duration, do job, tick func(int)) outcome {
	type local struct {
		lat    []time.Duration
		tokens []issued
		failed int
		ranOut bool
	}
	locals := make([]local, level)
	var next, done atomic.Int64
	var mu sync.Mutex
	var errs []string
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for w := range level {
		wg.Go(func() {
			var buf bytes.Buffer
			l := &locals[w]
			for ctx.Err() == nil {
				if d > 0 && !time.Now().Before(deadline) {
					return
				}
				i := int(next.Add(1) - 1)
				if d <= 0 && i >= n {
					return
				}
				took, tok, err := do(ctx, w, i, &buf)
				if errors.Is(err, errRanOut) {
					l.ranOut = true
					return
				}
				if err != nil {
					l.failed++
					mu.Lock()
					if len(errs) < maxErrors {
						errs = append(errs, fmt.Sprintf("worker %d, request %d: %v", w, i+1, err))
					}
					mu.Unlock()
				} else {
					l.lat = append(l.lat, took)
					if tok != nil {
						l.tokens = append(l.tokens, *tok)
					}
				}
				tick(int(done.Add(1)))
			}
		})
	}
	wg.Wait()
	out := outcome{wall: time.Since(start), errors: errs}
	for _, l := range locals {
		out.lat = append(out.lat, l.lat...)
		out.tokens = append(out.tokens, l.tokens...)
		out.failed += l.failed
		out.ranOut = out.ranOut || l.ranOut
	}
	out.requests = len(out.lat) + out.failed
	return out
}

// codeJob exchanges grants[i]: a code is used once, whichever worker
// takes it.
func (s *service) codeJob(grants []grant) job {
	return func(ctx context.Context, _, i int, buf *bytes.Buffer) (time.Duration, *issued, error) {
		if i >= len(grants) {
			return 0, nil, errRanOut
		}
		g := grants[i]
		status, took, err := s.postForm(ctx, oidc.PathToken, exchangeForm(g), buf)
		if err != nil {
			return took, nil, err
		}
		tr, err := checkTokens(status, buf.Bytes())
		if err != nil {
			return took, nil, err
		}
		return took, &issued{idToken: tr.IDToken, sub: g.who.id, email: g.who.email, nonce: g.nonce}, nil
	}
}

// refreshJob refreshes the chain of worker w and keeps the refresh token
// the answer gives; after a failure the worker sends the same token again
// (the provider accepts a used one again within refresh_reuse_grace, for a
// client that lost the answer).
func (s *service) refreshJob(chains []chain) job {
	return func(ctx context.Context, w, _ int, buf *bytes.Buffer) (time.Duration, *issued, error) {
		c := &chains[w]
		status, took, err := s.postForm(ctx, oidc.PathToken, refreshForm(c.token), buf)
		if err != nil {
			return took, nil, err
		}
		tr, err := checkTokens(status, buf.Bytes())
		if err != nil {
			return took, nil, err
		}
		if tr.RefreshToken == c.token {
			return took, nil, errors.New("the refresh token was not rotated")
		}
		c.token = tr.RefreshToken
		return took, &issued{idToken: tr.IDToken, sub: c.who.id, email: c.who.email}, nil
	}
}

// echoJob is the HTTP reference: a form the size of a code exchange's,
// with the client's Authorization header, to the trivial handler.
func (s *service) echoJob() job {
	form := exchangeForm(grant{code: randomString() + randomString() + randomString(), verifier: randomString() + randomString()})
	return func(ctx context.Context, _, _ int, buf *bytes.Buffer) (time.Duration, *issued, error) {
		status, took, err := s.postForm(ctx, pathEcho, form, buf)
		if err == nil && (status != http.StatusOK || !bytes.Contains(buf.Bytes(), []byte(`"ok":true`))) {
			err = fmt.Errorf("status %d: %.200s", status, buf.Bytes())
		}
		return took, nil, err
	}
}

// refTxJob is the store reference: the write a code exchange commits,
// reduced to one row and one event. The rows are access tokens of the
// accounts in turn, of a grant of their own, as the provider writes them.
func refTxJob(st store.Store, ppl []person) job {
	return func(ctx context.Context, _, i int, _ *bytes.Buffer) (time.Duration, *issued, error) {
		p := ppl[i%len(ppl)]
		start := time.Now()
		err := st.Update(ctx, func(tx store.Tx) error {
			now := time.Now()
			tok := store.OAuthToken{ID: uuid.NewString(), Kind: store.TokenAccess, FamilyID: uuid.NewString(), AccountID: p.id,
				ClientID: clientID, Scopes: scopes, Audience: []string{clientID}, AMR: []string{"pwd"},
				AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute)}
			if err := tx.OAuthTokens().Create(ctx, &tok); err != nil {
				return err
			}
			return tx.Record(ctx, store.Event{Type: eventReference, Actor: "client:" + clientID, AccountID: p.id,
				Data: map[string]any{"family": tok.FamilyID, "refresh": false, "scopes": tok.Scopes}})
		})
		return time.Since(start), nil, err
	}
}
