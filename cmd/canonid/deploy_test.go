package main

// The configurations that deploy/ ships, loaded by canonid's own loader with
// the environment their deployment gives them: compose (deploy/compose.yaml
// and deploy/compose/canonid.yaml), the Helm chart (its ConfigMap and
// Secret, rendered by deploy/deploytest) and the image
// (deploy/image/canonid.yaml). The files themselves are checked by the
// tests of deploy/deploytest.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/canonid/canonid/connectors"
	ldapconn "github.com/canonid/canonid/connectors/ldap"
	"github.com/canonid/canonid/deploy/deploytest"
	"github.com/canonid/canonid/mapping"
	"github.com/canonid/canonid/server"
)

const deployDir = "../../deploy"

// deployLookup is a lookup over a fixed environment.
func deployLookup(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

// deployPort returns the port of a host:port.
func deployPort(t *testing.T, hostport string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatalf("%q: %v", hostport, err)
	}
	return port
}

// composeCanonid loads the compose file and the configuration its canonid
// service mounts, with the environment compose gives canonid.
func composeCanonid(t *testing.T, env map[string]string) (deploytest.Compose, Config) {
	t.Helper()
	c, err := deploytest.LoadCompose(filepath.Join(deployDir, "compose.yaml"), env)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfigEnv(filepath.Join(deployDir, "compose/canonid.yaml"), true, deployLookup(c.Services["canonid"].Environment))
	if err != nil {
		t.Fatalf("compose/canonid.yaml with compose's environment: %v", err)
	}
	return c, cfg
}

func TestDeployComposeConfig(t *testing.T) {
	c, cfg := composeCanonid(t, nil)
	cn, pg, dir := c.Services["canonid"], c.Services["postgres"], c.Services["openldap"]

	// Served where compose publishes it.
	if got := deployPort(t, cfg.Server.Listen); !strings.HasSuffix(cn.Ports[0], ":"+got+":"+got) {
		t.Errorf("canonid listens on %s, compose publishes %v", cfg.Server.Listen, cn.Ports)
	}
	if u, err := url.Parse(cfg.Server.PublicURL); err != nil || !strings.HasPrefix(cn.Ports[0], "127.0.0.1:"+u.Port()+":") {
		t.Errorf("public_url %s is not the published address %v", cfg.Server.PublicURL, cn.Ports)
	}

	// The database of the postgres service, with its password.
	dsn, err := url.Parse(cfg.Storage.DSN)
	if err != nil || cfg.Storage.Driver != "postgres" || dsn.Host != "postgres:5432" {
		t.Fatalf("storage = %+v", cfg.Storage)
	}
	if pw, _ := dsn.User.Password(); dsn.User.Username() != pg.Environment["POSTGRES_USER"] || pw != pg.Environment["POSTGRES_PASSWORD"] || dsn.Path != "/"+pg.Environment["POSTGRES_DB"] {
		t.Errorf("dsn %s does not match the postgres service %v", cfg.Storage.DSN, pg.Environment)
	}

	// The directory of the openldap service, with the account it seeds.
	if len(cfg.Connectors) != 1 {
		t.Fatalf("connectors = %+v", cfg.Connectors)
	}
	lc := cfg.Connectors[0]
	if lc.Type != "ldap" || lc.LDAP.URL != "ldap://openldap:1389" || lc.Interval <= 0 {
		t.Errorf("connector = %s %s, interval %s", lc.Type, lc.LDAP.URL, lc.Interval)
	}
	if lc.LDAP.BindDN != "cn=canonid,ou=services,dc=univ-test,dc=fr" || lc.LDAP.BindPassword != dir.Environment["LDAP_CANONID_PASSWORD"] {
		t.Errorf("bind %s / %q, the directory seeds cn=canonid,ou=services with %q", lc.LDAP.BindDN, lc.LDAP.BindPassword, dir.Environment["LDAP_CANONID_PASSWORD"])
	}

	// Mail to the mailpit service, over STARTTLS.
	if cfg.Mail == nil || cfg.Mail.Driver != "smtp" || cfg.Mail.SMTP.Host != "mailpit" || cfg.Mail.SMTP.TLS != "starttls" {
		t.Errorf("mail = %+v", cfg.Mail)
	}

	// Every secret comes from compose's environment: without one, the
	// configuration does not load.
	for name := range cn.Environment {
		env := map[string]string{}
		for k, v := range cn.Environment {
			if k != name {
				env[k] = v
			}
		}
		_, err := loadConfigEnv(filepath.Join(deployDir, "compose/canonid.yaml"), true, deployLookup(env))
		if err == nil || !strings.Contains(err.Error(), "environment variable "+name+" is not set") {
			t.Errorf("compose sets %s, which the configuration does not read: %v", name, err)
		}
	}
}

