package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/flows/activation"
	"github.com/canonid/canonid/flows/emailmerge"
	"github.com/canonid/canonid/flows/mergekey"
	"github.com/canonid/canonid/flows/registration"
	"github.com/canonid/canonid/notify"
	"github.com/canonid/canonid/oidc"
	"github.com/canonid/canonid/scim"
	"github.com/canonid/canonid/server"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/web"
)

// defaultConfigFile is read when --config is not given and the file exists
// in the working directory.
const defaultConfigFile = "canonid.yaml"

// Built-in defaults of the sections this package owns. The server section
// takes its defaults from server.DefaultConfig.
const (
	defaultTimezone   = "Europe/Paris"
	defaultLogLevel   = "info"
	defaultLogFormat  = "json"
	defaultDriver     = "sqlite"
	defaultSQLiteFile = "data/canonid.db"
)

// Config is the whole canonid configuration: one YAML file whose top level
// holds the server keys (listen, public_url, shutdown_timeout) next to the
// sections below.
type Config struct {
	// Server is inlined: its keys sit at the top level of the file.
	Server server.Config `yaml:",inline"`
	// Timezone is the IANA zone used to compute day-based deadlines (an
	// activation link valid "until 23:59 of the next day") and to print
	// times. Default Europe/Paris.
	Timezone string `yaml:"timezone"`
	// Log configures the process logger.
	Log LogConfig `yaml:"log"`
	// Storage selects the database.
	Storage store.Config `yaml:"storage"`
	// Orgs are the organisations that serve creates or updates in the
	// store at start-up.
	Orgs []OrgConfig `yaml:"orgs"`
	// Policies are the merge policies: survivorship and undo window.
	Policies accounts.Config `yaml:"policies"`
	// Connectors are the sources of identities: campus directories.
	Connectors []ConnectorConfig `yaml:"connectors"`
	// SCIM configures the SCIM server at /scim/v2 (per-client settings,
	// rate limit, page size) and the SCIM service providers canonid
	// pushes changes to (targets).
	SCIM SCIMSection `yaml:"scim"`
	// LDAPTargets are the directories canonid writes the canonical
	// accounts back to.
	LDAPTargets []LDAPTargetConfig `yaml:"ldap_targets"`
	// Webhooks receive the events, signed.
	Webhooks []WebhookConfig `yaml:"webhooks"`
	// Propagation tunes the delivery to the targets above.
	Propagation PropagationConfig `yaml:"propagation"`
	// OIDC configures the OpenID provider: relying parties, signing keys,
	// token lifetimes.
	OIDC oidc.Config `yaml:"oidc"`
	// Login configures the login pages: sessions, CSRF secret, rate
	// limits; and who may use the support console (admins).
	Login LoginConfig `yaml:"login"`
	// Mail configures how mail is sent; nil (no mail section) sends none.
	Mail *notify.Config `yaml:"mail"`
	// Flows tunes the self-service flows.
	Flows FlowsConfig `yaml:"flows"`
}

// FlowsConfig tunes the self-service flows.
type FlowsConfig struct {
	// MergeKey: merge by key (seed 002).
	MergeKey mergekey.Config `yaml:"merge_key"`
	// Email: adding an address, verified by a mailed link, which merges
	// the account holding it (seed 000).
	Email emailmerge.Config `yaml:"email"`
	// Activation: accounts created pending_activation activate by a mailed
	// link (seed 001); nil (no section) turns the flow off.
	Activation *activation.Config `yaml:"activation"`
	// Registration: self-registration into an org, validated by its
	// coordinators (seed 003); nil (no section) turns the flow off.
	Registration *RegistrationConfig `yaml:"registration"`
}

// RegistrationConfig is the registration flow's section.
type RegistrationConfig struct {
	registration.Config `yaml:",inline"`
	// SMS is how phone codes are sent: "" (phones are not verified), log
	// (development: the codes are written to the log) or http (a POST of
	// {"to", "text"} to SMSURL, with SMSToken as a bearer token).
	SMS      string `yaml:"sms"`
	SMSURL   string `yaml:"sms_url"`
	SMSToken string `yaml:"sms_token"`
	// DocumentsDir is where supporting documents are kept (created 0700);
	// empty turns documents off.
	DocumentsDir string `yaml:"documents_dir"`
}

// LogConfig configures the slog logger, which writes to stderr.
type LogConfig struct {
	// Level is debug, info (default), warn or error.
	Level string `yaml:"level"`
	// Format is json (default) or text.
	Format string `yaml:"format"`
}

