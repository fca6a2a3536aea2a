package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	"github.com/canonid/canonid/bench/internal/scimserver"
	"github.com/canonid/canonid/scim"
	"github.com/canonid/canonid/store"
)

// service is canonid's HTTP server with SCIM mounted, as cmd/canonid wires
// it, on a loopback listener (scimserver).
type service struct {
	*scimserver.Server
}

// scimConfig is the SCIM configuration of the run: the defaults, but for
// the rate limit (50 requests a second per token, bursts of 100), which
// would otherwise be all that is measured.
func scimConfig() scim.Config {
	cfg := scim.DefaultConfig()
	cfg.Rate, cfg.Burst = 1e9, 1<<30
	return cfg
}

// startService starts the server on st and creates, through the store, an
// API token of role scim for each client (one event each).
func startService(ctx context.Context, st store.Store, clients []string, logger *slog.Logger) (*service, error) {
	s, err := scimserver.Start(ctx, st, scimConfig(), clients, benchActor, logger)
	if err != nil {
		return nil, err
	}
	return &service{s}, nil
}

// get sends GET base+path as client and reads the whole answer into buf.
func (s *service) get(ctx context.Context, client, path string, buf *bytes.Buffer) (int, error) {
	req, err := s.NewRequest(ctx, client, http.MethodGet, path, nil)
	if err != nil {
		return 0, err
	}
	status, _, err := s.Do(req, buf)
	return status, err
}

// lookupPath is the SCIM request of a provisioning client that looks a
// user up by userName before creating it.
func lookupPath(login string) string {
	return "/Users?filter=" + url.QueryEscape(`userName eq "`+login+`"`)
}

// pagePath is the SCIM request of the page of size users at startIndex
// start, in the default order.
func pagePath(start, size int) string {
	return "/Users?startIndex=" + strconv.Itoa(start) + "&count=" + strconv.Itoa(size)
}

// listResponse is what the checks read of a SCIM ListResponse.
type listResponse struct {
	TotalResults int        `json:"totalResults"`
	StartIndex   int        `json:"startIndex"`
	Resources    []userBody `json:"Resources"`
}

// userBody is what the checks read of a SCIM User.
type userBody struct {
	ID         string `json:"id"`
	ExternalID string `json:"externalId"`
	UserName   string `json:"userName"`
	Active     bool   `json:"active"`
	Name       struct {
		GivenName  string `json:"givenName"`
		FamilyName string `json:"familyName"`
	} `json:"name"`
	DisplayName string `json:"displayName"`
	Emails      []struct {
		Value   string `json:"value"`
		Primary bool   `json:"primary"`
	} `json:"emails"`
	Enterprise struct {
		EmployeeNumber string `json:"employeeNumber"`
	} `json:"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`
	Meta struct {
		Version string `json:"version"`
	} `json:"meta"`
}

// check compares a rendered User with the person it must be, as client
// (whose link it shows as externalId, or none).
func (u userBody) check(p person, client string) error {
	wantExt := ""
	if client == benchClient {
		wantExt = p.externalID
	}
	var errs []error
	for _, c := range []struct{ what, got, want string }{
		{"id", u.ID, p.id},
		{"userName", u.UserName, p.login},
		{"externalId", u.ExternalID, wantExt},
		{"name.givenName", u.Name.GivenName, p.given},
		{"name.familyName", u.Name.FamilyName, p.family},
		{"displayName", u.DisplayName, p.display},
		{"employeeNumber", u.Enterprise.EmployeeNumber, p.employeeNum},
		{"meta.version", u.Meta.Version, `W/"1"`},
	} {
		if c.got != c.want {
			errs = append(errs, fmt.Errorf("%s %q, want %q", c.what, c.got, c.want))
		}
	}
	if !u.Active {
		errs = append(errs, errors.New("not active"))
	}
	if len(u.Emails) != 1 || u.Emails[0].Value != p.email || !u.Emails[0].Primary {
		errs = append(errs, fmt.Errorf("emails %+v, want %s, primary", u.Emails, p.email))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("user %s: %w", p.id, err)
	}
	return nil
}

// checkLookup checks the answer to lookupPath(p.login): one User, p, or
// none when p was never inserted.
func checkLookup(status int, body []byte, p person, hit bool) error {
	if status != http.StatusOK {
		return fmt.Errorf("lookup of %s: status %d: %.300s", p.login, status, body)
	}
	var lr listResponse
	if err := json.Unmarshal(body, &lr); err != nil {
		return fmt.Errorf("lookup of %s: %w", p.login, err)
	}
	switch {
	case !hit && (lr.TotalResults != 0 || len(lr.Resources) != 0):
		return fmt.Errorf("lookup of unknown %s: %d results", p.login, lr.TotalResults)
	case !hit:
		return nil
	case lr.TotalResults != 1 || len(lr.Resources) != 1:
		return fmt.Errorf("lookup of %s: totalResults %d, %d resources, want 1", p.login, lr.TotalResults, len(lr.Resources))
	}
	return lr.Resources[0].check(p, benchClient)
}

// pageIDs returns the ids of the Users of a list page in the order they
// come, without decoding it: every "id" key of a ListResponse of Users is
// a User's (groups, links and e-mails have none).
func pageIDs(body []byte, into []string) []string {
	key := []byte(`"id":"`)
	for {
		i := bytes.Index(body, key)
		if i < 0 {
			return into
		}
		body = body[i+len(key):]
		j := bytes.IndexByte(body, '"')
		if j < 0 {
			return into
		}
		into = append(into, string(body[:j]))
		body = body[j+1:]
	}
}
