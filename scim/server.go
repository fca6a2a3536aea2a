package scim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/elimity-com/scim"
	scimerr "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"

	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/ingest"
	"github.com/canonid/canonid/mapping"
	"github.com/canonid/canonid/store"
)

// Deps are what the SCIM server needs from the rest of canonid.
type Deps struct {
	Store      store.Store
	Precedence identity.Precedence
	// Caller returns the API token that authenticated the request of ctx.
	Caller func(ctx context.Context) (store.APIToken, bool)
	// BaseURL is the absolute URL of /scim/v2 (public_url + "/scim/v2").
	BaseURL string
	Logger  *slog.Logger
	// OnCreate runs in the transaction that creates an account for a
	// client (ingest.Source.OnCreate); nil: nothing.
	OnCreate func(ctx context.Context, tx store.Tx, acc identity.Account) error
}

// Server is canonid's SCIM service provider.
type Server struct {
	st     store.Store
	cfg    Config
	prec   identity.Precedence
	caller func(ctx context.Context) (store.APIToken, bool)
	base   string
	log    *slog.Logger
	lib    scim.Server
	limit  *limiter
	pages  *pageCache
	// onCreate runs in the transaction that creates an account.
	onCreate func(ctx context.Context, tx store.Tx, acc identity.Account) error
	// userSchemas are the User schema and its extensions, by URN, for
	// PATCH paths.
	userSchemas  map[string]schema.Schema
	groupSchemas map[string]schema.Schema
	// userSchema and userExtensions are the User resource type's, against
	// which list filters are validated.
	userSchema     schema.Schema
	userExtensions []schema.Schema

	// libraryLists sends list requests through the library even when
	// listUsers could answer them (tests compare both).
	libraryLists atomic.Bool

	mapping *mapping.Mapping
	mu      sync.Mutex
	ins     map[string]*ingest.Ingester // by client name
}

// scimMapping turns a client's flattened User into canonical fields.
var scimMapping = mapping.Spec{Fields: map[string]mapping.FieldSpec{
	mapping.FieldLogin:       {From: []string{"userName"}},
	mapping.FieldGivenName:   {From: []string{"name.givenName"}},
	mapping.FieldFamilyName:  {From: []string{"name.familyName"}},
	mapping.FieldDisplayName: {From: []string{"displayName"}},
	mapping.FieldEmail:       {From: []string{"emails"}, Transforms: []string{"first"}},
	mapping.FieldPhone:       {From: []string{"phoneNumbers"}, Transforms: []string{"first"}},
	mapping.FieldSupannEmpID: {From: []string{"enterprise.employeeNumber"}},
}}

// New builds the SCIM server. cfg should have passed Validate.
func New(cfg Config, deps Deps) (*Server, error) {
	// Entra ID sends booleans as "True" and "False". The setting is the
	// library's, process-wide; canonid sets it once, here.
	schema.SetAllowStringValues(true)
	m, err := mapping.Compile(scimMapping)
	if err != nil {
		return nil, fmt.Errorf("scim mapping: %w", err)
	}
	s := &Server{
		st: deps.Store, cfg: cfg, prec: deps.Precedence, caller: deps.Caller, base: deps.BaseURL, log: deps.Logger,
		limit: newLimiter(cfg.Rate, cfg.Burst), pages: newPageCache(1024), mapping: m, ins: map[string]*ingest.Ingester{},
		onCreate: deps.OnCreate,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	us, gs := userSchema(), groupSchema()
	s.userSchemas = map[string]schema.Schema{us.ID: us, EnterpriseSchema: enterpriseSchema(), AccountSchema: accountSchema()}
	s.groupSchemas = map[string]schema.Schema{gs.ID: gs}
	s.userSchema, s.userExtensions = us, []schema.Schema{enterpriseSchema(), accountSchema()}
	s.lib, err = scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: &scim.ServiceProviderConfig{
			DocumentationURI: optional.NewString("https://github.com/canonid/canonid/blob/main/docs/scim.md"),
			AuthenticationSchemes: []scim.AuthenticationScheme{{
				Type: scim.AuthenticationTypeOauthBearerToken, Name: "OAuth Bearer Token", Primary: true,
				Description: "A bearer token of role scim, created with: canonid token create --name CLIENT --role scim",
				SpecURI:     optional.NewString("https://www.rfc-editor.org/rfc/rfc6750"),
			}},
			MaxResults: cfg.MaxResults, SupportFiltering: true, SupportPatch: true,
		},
		ResourceTypes: []scim.ResourceType{
			{
				ID: optional.NewString("User"), Name: "User", Endpoint: "/Users",
				Description: optional.NewString("canonid accounts"),
				Schema:      us,
				SchemaExtensions: []scim.SchemaExtension{
					{Schema: enterpriseSchema()},
					{Schema: accountSchema()},
				},
				Handler: users{s},
			},
			{
				ID: optional.NewString("Group"), Name: "Group", Endpoint: "/Groups",
				Description: optional.NewString("canonid orgs and their validated members"),
				Schema:      gs,
				Handler:     groups{s},
			},
		},
	}, scim.WithLogger(libLogger{s.log}))
	if err != nil {
		return nil, fmt.Errorf("scim server: %w", err)
	}
	return s, nil
}

// ingester returns the ingestion engine of a client's source.
func (s *Server) ingester(c client) *ingest.Ingester {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.ins[c.name]
	if !ok {
		src := ingest.Source{Name: c.source, Mapping: s.mapping, Config: s.cfg.client(c.name), OnCreate: s.onCreate}
		in = ingest.New(s.st, src, s.prec, s.log)
		s.ins[c.name] = in
	}
	return in
}

// orgNames returns the names of the orgs, by id, when one of views is a
// member of one (else nil: there is nothing to name, and no statement to
// run).
func (s *Server) orgNames(ctx context.Context, tx store.Tx, views []userView) (map[string]string, error) {
	if !slices.ContainsFunc(views, func(v userView) bool { return len(v.members) > 0 }) {
		return nil, nil
	}
	orgs, err := tx.Orgs().List(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(orgs))
	for _, o := range orgs {
		out[o.ID] = o.Name
	}
	return out, nil
}

// scimError is the value-typed error the library renders (a pointer or a
// wrapped one would become a 500).
func scimError(status int, typ scimerr.ScimType, detail string) error {
	return scimerr.ScimError{Status: status, ScimType: typ, Detail: detail}
}

// fail passes SCIM errors through and turns the others into SCIM errors:
// a lost race is a 409 the client may retry, anything else a 500 whose
// cause is logged, not shown.
func (s *Server) fail(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var se scimerr.ScimError
	if errors.As(err, &se) {
		return se
	}
	switch {
	case errors.Is(err, store.ErrConflict):
		return scimError(http.StatusConflict, "", "the resource changed meanwhile; retry")
	case errors.Is(err, store.ErrNotFound):
		return scimError(http.StatusNotFound, "", "resource not found")
	case errors.Is(err, store.ErrDuplicate):
		return scimError(http.StatusConflict, scimerr.ScimTypeUniqueness, err.Error())
	}
	s.log.ErrorContext(ctx, "scim request failed", "err", err)
	return scimError(http.StatusInternalServerError, "", "internal error; see the server log")
}

// libLogger routes the library's logs to slog.
type libLogger struct{ log *slog.Logger }

func (l libLogger) Error(args ...any) { l.log.Error("scim library", "detail", fmt.Sprint(args...)) }
