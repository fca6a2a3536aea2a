package push

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/canonid/canonid/propagate"
)

// Target writes canonical accounts as the Users of one SCIM service
// provider. It is safe for concurrent use.
type Target struct {
	cfg    Config
	client *http.Client
	now    func() time.Time

	mu       sync.Mutex
	features *features // nil until read, and after a failure
}

var (
	_ propagate.AccountTarget = (*Target)(nil)
	_ propagate.Deleter       = (*Target)(nil)
)

// features are what the provider's /ServiceProviderConfig says it does.
type features struct {
	patch  bool
	filter bool
	// maxResults is the largest page it returns, 0 when it does not say.
	maxResults int
}

// New returns the target cfg describes, sending its requests with client
// (nil: a client of its own). cfg is validated first.
func New(cfg Config, client *http.Client) (*Target, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("scim target %q: %w", cfg.Name, err)
	}
	if client == nil {
		client = &http.Client{}
	}
	return &Target{cfg: cfg.withDefaults(), client: client, now: time.Now}, nil
}

// Name is the target's name.
func (t *Target) Name() string { return t.cfg.Name }

// Grace is how long a retired User stays, deactivated, before the
// dispatcher deletes it (Delete); ok is false when the target never
// deletes (OnMergeDeactivate without DeleteAfter).
func (t *Target) Grace() (d time.Duration, ok bool) {
	if t.cfg.DeleteAfter == 0 {
		return 0, false
	}
	return t.cfg.DeleteAfter, true
}

// Write makes the provider's User of account a match it, given what was
// last written (prev), and returns what to remember: the User's id, and
// when the account was written retired. Hash is left to the caller.
//
// A User is created (POST /Users) the first time; when the provider
// answers 409, the User it already holds is found by userName, then by
// externalId, and adopted. Later writes update prev.ID (PATCH or PUT), and
// create the User again if the provider lost it (404). A retired account
// that was never written is not written at all.
func (t *Target) Write(ctx context.Context, a propagate.Account, prev propagate.Remote) (propagate.Remote, error) {
	retired := a.State == propagate.StateRetired
	if retired && prev.ID == "" {
		return propagate.Remote{}, nil
	}
	u := userResource(a)
	id := prev.ID
	var err error
	if id == "" {
		id, err = t.create(ctx, a.ID, u)
	} else {
		err = t.update(ctx, id, u)
		if statusOf(err) == http.StatusNotFound {
			if retired {
				// Gone already: nothing holds its login or addresses.
				return propagate.Remote{}, nil
			}
			id, err = t.create(ctx, a.ID, u)
		}
	}
	if err != nil {
		return propagate.Remote{}, fmt.Errorf("scim target %s: write account %s: %w", t.cfg.Name, a.ID, err)
	}
	out := propagate.Remote{ID: id}
	if retired {
		out.RetiredAt = prev.RetiredAt
		if out.RetiredAt.IsZero() {
			out.RetiredAt = t.now()
		}
	}
	return out, nil
}

// Delete removes the User prev.ID (DELETE /Users/{id}); a User the
// provider does not know counts as deleted. A target that never deletes
// (Grace) leaves it, deactivated, and returns nil.
func (t *Target) Delete(ctx context.Context, prev propagate.Remote) error {
	if prev.ID == "" {
		return nil
	}
	if _, ok := t.Grace(); !ok {
		return nil
	}
	err := t.do(ctx, http.MethodDelete, userPath(prev.ID), nil, nil, nil)
	if err != nil && statusOf(err) != http.StatusNotFound {
		return fmt.Errorf("scim target %s: delete user %s: %w", t.cfg.Name, prev.ID, err)
	}
	return nil
}

func userPath(id string) string { return "/Users/" + url.PathEscape(id) }

// create posts u and returns its id; on 409 it adopts the User the
// provider holds already.
func (t *Target) create(ctx context.Context, accountID string, u user) (string, error) {
	var created user
	err := t.do(ctx, http.MethodPost, "/Users", nil, u, &created)
	if err == nil {
		if created.ID == "" {
			return "", errors.New("POST /Users: the created User has no id")
		}
		return created.ID, nil
	}
	if statusOf(err) != http.StatusConflict {
		return "", err
	}
	id, other, ferr := t.adoptable(ctx, accountID, u)
	switch {
	case ferr != nil:
		return "", fmt.Errorf("%w; looking for the User to adopt: %w", err, ferr)
	case id == "" && other.ID != "":
		return "", fmt.Errorf("%w; User %s has userName %q but belongs to account %s: not adopted", err, other.ID, other.UserName, other.ExternalID)
	case id == "":
		return "", fmt.Errorf("%w; no User with userName %q or externalId %q to adopt", err, u.UserName, accountID)
	}
	if uerr := t.update(ctx, id, u); uerr != nil {
		return "", fmt.Errorf("adopt User %s: %w", id, uerr)
	}
	return id, nil
}

