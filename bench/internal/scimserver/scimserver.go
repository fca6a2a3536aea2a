// Package scimserver runs canonid's HTTP server with SCIM mounted, as
// cmd/canonid wires them (server.New, and scim.New mounted on its SCIM
// group), on a loopback listener, with an API token of role scim for each
// provisioning client, for the SCIM harnesses under bench/.
package scimserver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/scim"
	"github.com/canonid/canonid/server"
	"github.com/canonid/canonid/store"
)

// Server is canonid's HTTP server with SCIM mounted, on a loopback
// listener, and an HTTP client that keeps up to 64 connections to it.
type Server struct {
	http   *httptest.Server
	base   string            // the absolute URL of /scim/v2
	tokens map[string]string // bearer tokens by client name
	client *http.Client
}

// Start starts the server on st with the SCIM configuration cfg, and
// creates, through the store, an API token of role scim for each client,
// each with an api_token.created event by actor. logger receives the HTTP
// and SCIM servers' messages.
func Start(ctx context.Context, st store.Store, cfg scim.Config, clients []string, actor string, logger *slog.Logger) (_ *Server, err error) {
	srv := server.New(server.DefaultConfig(), server.Deps{Logger: logger, Ready: st, Tokens: server.StoreTokens{Store: st}})
	ts := httptest.NewUnstartedServer(srv.Handler())
	s := &Server{http: ts, base: "http://" + ts.Listener.Addr().String() + server.SCIMPrefix, tokens: map[string]string{}}
	defer func() {
		if err != nil {
			ts.Close()
		}
	}()
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
			return tx.Record(ctx, store.Event{Type: "api_token.created", Actor: actor, Data: map[string]string{"name": name}})
		})
		if err != nil {
			return nil, fmt.Errorf("token for %s: %w", name, err)
		}
		s.tokens[name] = tok
	}
	return s, nil
}

// Close closes the client's idle connections and the server.
func (s *Server) Close() {
	s.client.CloseIdleConnections()
	s.http.Close()
}

// NewRequest returns the request of client (with its bearer token) of
// method on path, under /scim/v2, accepting application/scim+json; a
// body, when there is one, is application/scim+json too.
func (s *Server) NewRequest(ctx context.Context, client, method, path string, body []byte) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.tokens[client])
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	req.Header.Set("Accept", "application/scim+json")
	return req, nil
}

// Do sends req, reads the whole answer into buf, and returns its status
// and the time from sending the request to having read the answer.
func (s *Server) Do(req *http.Request, buf *bytes.Buffer) (status int, d time.Duration, err error) {
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
