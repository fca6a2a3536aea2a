package main

import (
	"bytes"
	"context"
	"log/slog"
	"time"

	"github.com/canonid/canonid/bench/internal/scimserver"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/ingest"
	"github.com/canonid/canonid/scim"
	"github.com/canonid/canonid/store"
)

// benchActor is the actor of the events the harness itself records.
const benchActor = "bench"

// service is canonid's HTTP server with SCIM mounted, as cmd/canonid wires
// it, on a loopback listener (scimserver).
type service struct {
	*scimserver.Server
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
func startService(ctx context.Context, st store.Store, clients []string, logger *slog.Logger) (*service, error) {
	s, err := scimserver.Start(ctx, st, scimConfig(clients), clients, benchActor, logger)
	if err != nil {
		return nil, err
	}
	return &service{s}, nil
}

// send sends method base+path with body as client, reads the whole answer
// into buf, and returns its status and the time from sending the request
// to having read the answer.
func (s *service) send(ctx context.Context, client, method, path string, body []byte, buf *bytes.Buffer) (int, time.Duration, error) {
	req, err := s.NewRequest(ctx, client, method, path, body)
	if err != nil {
		return 0, 0, err
	}
	return s.Do(req, buf)
}