// adoptable finds the User a create conflicted with: the one with u's
// userName, unless another account's externalId marks it as someone
// else's, else the one with the account's externalId. It returns "" when
// there is none, and the other account's User that holds the userName, if
// any.
func (t *Target) adoptable(ctx context.Context, accountID string, u user) (id string, other user, err error) {
	byName, err := t.find(ctx, "userName", u.UserName)
	if err != nil {
		return "", user{}, err
	}
	for _, r := range byName {
		if r.ExternalID == "" || r.ExternalID == accountID {
			return r.ID, user{}, nil
		}
		other = r
	}
	byExt, err := t.find(ctx, "externalId", accountID)
	if err != nil {
		return "", user{}, err
	}
	for _, r := range byExt {
		if r.ExternalID == accountID {
			return r.ID, user{}, nil
		}
	}
	return "", other, nil
}

// find returns the Users whose attr (userName or externalId) is value: by
// a filter when the provider filters, else by walking its list.
func (t *Target) find(ctx context.Context, attr, value string) ([]user, error) {
	f, err := t.discover(ctx)
	if err != nil {
		return nil, err
	}
	match := func(u user) bool {
		if attr == "userName" {
			return strings.EqualFold(u.UserName, value)
		}
		return u.ExternalID == value
	}
	var all []user
	filtered := false
	if f.filter {
		q := url.Values{"filter": {attr + " eq " + filterString(value)}}
		var page listResponse
		err := t.do(ctx, http.MethodGet, "/Users", q, nil, &page)
		switch s := statusOf(err); {
		case err == nil:
			if all, err = page.users(); err != nil {
				return nil, fmt.Errorf("GET /Users?filter: %w", err)
			}
			filtered = true
		case s == http.StatusBadRequest, s == http.StatusNotImplemented:
			// Some providers filter on userName only (elimity-com/scim
			// refuses externalId): walk the list instead.
		default:
			return nil, err
		}
	}
	if !filtered {
		if all, err = t.listUsers(ctx); err != nil {
			return nil, err
		}
	}
	var out []user
	for _, u := range all {
		// A provider may filter loosely: check.
		if match(u) && u.ID != "" {
			out = append(out, u)
		}
	}
	return out, nil
}

// filterString is s as a filter's string literal (a JSON string).
func filterString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// update writes u over User id: PATCH when the provider supports it, PUT
// otherwise, or when the provider refuses the PATCH as unsupported.
func (t *Target) update(ctx context.Context, id string, u user) error {
	f, err := t.discover(ctx)
	if err != nil {
		return err
	}
	if f.patch {
		err := t.do(ctx, http.MethodPatch, userPath(id), nil, patchOps(u), nil)
		switch statusOf(err) {
		case http.StatusNotImplemented, http.StatusMethodNotAllowed:
			// It said it would; it does not.
			t.mu.Lock()
			t.features = &features{patch: false, filter: f.filter, maxResults: f.maxResults}
			t.mu.Unlock()
		default:
			return err
		}
	}
	put := u
	put.ID = id
	return t.do(ctx, http.MethodPut, userPath(id), nil, put, nil)
}

// discover returns the provider's features, reading
// /ServiceProviderConfig the first time and after a failed request. A
// provider that does not serve it (or not as SCIM) is assumed to support
// neither PATCH nor filters.
func (t *Target) discover(ctx context.Context) (features, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.features != nil {
		return *t.features, nil
	}
	var spc struct {
		Patch struct {
			Supported flexBool `json:"supported"`
		} `json:"patch"`
		Filter struct {
			Supported  flexBool `json:"supported"`
			MaxResults int      `json:"maxResults"`
		} `json:"filter"`
	}
	f := features{}
	err := t.send(ctx, http.MethodGet, "/ServiceProviderConfig", nil, nil, &spc)
	switch {
	case err == nil:
		f = features{patch: bool(spc.Patch.Supported), filter: bool(spc.Filter.Supported), maxResults: max(spc.Filter.MaxResults, 0)}
	case statusOf(err) == http.StatusNotFound, statusOf(err) == http.StatusNotImplemented, errors.Is(err, errNotJSON):
	default:
		return features{}, fmt.Errorf("read the service provider config: %w", err)
	}
	t.features = &f
	return f, nil
}

