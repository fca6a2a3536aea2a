package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/ingest"
	"github.com/canonid/canonid/scim"
	"github.com/canonid/canonid/server"
	"github.com/canonid/canonid/store"
)

// benchActor is the actor of the events the harness itself records.
const benchActor = "bench"

// service is canonid's HTTP server with SCIM mounted, as cmd/canonid wires
// it, on a loopback listener.
type service struct {
	http   *httptest.Server
	base   string            // the absolute URL of /scim/v2
	tokens map[string]string // bearer tokens by client name
	client *http.Client
}

// scimConfig is the SCIM configuration of the run: each client set up as
// docs/scim.md sets up Entra ID (correlation on the address and the
// employee number, addresses verified, new accounts active, a gone user
// suspended; no org), and the rate limit raised out of the way: the
// default, 50 requests a second per token, would be all that is measured.
func scimConfig(clients []string) scim.Config {
	cfg := scim.DefaultConfig()
	cfg.Rate, cfg.Burst = 1e9, 1<<30
	yes := true
	for _, name := range clients {
		cfg.Clients = append(cfg.Clients, scim.Client{
			Name:          name,
			Correlate:     []ingest.CorrelateRule{ingest.Rule(identity.LookupEmail), {Key: identity.LookupEmpID, Auto: true}},
			EmailVerified: &yes, NewAccountStatus: identity.StatusActive, OnGone: ingest.GoneSuspend,
		})
	}
	return cfg
}

// startService starts the server on st and creates, through the store, an
// API token of role scim for each client (one event each).
func startService(ctx context.Context, st store.Store, clients []string, logger *slog.Logger) (_ *service, err error) {
	srv := server.New(server.DefaultConfig(), server.Deps{Logger: logger, Ready: st, Tokens: server.StoreTokens{Store: st}})
	ts := httptest.NewUnstartedServer(srv.Handler())
	s := &service{http: ts, base: "http://" + ts.Listener.Addr().String() + server.SCIMPrefix, tokens: map[string]string{}}
	defer func() {
		if err != nil {
			ts.Close()
		}
	}()
	cfg := scimConfig(clients)
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("scim configuration: %w", err)
	}
	sc, err := scim.New(cfg, scim.Deps{
		Store: st, Precedence: identity.DefaultPrecedence(), Logger: logger,
		Caller: server.Caller, BaseURL: s.base,
	})
	if err != nil {
		return nil, err
	}
	sc.Mount(srv.SCIMGroup())
	ts.Start()
	s.client = &http.Client{Transport: &http.Transport{
		MaxIdleConns: 64, MaxIdleConnsPerHost: 64, DisableCompression: true,
	}}
	for _, name := range clients {
		tok, hash, err := server.GenerateAPIToken()
		if err != nil {
			return nil, err
		}
		err = st.Update(ctx, func(tx store.Tx) error {
			if err := tx.APITokens().Create(ctx, &store.APIToken{Name: name, Role: store.RoleSCIM, Hash: hash}); err != nil {
				return err
			}
			return tx.Record(ctx, store.Event{Type: "api_token.created", Actor: benchActor, Data: map[string]string{"name": name}})
		})
		if err != nil {
			return nil, fmt.Errorf("token for %s: %w", name, err)
		}
		s.tokens[name] = tok
	}
	return s, nil
}

func (s *service) close() {
	s.client.CloseIdleConnections()
	s.http.Close()
}

// send sends method base+path with body as client, reads the whole answer
// into buf, and returns its status and the time from sending the request
// to having read the answer.
func (s *service) send(ctx context.Context, client, method, path string, body []byte, buf *bytes.Buffer) (int, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+s.tokens[client])
	req.Header.Set("Content-Type", "application/scim+json")
	req.Header.Set("Accept", "application/scim+json")
	start := time.Now()
	res, err := s.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer res.Body.Close()
	buf.Reset()
	_, err = buf.ReadFrom(res.Body)
	return res.StatusCode, time.Since(start), err
}