// OrgConfig declares one organisation.
type OrgConfig struct {
	// ID is the org's slug, ^[a-z0-9][a-z0-9-]{0,62}$, e.g. "cpts-sud".
	ID string `yaml:"id"`
	// Name is the display name, required.
	Name string `yaml:"name"`
	// Kind is free text: university, school, cpts, agency, ...
	Kind string `yaml:"kind"`
}

// orgIDPattern is the shape of an org slug.
var orgIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// defaultConfig returns the built-in configuration: everything runs with no
// file at all (SQLite under data/, JSON logs at info level).
func defaultConfig() Config {
	return Config{
		Server:   server.DefaultConfig(),
		Timezone: defaultTimezone,
		Log:      LogConfig{Level: defaultLogLevel, Format: defaultLogFormat},
		Storage:  store.Config{Driver: defaultDriver, DSN: defaultSQLiteFile},
		Policies: accounts.DefaultConfig(),
		SCIM:     SCIMSection{Config: scim.DefaultConfig()},
		OIDC:     oidc.DefaultConfig(),
	}
}

// applyDefaults fills what a file may leave empty. The SQLite file is a
// default only for the sqlite driver, so that a postgres section without a
// dsn is reported rather than pointed at a file.
func (c *Config) applyDefaults(dsnSet bool) {
	if c.Storage.Driver == "" {
		c.Storage.Driver = defaultDriver
	}
	if !dsnSet && c.Storage.Driver != defaultDriver {
		c.Storage.DSN = ""
	}
	for i := range c.Connectors {
		c.Connectors[i].applyDefaults()
	}
}

// Validate reports every problem of c at once, each prefixed with the path
// of its key: "storage.driver: ...", "orgs[2].id: ...".
func (c Config) Validate() error {
	var errs []error
	// The server keys sit at the top level; their messages already start
	// with the key.
	errs = append(errs, prefixErrors("", c.Server.Validate())...)
	if c.Timezone == "" {
		errs = append(errs, errors.New("timezone: must be set"))
	} else if _, err := time.LoadLocation(c.Timezone); err != nil {
		errs = append(errs, fmt.Errorf("timezone: unknown time zone %q", c.Timezone))
	}
	errs = append(errs, prefixErrors("log", c.Log.Validate())...)
	errs = append(errs, prefixErrors("storage", c.Storage.Validate())...)
	errs = append(errs, prefixErrors("policies", c.Policies.Validate())...)
	errs = append(errs, prefixErrors("scim", c.SCIM.Validate())...)
	errs = append(errs, c.validatePropagation()...)
	errs = append(errs, prefixErrors("oidc", c.OIDC.Validate())...)
	if c.Mail != nil {
		errs = append(errs, prefixErrors("mail", c.Mail.Validate())...)
	}
	errs = append(errs, prefixErrors("flows.merge_key", c.Flows.MergeKey.Validate())...)
	em := c.Flows.Email
	em.PublicURL = "https://canonid.invalid" // public_url is checked above
	errs = append(errs, prefixErrors("flows.email", em.Validate())...)
	if r := c.Flows.Registration; r != nil {
		rc := r.Config
		rc.PublicURL = "https://canonid.invalid"
		errs = append(errs, prefixErrors("flows.registration", rc.Validate())...)
		switch r.SMS {
		case "", "log":
		case "http":
			if u, err := url.Parse(r.SMSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				errs = append(errs, fmt.Errorf("flows.registration.sms_url: must be an http(s) URL, got %q", r.SMSURL))
			}
		default:
			errs = append(errs, fmt.Errorf("flows.registration.sms: must be empty, log or http, got %q", r.SMS))
		}
	}
	if a := c.Flows.Activation; a != nil {
		ac := *a
		ac.PublicURL = "https://canonid.invalid"
		if ac.TimeZone == "" {
			ac.TimeZone = c.Timezone
		}
		errs = append(errs, prefixErrors("flows.activation", ac.Validate())...)
	}
	login := c.Login.Config
	if len(login.Secret) == 0 {
		login.Secret = make(web.Secret, 32) // serve draws one; only its absence is allowed
	}
	login.PublicURL = "https://canonid.invalid" // public_url is checked above
	errs = append(errs, prefixErrors("login", login.Validate())...)
	errs = append(errs, prefixErrors("login", c.Login.validateAdmins())...)
	seen := make(map[string]int, len(c.Orgs))
	for i, o := range c.Orgs {
		path := fmt.Sprintf("orgs[%d]", i)
		errs = append(errs, prefixErrors(path, o.Validate())...)
		if o.ID == "" {
			continue
		}
		if first, dup := seen[o.ID]; dup {
			errs = append(errs, fmt.Errorf("%s.id: duplicate %q (also orgs[%d])", path, o.ID, first))
			continue
		}
		seen[o.ID] = i
	}
	names := make(map[string]int, len(c.Connectors))
	for i, cc := range c.Connectors {
		path := fmt.Sprintf("connectors[%d]", i)
		errs = append(errs, prefixErrors(path, cc.Validate())...)
		if first, dup := names[cc.Name]; dup && cc.Name != "" {
			errs = append(errs, fmt.Errorf("%s.name: duplicate %q (also connectors[%d])", path, cc.Name, first))
		} else {
			names[cc.Name] = i
		}
		if org := cc.Ingest.Org; org != "" {
			if _, ok := seen[org]; !ok {
				errs = append(errs, fmt.Errorf("%s.org: %q is not one of the orgs of the configuration", path, org))
			}
		}
	}
	for i, cl := range c.OIDC.Clients {
		if org := cl.RequireOrg; org != "" {
			if _, ok := seen[org]; !ok {
				errs = append(errs, fmt.Errorf("oidc.clients[%d].require_org: %q is not one of the orgs of the configuration", i, org))
			}
		}
	}
	for i, cl := range c.SCIM.Clients {
		if org := cl.Org; org != "" {
			if _, ok := seen[org]; !ok {
				errs = append(errs, fmt.Errorf("scim.clients[%d].org: %q is not one of the orgs of the configuration", i, org))
			}
		}
	}
	return errors.Join(errs...)
}