// chartConfig renders the Helm chart and loads the configuration of its
// ConfigMap with the environment of its Secret.
func chartConfig(t *testing.T, values map[string]any) (Config, map[string]any) {
	t.Helper()
	r, err := deploytest.RenderChart(filepath.Join(deployDir, "helm/canonid"), deploytest.Options{Values: values})
	if err != nil {
		t.Fatal(err)
	}
	docs, err := r.Documents()
	if err != nil {
		t.Fatal(err)
	}
	var text string
	env := map[string]string{}
	var dep map[string]any
	for _, d := range docs {
		switch d["kind"] {
		case "ConfigMap":
			text = d["data"].(map[string]any)["canonid.yaml"].(string)
		case "Secret":
			for k, v := range d["stringData"].(map[string]any) {
				env[k] = v.(string)
			}
		case "Deployment":
			dep = d
		}
	}
	path := filepath.Join(t.TempDir(), "canonid.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfigEnv(path, true, deployLookup(env))
	if err != nil {
		t.Fatalf("the chart's configuration with its Secret: %v\n%s", err, text)
	}
	return cfg, dep
}

func TestDeployChartConfig(t *testing.T) {
	cfg, dep := chartConfig(t, nil)
	if cfg.Storage.Driver != "postgres" {
		t.Errorf("storage driver %s: the chart's 2 replicas need postgres", cfg.Storage.Driver)
	}
	c := dep["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	port := c["ports"].([]any)[0].(map[string]any)["containerPort"]
	if got := deployPort(t, cfg.Server.Listen); got != fmt.Sprint(port) {
		t.Errorf("canonid listens on %s, the container port is %v", cfg.Server.Listen, port)
	}
	if cfg.Mail == nil || cfg.Login.Secret == nil || cfg.OIDC.Keys.Secret == "" {
		t.Error("the chart's configuration lacks mail, login.secret or oidc.keys.secret")
	}

	// A configuration given as values is rendered and validated the same
	// way: here one replica on SQLite, with an org and a directory.
	cfg, _ = chartConfig(t, map[string]any{
		"replicaCount": 1,
		"config": map[string]any{
			"storage": map[string]any{"driver": "sqlite", "dsn": "/var/lib/canonid/canonid.db"},
			"orgs":    []any{map[string]any{"id": "univ-test", "name": "Université de Test"}},
			"connectors": []any{map[string]any{
				"name": "campus", "type": "ldap", "url": "ldaps://ldap.univ-test.fr", "base_dn": "ou=people,dc=univ-test,dc=fr",
				"mapping": "supann", "org": "univ-test", "interval": "5m", "page_size": 1000000,
			}},
		},
	})
	if cfg.Storage.Driver != "sqlite" || len(cfg.Connectors) != 1 || cfg.Connectors[0].LDAP.PageSize != 1000000 || cfg.Connectors[0].Interval != 5*time.Minute {
		t.Errorf("values not carried to the configuration: %+v %+v", cfg.Storage, cfg.Connectors)
	}
}

func TestDeployImageConfig(t *testing.T) {
	path := filepath.Join(deployDir, "image/canonid.yaml")
	cfg, err := loadConfigEnv(path, true, deployLookup(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Storage.Driver != "sqlite" || !strings.HasPrefix(cfg.Storage.DSN, "/var/lib/canonid/") {
		t.Errorf("storage = %+v, want SQLite in /var/lib/canonid (the image's non-root directory)", cfg.Storage)
	}
	stages, err := deploytest.ParseDockerfile(filepath.Join(deployDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if expose, _ := stages[len(stages)-1].Last("EXPOSE"); deployPort(t, cfg.Server.Listen) != expose {
		t.Errorf("listen %s, the image exposes %s", cfg.Server.Listen, expose)
	}
	if host, _, _ := net.SplitHostPort(cfg.Server.Listen); host != "" && host != "0.0.0.0" {
		t.Errorf("listen %s is not reachable from outside the container", cfg.Server.Listen)
	}
	cfg, err = loadConfigEnv(path, true, deployLookup(map[string]string{"CANONID_PUBLIC_URL": "https://id.example.org"}))
	if err != nil || cfg.Server.PublicURL != "https://id.example.org" {
		t.Errorf("CANONID_PUBLIC_URL: %v %s", err, cfg.Server.PublicURL)
	}
}

// deployPinger answers Ping with err.
type deployPinger struct{ err error }

func (p deployPinger) Ping(context.Context) error { return p.err }

// TestDeployProbes sends the chart's probes to canonid's server: liveness
// holds while the database is down, readiness follows the database.
func TestDeployProbes(t *testing.T) {
	_, dep := chartConfig(t, nil)
	c := dep["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	path := func(probe string) string {
		return c[probe].(map[string]any)["httpGet"].(map[string]any)["path"].(string)
	}
	for _, tc := range []struct {
		probe string
		dbErr error
		want  int
	}{
		{"livenessProbe", nil, http.StatusOK},
		{"livenessProbe", errors.New("connection refused"), http.StatusOK},
		{"startupProbe", nil, http.StatusOK},
		{"readinessProbe", nil, http.StatusOK},
		{"readinessProbe", errors.New("connection refused"), http.StatusServiceUnavailable},
	} {
		srv := server.New(server.DefaultConfig(), server.Deps{Ready: deployPinger{tc.dbErr}})
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path(tc.probe), nil))
		if rec.Code != tc.want {
			t.Errorf("%s %s with database error %v: %d, want %d", tc.probe, path(tc.probe), tc.dbErr, rec.Code, tc.want)
		}
	}
}

// TestDeployComposeDirectory runs the compose stack's directory seed
// (deploy/compose/openldap/seed.sh) with the slapd installed here, and
// points the connector of compose/canonid.yaml at it: the service account
// reads the eight people and a person logs in with the documented
// password. Skipped without slapd, unless CANONID_REQUIRE_INTEGRATION=1.
func TestDeployComposeDirectory(t *testing.T) {
	var missing []string
	paths := map[string]string{}
	for _, prog := range []string{"slapd", "slapadd", "slappasswd"} {
		p, err := exec.LookPath(prog)
		if err != nil {
			if _, serr := os.Stat("/usr/sbin/" + prog); serr == nil {
				p, err = "/usr/sbin/"+prog, nil
			}
		}
		if err != nil {
			missing = append(missing, prog)
		}
		paths[prog] = p
	}
	if len(missing) > 0 {
		if os.Getenv("CANONID_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("%v not installed (CANONID_REQUIRE_INTEGRATION=1)", missing)
		}
		t.Skipf("%v not installed (apt-get install slapd ldap-utils); skipping", missing)
	}

	c, cfg := composeCanonid(t, nil)
	dirEnv := c.Services["openldap"].Environment
	home := t.TempDir()
	seedDir, err := filepath.Abs(filepath.Join(deployDir, "compose/openldap"))
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "seed.log")
	readLog := func() string { b, _ := os.ReadFile(logPath); return string(b) }

	// start runs seed.sh on a free port: the first run seeds home, a
	// later one (the port was taken meanwhile) only starts slapd again.
	// It returns the URL once the service account binds.
	lc := cfg.Connectors[0]
	start := func() (string, bool) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ldapURL := "ldap://" + l.Addr().String()
		l.Close()
		logFile, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		defer logFile.Close()
		cmd := exec.Command(filepath.Join(seedDir, "seed.sh"))
		cmd.Env = []string{
			"PATH=" + filepath.Dir(paths["slapd"]) + ":" + filepath.Dir(paths["slappasswd"]) + ":/usr/bin:/bin",
			"LDAP_ADMIN_PASSWORD=" + dirEnv["LDAP_ADMIN_PASSWORD"],
			"LDAP_CANONID_PASSWORD=" + dirEnv["LDAP_CANONID_PASSWORD"],
			"LDAP_HOME=" + home,
			"LDAP_SEED=" + seedDir,
			"LDAP_URLS=" + ldapURL + "/",
			"LDAP_DEBUG=0",
		}
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
		})
		// Ready when the service account binds: bounded polling with
		// backoff.
		deadline := time.Now().Add(30 * time.Second)
		for wait := 10 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
			select {
			case err := <-exited:
				exited <- err // for the cleanup
				if strings.Contains(readLog(), "Address already in use") {
					return "", false
				}
				t.Fatalf("seed.sh exited: %v\n%s", err, readLog())
			default:
			}
			conn, err := ldap.DialURL(ldapURL)
			if err == nil {
				err = conn.Bind(lc.LDAP.BindDN, lc.LDAP.BindPassword)
				conn.Close()
				if err == nil {
					return ldapURL, true
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("the directory is not ready after 30s (%v):\n%s", err, readLog())
			}
			time.Sleep(wait)
		}
	}
	for attempt := 1; ; attempt++ {
		ldapURL, ok := start()
		if ok {
			// The connector of compose/canonid.yaml, at this server.
			lc.LDAP.URL = ldapURL
			break
		}
		if attempt == 3 {
			t.Fatalf("no free port after %d attempts:\n%s", attempt, readLog())
		}
	}

	m, err := mapping.Compile(lc.Mapping)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := ldapconn.New(lc.Name, lc.LDAP, m.Attributes(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var uids []string
	if err := conn.List(ctx, func(e connectors.Entry) error {
		uids = append(uids, strings.Join(e.Attributes["uid"], ","))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(uids) != 8 {
		t.Errorf("the service account lists %d people (%v), want 8", len(uids), uids)
	}
	e, err := conn.Authenticate(ctx, "amartin", "pw-amartin")
	if err != nil || e.ExternalID == "" {
		t.Errorf("amartin / pw-amartin: %v %+v", err, e)
	}
	if _, err := conn.Authenticate(ctx, "alice.martin@univ-test.fr", "wrong"); !errors.Is(err, connectors.ErrInvalidCredentials) {
		t.Errorf("a wrong password: %v", err)
	}
}