// errNotJSON is an answer whose body is not the JSON expected.
var errNotJSON = errors.New("the answer is not the JSON expected")

// maxResponse bounds a response body (a page of Users).
const maxResponse = 32 << 20

// do sends a request (see send). A failure, other than a 404 or 409 about
// one resource, makes the next request read the provider's features
// again, in case they changed.
func (t *Target) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	err := t.send(ctx, method, path, query, body, out)
	if s := statusOf(err); err != nil && s != http.StatusNotFound && s != http.StatusConflict {
		t.mu.Lock()
		t.features = nil
		t.mu.Unlock()
	}
	return err
}

// send sends one request to the provider: body (if not nil) is sent as
// JSON, a 2xx answer is decoded into out (if not nil), anything else is
// an error (responseError). Transport failures and timeouts are
// UnavailableError; the caller's cancellation is returned as such.
func (t *Target) send(ctx context.Context, method, path string, query url.Values, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: encode the body: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	target := t.cfg.URL + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	rctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, method, target, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+t.cfg.Token)
	req.Header.Set("Accept", "application/scim+json, application/json")
	req.Header.Set("User-Agent", "canonid")
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	res, err := t.client.Do(req)
	if err != nil {
		return t.transportError(ctx, req, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxResponse+1))
	if err != nil {
		return t.transportError(ctx, req, err)
	}
	if len(raw) > maxResponse {
		return fmt.Errorf("%s %s: the answer exceeds %d bytes", method, req.URL.Path, maxResponse)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return responseError(req, res, raw, t.now())
	}
	if out == nil {
		return nil
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return fmt.Errorf("%s %s: %d with an empty body: %w", method, req.URL.Path, res.StatusCode, errNotJSON)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: %d: %w: %v", method, req.URL.Path, res.StatusCode, errNotJSON, err)
	}
	return nil
}

// transportError classifies a failure to get an answer: the caller's own
// cancellation or deadline is returned as is; anything else (refused,
// reset, unresolvable, timed out) means the provider is unavailable.
func (t *Target) transportError(ctx context.Context, req *http.Request, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its message repeats the whole URL
	}
	err = fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	if ctx.Err() != nil {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%w (timeout %s)", err, t.cfg.Timeout)
	}
	return propagate.Unavailable(err, 0)
}

// listResponse is a page of a list (RFC 7644 §3.4.2).
type listResponse struct {
	TotalResults int               `json:"totalResults"`
	StartIndex   int               `json:"startIndex"`
	ItemsPerPage int               `json:"itemsPerPage"`
	Resources    []json.RawMessage `json:"Resources"`
}

// users decodes the page's Users.
func (l listResponse) users() ([]user, error) {
	out := make([]user, 0, len(l.Resources))
	for i, raw := range l.Resources {
		var u user
		if err := json.Unmarshal(raw, &u); err != nil {
			return nil, fmt.Errorf("Resources[%d]: %w: %v", i, errNotJSON, err)
		}
		out = append(out, u)
	}
	return out, nil
}

// defaultPage is the page size asked for when the provider states none.
const defaultPage = 100

// listUsers returns every User of the provider, a page at a time
// (startIndex, count), until totalResults are read.
func (t *Target) listUsers(ctx context.Context) ([]user, error) {
	f, err := t.discover(ctx)
	if err != nil {
		return nil, err
	}
	count := defaultPage
	if f.maxResults > 0 {
		count = min(count, f.maxResults)
	}
	var all []user
	for start := 1; ; {
		q := url.Values{"startIndex": {strconv.Itoa(start)}, "count": {strconv.Itoa(count)}}
		var page listResponse
		if err := t.do(ctx, http.MethodGet, "/Users", q, nil, &page); err != nil {
			return nil, err
		}
		us, err := page.users()
		if err != nil {
			return nil, fmt.Errorf("GET /Users at %d: %w", start, err)
		}
		all = append(all, us...)
		start += len(us)
		// An empty page ends the walk even before totalResults: the list
		// shrank meanwhile.
		if len(us) == 0 || start > page.TotalResults {
			return all, nil
		}
	}
}