// Validate reports the problems of the log section.
func (c LogConfig) Validate() error {
	var errs []error
	switch c.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("level: must be debug, info, warn or error, got %q", c.Level))
	}
	switch c.Format {
	case "json", "text":
	default:
		errs = append(errs, fmt.Errorf("format: must be json or text, got %q", c.Format))
	}
	return errors.Join(errs...)
}

// Validate reports the problems of one org; uniqueness of ids is checked by
// Config.Validate.
func (o OrgConfig) Validate() error {
	var errs []error
	switch {
	case o.ID == "":
		errs = append(errs, errors.New("id: must be set"))
	case !orgIDPattern.MatchString(o.ID):
		errs = append(errs, fmt.Errorf("id: must be lower-case letters, digits and dashes, 1 to 63 characters, not starting with a dash, got %q", o.ID))
	}
	if strings.TrimSpace(o.Name) == "" {
		errs = append(errs, errors.New("name: must be set"))
	}
	return errors.Join(errs...)
}

// keyedMessage matches a message that starts with the key it is about.
var keyedMessage = regexp.MustCompile(`^[A-Za-z0-9_]+(\[[0-9]+\])?[.:\[]`)

// prefixErrors splits err (joined errors are split recursively) and prefixes
// each part with path: "driver: x" becomes "storage.driver: x"; a message
// that names no key becomes "storage: x". An empty path leaves messages as
// they are.
func prefixErrors(path string, err error) []error {
	var out []error
	for _, e := range splitErrors(err) {
		switch {
		case path == "":
			out = append(out, e)
		case keyedMessage.MatchString(e.Error()):
			sep := "."
			if strings.HasPrefix(e.Error(), "[") {
				sep = ""
			}
			out = append(out, fmt.Errorf("%s%s%w", path, sep, e))
		default:
			out = append(out, fmt.Errorf("%s: %w", path, e))
		}
	}
	return out
}

// splitErrors flattens errors joined with errors.Join (or anything with
// Unwrap() []error) into their leaves.
func splitErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, splitErrors(e)...)
		}
		return out
	}
	return []error{err}
}

// ConfigError lists every problem found in a configuration.
type ConfigError struct {
	// File is the file read, or empty for the built-in defaults.
	File string
	// Problems are one line each, prefixed with the key path.
	Problems []string
}

// Error renders a header line and then one problem per line.
func (e *ConfigError) Error() string {
	var b strings.Builder
	src := "built-in configuration"
	if e.File != "" {
		src = "configuration " + e.File
	}
	n := "1 problem"
	if len(e.Problems) != 1 {
		n = strconv.Itoa(len(e.Problems)) + " problems"
	}
	fmt.Fprintf(&b, "%s: %s:", src, n)
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p)
	}
	return b.String()
}

