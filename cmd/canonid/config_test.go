package main

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/canonid/canonid/scim/push"
)

// env returns a lookup function over a fixed environment.
func env(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

func TestDefaultsValidate(t *testing.T) {
	if err := defaultConfig().Validate(); err != nil {
		t.Fatalf("built-in defaults do not validate: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "canonid.yaml")

	cfg, err := loadConfig(missing, false)
	if err != nil {
		t.Fatalf("implicit missing file: %v", err)
	}
	if !reflect.DeepEqual(cfg, defaultConfig()) {
		t.Errorf("implicit missing file gave %+v, want the defaults", cfg)
	}
	if cfg.Storage.Driver != "sqlite" || cfg.Storage.DSN != "data/canonid.db" || cfg.Timezone != "Europe/Paris" ||
		cfg.Log.Level != "info" || cfg.Log.Format != "json" {
		t.Errorf("unexpected defaults %+v", cfg)
	}

	if _, err := loadConfig(missing, true); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("explicit missing file: got %v, want an error naming the file", err)
	}

	// An empty file, or one with only comments, is the defaults too.
	for _, doc := range []string{"", "# nothing\n"} {
		cfg, problems := parseConfig([]byte(doc), env(nil))
		if len(problems) > 0 || !reflect.DeepEqual(cfg, defaultConfig()) {
			t.Errorf("parse %q: %+v %q", doc, cfg, problems)
		}
	}
}

func TestExpandEnv(t *testing.T) {
	vars := env(map[string]string{"USER": "canonid", "EMPTY": "", "PW": "s3cr$t"})
	tests := []struct {
		in, want string
		errs     []string // substrings, one per expected error
	}{
		{in: "plain", want: "plain"},
		{in: "${USER}", want: "canonid"},
		{in: "a-${USER}-b", want: "a-canonid-b"},
		{in: "${EMPTY}", want: ""},
		{in: "${MISSING:-fallback}", want: "fallback"},
		{in: "${EMPTY:-fallback}", want: "fallback"},
		{in: "${USER:-fallback}", want: "canonid"},
		{in: "${MISSING:-}", want: ""},
		{in: "$${USER}", want: "${USER}"},
		{in: "cost $$5", want: "cost $5"},
		{in: "pa$word", want: "pa$word"},
		{in: "end$", want: "end$"},
		{in: "${PW}", want: "s3cr$t"}, // values are not expanded again
		{in: "${USER}:${USER}", want: "canonid:canonid"},
		{in: "${MISSING}", errs: []string{"MISSING is not set"}},
		{in: "${A} and ${B}", errs: []string{"A is not set", "B is not set"}},
		{in: "${1BAD}", errs: []string{"invalid variable reference ${1BAD}"}},
		{in: "${OPEN", errs: []string{`unterminated "${"`}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, errs := expandEnv(tt.in, vars)
			if len(errs) != len(tt.errs) {
				t.Fatalf("expandEnv(%q) errors = %v, want %d", tt.in, errs, len(tt.errs))
			}
			for i, e := range errs {
				if !strings.Contains(e.Error(), tt.errs[i]) {
					t.Errorf("error %d = %q, want it to contain %q", i, e, tt.errs[i])
				}
			}
			if len(tt.errs) == 0 && got != tt.want {
				t.Errorf("expandEnv(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseConfigEnv(t *testing.T) {
	doc := `
listen: ${HOST:-127.0.0.1}:${PORT}
public_url: https://${DOMAIN}
shutdown_timeout: ${GRACE:-30s}
timezone: ${TZNAME:-Europe/Paris}
log:
  level: ${LEVEL}
storage:
  driver: postgres
  dsn: "postgres://canonid:${PGPASSWORD}@db.example:5432/canonid?sslmode=disable"
orgs:
  - id: cpts-sud
    name: 'Price: $$5 ${ORG_SUFFIX:-}'
    kind: ${INJECT}
  - id: numbers
    name: ${NUMBER}
  - id: nulls
    name: ${TILDE}
`
	vars := env(map[string]string{
		"PORT": "9090", "DOMAIN": "id.example", "LEVEL": "debug",
		"PGPASSWORD": "p@ss:w/rd",
		// A value that looks like YAML stays one string.
		"INJECT": "school\nlog: {level: error}",
		"NUMBER": "123",
		"TILDE":  "~",
	})
	cfg, problems := parseConfig([]byte(doc), vars)
	if len(problems) > 0 {
		t.Fatalf("problems: %q", problems)
	}
	checks := []struct{ name, got, want string }{
		{"listen", cfg.Server.Listen, "127.0.0.1:9090"},
		{"public_url", cfg.Server.PublicURL, "https://id.example"},
		{"timezone", cfg.Timezone, "Europe/Paris"},
		{"log.level", cfg.Log.Level, "debug"},
		{"log.format (default kept)", cfg.Log.Format, "json"},
		{"storage.dsn", cfg.Storage.DSN, "postgres://canonid:p@ss:w/rd@db.example:5432/canonid?sslmode=disable"},
		{"orgs[0].name", cfg.Orgs[0].Name, "Price: $5 "},
		{"orgs[0].kind", cfg.Orgs[0].Kind, "school\nlog: {level: error}"},
		{"orgs[1].name", cfg.Orgs[1].Name, "123"},
		{"orgs[2].name", cfg.Orgs[2].Name, "~"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if cfg.Server.ShutdownTimeout != 30*time.Second {
		t.Errorf("shutdown_timeout = %s, want 30s", cfg.Server.ShutdownTimeout)
	}
}

func TestParseConfigUnsetVariable(t *testing.T) {
	doc := `
storage:
  driver: postgres
  dsn: postgres://canonid:${CANONID_DB_PASSWORD}@localhost/canonid
orgs:
  - id: a
    name: ${ORG_A_NAME}
shutdown_timeout: ${GRACE}
`
	_, problems := parseConfig([]byte(doc), env(nil))
	want := []string{
		"storage.dsn: environment variable CANONID_DB_PASSWORD is not set (use ${CANONID_DB_PASSWORD:-default} to give a default) (line 4)",
		"orgs[0].name: environment variable ORG_A_NAME is not set (use ${ORG_A_NAME:-default} to give a default) (line 7)",
		"shutdown_timeout: environment variable GRACE is not set (use ${GRACE:-default} to give a default) (line 8)",
	}
	// Only the missing variables: not the "must be set" or decode errors
	// they cause.
	if !slices.Equal(problems, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(problems, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseConfigNeverEchoesEnvironmentValues(t *testing.T) {
	_, problems := parseConfig([]byte("shutdown_timeout: ${SECRET}\n"), env(map[string]string{"SECRET": "hunter2"}))
	if len(problems) != 1 || strings.Contains(problems[0], "hunter2") || !strings.HasPrefix(problems[0], "shutdown_timeout: ") {
		t.Errorf("problems = %q, want one for shutdown_timeout without the value", problems)
	}
}

func TestParseConfigUnknownKeys(t *testing.T) {
	doc := `listen: 127.0.0.1:8080
listne: 127.0.0.1:9090
log:
  level: info
  colour: true
storage:
  driver: sqlite
  dns: data/x.db
orgs:
  - id: a
    name: A
    knid: school
  - {id: b, name: B, parent: a}
`
	_, problems := parseConfig([]byte(doc), env(nil))
	want := []string{
		"listne: unknown key (line 2)",
		"log.colour: unknown key (line 5)",
		"storage.dns: unknown key (line 8)",
		"orgs[0].knid: unknown key (line 12)",
		"orgs[1].parent: unknown key (line 13)",
	}
	if !slices.Equal(problems, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(problems, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseConfigSyntax(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"bad yaml", "log: [unclosed\n", "line"},
		{"two documents", "log: {}\n---\nlog: {}\n", "one YAML document"},
		{"not a mapping", "- a\n- b\n", "cannot decode !!seq"},
		{"duplicate key", "timezone: UTC\ntimezone: Europe/Paris\n", `timezone: duplicate key (first at line 1) (line 2)`},
		{"wrong type", "orgs: {id: a}\n", "orgs: cannot decode !!map"},
		{"duplicate hides nothing", "log:\n  level: info\n  level: debug\n  colour: red\n", "log.level: duplicate key (first at line 2) (line 3)\nlog.colour: unknown key (line 4)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, problems := parseConfig([]byte(tt.doc), env(nil))
			if len(problems) == 0 || !strings.Contains(strings.Join(problems, "\n"), tt.want) {
				t.Errorf("problems = %q, want one containing %q", problems, tt.want)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	doc := `listen: nohost
public_url: ftp://id.example
shutdown_timeout: soon
timezone: Mars/Olympus
log:
  level: loud
  format: xml
  levle: debug
storage:
  driver: mysql
orgs:
  - {id: x, name: X}
  - id: Bad_ID
  - {id: x, name: again}
  - {id: -dash, name: " "}
`
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := loadConfig(path, true)
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a *ConfigError", err)
	}
	want := []string{
		`shutdown_timeout: must be a duration such as 15s or 1m30s, got "soon" (line 3)`,
		`log.levle: unknown key (line 8)`,
		`listen: must be host:port, got "nohost" (line 1)`,
		`public_url: must be an absolute http(s) URL`,
		`timezone: unknown time zone "Mars/Olympus" (line 4)`,
		`log.level: must be debug, info, warn or error, got "loud" (line 6)`,
		`log.format: must be json or text, got "xml" (line 7)`,
		`storage.driver: must be sqlite or postgres, got "mysql" (line 10)`,
		`storage.dsn: must be set`, // the SQLite default applies to sqlite only
		`orgs[1].id: must be lower-case letters`,
		`orgs[1].name: must be set (line 13)`,
		`orgs[2].id: duplicate "x" (also orgs[0]) (line 14)`,
		`orgs[3].id: must be lower-case letters`,
		`orgs[3].name: must be set (line 15)`,
	}
	if len(ce.Problems) != len(want) {
		t.Errorf("got %d problems, want %d:\n%s", len(ce.Problems), len(want), strings.Join(ce.Problems, "\n"))
	}
	for i := range min(len(want), len(ce.Problems)) {
		if !strings.HasPrefix(ce.Problems[i], want[i]) {
			t.Errorf("problem %d = %q, want it to start with %q", i, ce.Problems[i], want[i])
		}
	}
	// The error prints a header and one problem per line.
	lines := strings.Split(err.Error(), "\n")
	if lines[0] != "configuration "+path+": 14 problems:" || len(lines) != 15 {
		t.Errorf("error text:\n%s", err)
	}
}

func TestValidateSections(t *testing.T) {
	base := defaultConfig
	tests := []struct {
		name   string
		modify func(*Config)
		want   []string
	}{
		{"defaults", func(*Config) {}, nil},
		{"postgres", func(c *Config) { c.Storage.Driver, c.Storage.DSN = "postgres", "postgres://localhost/canonid" }, nil},
		{"empty timezone", func(c *Config) { c.Timezone = "" }, []string{"timezone: must be set"}},
		{"text logs", func(c *Config) { c.Log.Format = "text"; c.Log.Level = "warn" }, nil},
		{"empty dsn", func(c *Config) { c.Storage.DSN = "" }, []string{"storage.dsn: must be set"}},
		{"zero timeout", func(c *Config) { c.Server.ShutdownTimeout = 0 }, []string{"shutdown_timeout: must be positive, got 0s"}},
		{"long org id", func(c *Config) { c.Orgs = []OrgConfig{{ID: strings.Repeat("a", 64), Name: "A"}} }, []string{"orgs[0].id: must be"}},
		{"max org id", func(c *Config) { c.Orgs = []OrgConfig{{ID: strings.Repeat("a", 63), Name: "A"}} }, nil},
		{"missing org id", func(c *Config) { c.Orgs = []OrgConfig{{Name: "A"}, {Name: "B"}} }, []string{"orgs[0].id: must be set", "orgs[1].id: must be set"}},
		{"three duplicates", func(c *Config) {
			c.Orgs = []OrgConfig{{ID: "a", Name: "A"}, {ID: "a", Name: "A"}, {ID: "a", Name: "A"}}
		}, []string{`orgs[1].id: duplicate "a" (also orgs[0])`, `orgs[2].id: duplicate "a" (also orgs[0])`}},
		{"targets", func(c *Config) {
			c.SCIM.Targets = []SCIMTargetConfig{{Config: push.Config{Name: "lms", URL: "https://lms.example/scim/v2", Token: "t"},
				Delivery: Delivery{Orgs: []string{"nowhere"}}}}
			c.Webhooks = []WebhookConfig{{Name: "lms", URL: "https://crm.example/hook", Secret: strings.Repeat("s", 16),
				Events: []string{"session.created"}, Delivery: Delivery{MinBackoff: time.Minute, MaxBackoff: time.Second}}}
		}, []string{`scim.targets[0].orgs: "nowhere" is not one of the orgs`, "webhooks[0].min_backoff: must not exceed max_backoff",
			`webhooks[0].events: "session.created" is not an event`, `webhooks[0].name: "lms" is already the name of scim.targets[0]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.modify(&c)
			got := errorStrings(splitErrors(c.Validate()))
			if len(got) != len(tt.want) {
				t.Fatalf("Validate() = %q, want %q", got, tt.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("problem %d = %q, want prefix %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestPrefixErrors(t *testing.T) {
	err := errors.Join(errors.New("driver: bad"), errors.Join(errors.New("dsn: empty"), errors.New("no key here")))
	got := errorStrings(prefixErrors("storage", err))
	want := []string{"storage.driver: bad", "storage.dsn: empty", "storage: no key here"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := prefixErrors("storage", nil); got != nil {
		t.Errorf("nil error gave %v", got)
	}
}

// exampleFile is the annotated configuration shipped in deploy/.
const exampleFile = "../../deploy/canonid.example.yaml"

func TestExampleFileValidates(t *testing.T) {
	vars := map[string]string{"CANONID_DB_PASSWORD": "example-password", "CAMPUS_LDAP_PASSWORD": "x", "CAMPUS_SSO_SECRET": "x",
		"CANONID_LOGIN_SECRET": strings.Repeat("l", 32), "CANONID_OIDC_SECRET": strings.Repeat("o", 32), "LMS_OIDC_SECRET": strings.Repeat("s", 32),
		"SMTP_PASSWORD": "x", "CANONID_MAIL_SECRET": strings.Repeat("m", 32), "SMS_GATEWAY_TOKEN": "x",
		"LMS_SCIM_TOKEN": "x", "ANNUAIRE_LDAP_PASSWORD": "x", "CRM_WEBHOOK_SECRET": strings.Repeat("w", 32)}
	cfg, err := loadConfigEnv(exampleFile, true, env(vars))
	if err != nil {
		t.Fatalf("%s does not load: %v", exampleFile, err)
	}
	if cfg.Storage.Driver != "postgres" || !strings.Contains(cfg.Storage.DSN, "example-password") {
		t.Errorf("storage = %+v, want postgres with the password from the environment", cfg.Storage)
	}
	// Without the variable, the error names it.
	delete(vars, "CANONID_DB_PASSWORD")
	if _, err := loadConfigEnv(exampleFile, true, env(vars)); err == nil || !strings.Contains(err.Error(), "storage.dsn: environment variable CANONID_DB_PASSWORD is not set") {
		t.Errorf("without CANONID_DB_PASSWORD: %v", err)
	}
}

// TestExampleFileShowsEveryKey keeps the example in step with the Config
// struct: every key the decoder accepts appears in the file.
func TestExampleFileShowsEveryKey(t *testing.T) {
	data, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	idx := newNodeIndex()
	expander{lookup: func(string) (string, bool) { return "x", true }, idx: idx, problems: new([]lineProblem)}.walk(doc.Content[0], "")
	index := regexp.MustCompile(`\[[0-9]+\]`)
	present := map[string]bool{}
	for p := range idx.lines {
		present[index.ReplaceAllString(p, "[]")] = true
	}
	var missing []string
	for _, k := range yamlKeys(reflect.TypeFor[Config](), "") {
		if !present[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%s does not show these keys: %v", exampleFile, missing)
	}
}

// yamlKeys lists the key paths a struct type accepts, sequences as "[]".
func yamlKeys(t reflect.Type, prefix string) []string {
	var out []string
	for f := range t.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if opts == "inline" {
			out = append(out, yamlKeys(f.Type, prefix)...)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		out = append(out, path)
		if reflect.PointerTo(f.Type).Implements(reflect.TypeFor[yaml.Unmarshaler]()) {
			continue // decodes itself: its keys are not its fields
		}
		switch ft := f.Type; {
		case ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Time]():
			out = append(out, yamlKeys(ft, path)...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			out = append(out, yamlKeys(ft.Elem(), path+"[]")...)
		}
	}
	return out
}