// loadConfig reads, expands, decodes and validates the configuration file at
// path. When explicit is false (no --config flag) a missing file means the
// built-in defaults; when true it is an error. Every problem found is
// returned at once in a *ConfigError.
func loadConfig(path string, explicit bool) (Config, error) {
	return loadConfigEnv(path, explicit, os.LookupEnv)
}

// loadConfigEnv is loadConfig with the environment passed in.
func loadConfigEnv(path string, explicit bool, lookupEnv func(string) (string, bool)) (Config, error) {
	if path == "" {
		path, explicit = defaultConfigFile, false
	}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		cfg := defaultConfig()
		if err := cfg.Validate(); err != nil {
			return cfg, &ConfigError{Problems: errorStrings(splitErrors(err))}
		}
		return cfg, nil
	case err != nil:
		return Config{}, fmt.Errorf("configuration: %w", err)
	}
	cfg, problems := parseConfig(data, lookupEnv)
	if len(problems) > 0 {
		return cfg, &ConfigError{File: path, Problems: problems}
	}
	return cfg, nil
}

// errorStrings returns the messages of errs.
func errorStrings(errs []error) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	return out
}

// parseConfig decodes a configuration document over the defaults and
// returns it with every problem found: environment expansion, YAML decoding
// (unknown keys, wrong types, duplicates), then validation.
func parseConfig(data []byte, lookupEnv func(string) (string, bool)) (Config, []string) {
	cfg := defaultConfig()

	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return cfg, []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return cfg, []string{"the file must hold one YAML document, not several"}
	}

	var parse []lineProblem
	idx := newNodeIndex()
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		// Index the tree, drop duplicate keys (reported here, so that the
		// rest of their mapping is still decoded and checked) and expand
		// the environment references.
		expander{lookup: lookupEnv, idx: idx, problems: &parse}.walk(doc.Content[0], "")
	}
	if doc.Kind != 0 {
		// Values: decode the expanded tree. Line numbers are those of the
		// file, since the nodes keep them.
		if err := doc.Decode(&cfg); err != nil {
			parse = append(parse, idx.decodeProblems(err, false, nil)...)
		}
		parse = append(parse, unknownKeys(&doc, idx)...)
	}
	cfg.applyDefaults(idx.has("storage.dsn"))

	problems, envFailed := dedupe(parse)
	for _, v := range errorStrings(splitErrors(cfg.Validate())) {
		path, _, _ := strings.Cut(v, ": ")
		if envFailed[path] { // already reported as the variable it lacks
			continue
		}
		if line := idx.lineOf(path); line > 0 {
			v += fmt.Sprintf(" (line %d)", line)
		}
		problems = append(problems, v)
	}
	return cfg, problems
}

// unknownKeys decodes the tree strictly (yaml.v3 KnownFields) and returns
// the unknown keys, all of them, with their paths and their lines in the
// file. Node.Decode cannot be strict, so the tree is encoded again and the
// strict decoder's lines, which are those of the new text, are mapped back
// through the key paths.
func unknownKeys(doc *yaml.Node, orig *nodeIndex) []lineProblem {
	text, err := yaml.Marshal(doc)
	if err != nil {
		return []lineProblem{{msg: "checking for unknown keys: " + err.Error()}}
	}
	var again yaml.Node
	if err := yaml.Unmarshal(text, &again); err != nil {
		return []lineProblem{{msg: "checking for unknown keys: " + err.Error()}}
	}
	idx := newNodeIndex()
	if again.Kind == yaml.DocumentNode && len(again.Content) == 1 {
		expander{idx: idx, problems: new([]lineProblem)}.walk(again.Content[0], "")
	}
	strict := yaml.NewDecoder(bytes.NewReader(text))
	strict.KnownFields(true)
	scratch := defaultConfig()
	if err := strict.Decode(&scratch); err != nil {
		return idx.decodeProblems(err, true, orig)
	}
	return nil
}

// lineProblem is a problem found while reading the file.
type lineProblem struct {
	path string // key path, or "" when unknown
	line int
	msg  string
	env  bool // an environment expansion problem
}

// String renders "path: msg (line N)", leaving out what is unknown.
func (p lineProblem) String() string {
	switch {
	case p.path == "" && p.line == 0:
		return p.msg
	case p.path == "":
		return fmt.Sprintf("line %d: %s", p.line, p.msg)
	case p.line == 0:
		return p.path + ": " + p.msg
	}
	return fmt.Sprintf("%s: %s (line %d)", p.path, p.msg, p.line)
}

// dedupe sorts problems by line and drops the decode errors of a key whose
// environment expansion already failed. It also returns the paths of those
// keys.
func dedupe(ps []lineProblem) ([]string, map[string]bool) {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].line < ps[j].line })
	envFailed := map[string]bool{}
	for _, p := range ps {
		if p.env {
			envFailed[p.path] = true
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, p := range ps {
		if p.path != "" && envFailed[p.path] && !p.env {
			continue
		}
		s := p.String()
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, envFailed
}

// nodeIndex maps file positions back to key paths, to name the key in the
// decoder's "line N: ..." messages.
type nodeIndex struct {
	keys     map[keyAt]string     // a mapping key at a line -> its path
	values   map[valueAt][]string // a value of a kind at a line -> its paths
	lines    map[string]int       // every key path present in the file -> its line
	expanded map[int]bool         // lines holding a value taken from the environment
}

// keyAt is a mapping key at a line of the file.
type keyAt struct {
	line int
	name string
}

// valueAt is a value of a kind at a line of the file.
type valueAt struct {
	line int
	tag  string // "!!map", "!!seq" or "" for a scalar
}

// newNodeIndex returns an empty index.
func newNodeIndex() *nodeIndex {
	return &nodeIndex{keys: map[keyAt]string{}, values: map[valueAt][]string{}, lines: map[string]int{}, expanded: map[int]bool{}}
}

// has reports whether the file sets the key at path.
func (x *nodeIndex) has(path string) bool { return x.lines[path] > 0 }

// lineOf returns the line of path in the file, or of its closest parent
// present there (a missing key is reported at its section), or 0.
func (x *nodeIndex) lineOf(path string) int {
	for path != "" {
		if l := x.lines[path]; l > 0 {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return 0
		}
		path = path[:i]
	}
	return 0
}

// Shapes of yaml.v3's error messages, which are only strings.
var (
	lineMessage  = regexp.MustCompile(`^line ([0-9]+): (.*)$`)
	unknownField = regexp.MustCompile(`^field (.+) not found in type `)
	alreadySet   = regexp.MustCompile(`^field (.+) already set in type `)
	duplicateKey = regexp.MustCompile(`^mapping key "(.*)" already defined at line ([0-9]+)$`)
	quotedValue  = regexp.MustCompile("`[^`]*`")
)

// decodeProblems turns a yaml.v3 error into problems with key paths. With
// unknownOnly, only the unknown-key errors are kept (the strict pass), and
// their lines are taken from orig, the index of the file as written.
func (x *nodeIndex) decodeProblems(err error, unknownOnly bool, orig *nodeIndex) []lineProblem {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		if unknownOnly {
			return nil
		}
		return []lineProblem{{msg: strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	var out []lineProblem
	for _, msg := range te.Errors {
		m := lineMessage.FindStringSubmatch(msg)
		if m == nil {
			if !unknownOnly {
				out = append(out, lineProblem{msg: msg})
			}
			continue
		}
		line, _ := strconv.Atoi(m[1])
		text := m[2]
		if f := unknownField.FindStringSubmatch(text); f != nil {
			p := lineProblem{path: x.keys[keyAt{line, f[1]}], line: line, msg: "unknown key"}
			if orig != nil {
				p.line = orig.lines[p.path]
			}
			out = append(out, p)
			continue
		}
		if unknownOnly {
			continue
		}
		p := lineProblem{line: line, msg: text}
		if f := alreadySet.FindStringSubmatch(text); f != nil {
			p.path, p.msg = x.keys[keyAt{line, f[1]}], "key set twice"
		} else if f := duplicateKey.FindStringSubmatch(text); f != nil {
			p.path, p.msg = x.keys[keyAt{line, f[1]}], "duplicate key (first at line "+f[2]+")"
		} else {
			kind := ""
			for _, tag := range []string{"!!map", "!!seq"} {
				if strings.HasPrefix(text, "cannot unmarshal "+tag+" ") {
					kind = tag
				}
			}
			if paths := x.values[valueAt{line, kind}]; len(paths) == 1 {
				p.path = paths[0]
			}
			if x.expanded[line] {
				// Never echo a value that came from the environment.
				p.msg = quotedValue.ReplaceAllString(p.msg, "(value from the environment)")
			}
			if strings.HasSuffix(p.msg, " into time.Duration") {
				v := "the value"
				if q := quotedValue.FindString(p.msg); q != "" && !x.expanded[line] {
					v = strconv.Quote(strings.Trim(q, "`"))
				}
				p.msg = "must be a duration such as 15s or 1m30s, got " + v
			} else {
				p.msg = strings.Replace(p.msg, "cannot unmarshal", "cannot decode", 1)
			}
		}
		out = append(out, p)
	}
	return out
}

// expander walks the YAML tree, indexes it, drops duplicate keys and
// expands ${VAR} references in scalar values. Keys are never expanded, and
// since expansion rewrites values of an already parsed tree, a variable
// cannot inject YAML structure.
type expander struct {
	// lookup reads the environment; nil only indexes, expanding nothing.
	lookup   func(string) (string, bool)
	idx      *nodeIndex
	problems *[]lineProblem
}

// walk processes the node n found at path ("" for the root).
func (e expander) walk(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.MappingNode:
		if path != "" { // the root mapping is never the culprit
			at := valueAt{n.Line, "!!map"}
			e.idx.values[at] = append(e.idx.values[at], path)
		}
		first := map[string]int{} // key -> line
		kept := n.Content[:0]     // filtered in place: never ahead of the reads
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			if line, dup := first[k.Value]; dup && k.Kind == yaml.ScalarNode {
				*e.problems = append(*e.problems, lineProblem{path: p, line: k.Line, msg: fmt.Sprintf("duplicate key (first at line %d)", line)})
				continue
			}
			first[k.Value] = k.Line
			kept = append(kept, k, v)
			e.idx.keys[keyAt{k.Line, k.Value}] = p
			e.idx.lines[p] = k.Line
			e.walk(v, p)
		}
		n.Content = kept
	case yaml.SequenceNode:
		at := valueAt{n.Line, "!!seq"}
		e.idx.values[at] = append(e.idx.values[at], path)
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			e.idx.lines[p] = c.Line
			e.walk(c, p)
		}
	case yaml.ScalarNode:
		at := valueAt{n.Line, ""}
		e.idx.values[at] = append(e.idx.values[at], path)
		if e.lookup == nil || !strings.Contains(n.Value, "$") {
			return
		}
		v, errs := expandEnv(n.Value, e.lookup)
		for _, err := range errs {
			*e.problems = append(*e.problems, lineProblem{path: path, line: n.Line, msg: err.Error(), env: true})
		}
		if len(errs) > 0 {
			v = ""
		}
		if v == n.Value {
			return
		}
		e.idx.expanded[n.Line] = true
		n.Value = v
		if n.Style&(yaml.TaggedStyle|yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
			// A plain scalar takes the type of what it now says ("8080"
			// is an int, "30s" a string), except null: an empty or "~"
			// secret stays a string.
			tag := (&yaml.Node{Kind: yaml.ScalarNode, Value: v}).ShortTag()
			if tag == "!!null" {
				tag = "!!str"
			}
			n.Tag = tag
		}
	}
	// Alias nodes are not followed: their anchor was expanded where it
	// was defined.
}

// envName is the shape of a variable name in ${NAME}.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expandEnv expands ${VAR} and ${VAR:-default} in s; $$ is a literal $, and
// a $ followed by anything else is kept as is. ${VAR:-default} uses the
// default when VAR is unset or empty; ${VAR} with VAR unset is an error.
// Every problem of s is returned.
func expandEnv(s string, lookup func(string) (string, bool)) (string, []error) {
	var b strings.Builder
	var errs []error
	for i := 0; i < len(s); {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			i++
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i += 2
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				errs = append(errs, errors.New(`unterminated "${" (write $$ for a literal $)`))
				return "", errs
			}
			expr := s[i+2 : i+2+end]
			i += 2 + end + 1
			name, def, hasDef := strings.Cut(expr, ":-")
			if !envName.MatchString(name) {
				errs = append(errs, fmt.Errorf("invalid variable reference ${%s} (want ${NAME} or ${NAME:-default}; write $$ for a literal $)", expr))
				continue
			}
			v, ok := lookup(name)
			switch {
			case hasDef && v == "":
				v = def
			case !ok:
				errs = append(errs, fmt.Errorf("environment variable %s is not set (use ${%s:-default} to give a default)", name, name))
				continue
			}
			b.WriteString(v)
		default:
			b.WriteByte('$')
			i++
		}
	}
	return b.String(), errs
}
