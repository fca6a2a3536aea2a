// Package slapdtest starts a real OpenLDAP slapd for tests and benchmarks:
// a throw-away directory for dc=univ-test,dc=fr with the SupAnn, eduPerson
// and SCHAC schemas, bulk-loaded with slapadd before it listens on a free
// port of 127.0.0.1. It also holds a small fixture of campus people
// (People) and a generator of large SupAnn directories (GenerateSupann).
//
// Start skips the test when slapd is not installed, unless the environment
// sets CANONID_REQUIRE_INTEGRATION=1, in which case it fails it.
package slapdtest

import (
	"bufio"
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Directory layout and credentials of every server Start runs.
const (
	// Suffix is the naming context of the test database.
	Suffix = "dc=univ-test,dc=fr"
	// BaseDN holds the people.
	BaseDN = "ou=people," + Suffix
	// AdminDN is the database's root DN (no size or time limits).
	AdminDN = "cn=admin," + Suffix
	// AdminPassword is AdminDN's password.
	AdminPassword = "admin-secret"
)

// BaseLDIF holds the entries above the people: the suffix and ou=people.
// Start always loads it first; LDIF given in Options goes below it.
const BaseLDIF = `dn: ` + Suffix + `
objectClass: dcObject
objectClass: organization
dc: univ-test
o: Universite de Test

dn: ` + BaseDN + `
objectClass: organizationalUnit
ou: people

`

// People is a fixture of eight campus people under BaseDN: students,
// employees, an intern who is both, an affiliate, one entry without mail
// (uid groux) and one with an impossible birth date (uid hfaux). Their
// passwords are given by Password.
//
//go:embed testdata/people.ldif
var People string

// Password returns the password of the fixture person with this uid.
func Password(uid string) string { return "pw-" + uid }

//go:embed schema/*.ldif
var schemaFS embed.FS

// EnvRequireIntegration names the environment variable that turns a
// missing slapd from a skip into a failure.
const EnvRequireIntegration = "CANONID_REQUIRE_INTEGRATION"

// Options tunes the server Start runs.
type Options struct {
	// LDIF, when not nil, is loaded with slapadd before slapd starts,
	// after BaseLDIF: fast enough for 100,000 entries. Entries may carry
	// their own entryUUID; slapadd adds the operational attributes they
	// lack.
	LDIF io.Reader
	// Syncprov loads the syncprov overlay, so that the server offers
	// Content Synchronization (RFC 4533).
	Syncprov bool
	// SessionLog, with Syncprov, keeps a session log of that many
	// operations: refreshes then report deletions explicitly (delete
	// phase) instead of through a present phase.
	SessionLog int
	// TLS gives the server a certificate for 127.0.0.1, issued by a CA
	// made for the test (Server.CAFile): URL then accepts StartTLS, and
	// the server also listens on LDAPSURL.
	TLS bool
}

// Server is a running slapd. Its helpers write with AdminDN.
type Server struct {
	// URL is where the server listens: ldap://127.0.0.1:<port>.
	URL string
	// LDAPSURL is ldaps://127.0.0.1:<port> with Options.TLS, else empty.
	LDAPSURL string
	// CAFile is the PEM certificate of the CA that issued the server's
	// certificate, with Options.TLS.
	CAFile string
	// Suffix, BaseDN, AdminDN and AdminPassword repeat the package
	// constants for convenience.
	Suffix, BaseDN, AdminDN, AdminPassword string

	dir string
	// slapd, confDir and withTLS start it again (Restart); stop stops
	// the running process, nil when stopped.
	slapd, confDir string
	withTLS        bool
	stop           func()
}

// install locates the OpenLDAP programs and files Start needs.
type install struct {
	slapd, slapadd string
	modulePath     string // empty when back_mdb is built in
	schemaDir      string
}

func findInstall() (install, error) {
	var in install
	var missing []string
	for _, p := range []struct {
		name string
		dst  *string
	}{{"slapd", &in.slapd}, {"slapadd", &in.slapadd}} {
		if path, err := exec.LookPath(p.name); err == nil {
			*p.dst = path
			continue
		}
		found := false
		for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/usr/libexec"} {
			path := filepath.Join(dir, p.name)
			if _, err := os.Stat(path); err == nil {
				*p.dst, found = path, true
				break
			}
		}
		if !found {
			missing = append(missing, p.name)
		}
	}
	for _, dir := range []string{"/usr/lib/ldap", "/usr/lib/openldap", "/usr/lib64/openldap", "/usr/libexec/openldap", "/usr/local/libexec/openldap"} {
		if _, err := os.Stat(filepath.Join(dir, "back_mdb.so")); err == nil {
			in.modulePath = dir
			break
		}
	}
	for _, dir := range []string{"/etc/ldap/schema", "/etc/openldap/schema", "/usr/local/etc/openldap/schema"} {
		if _, err := os.Stat(filepath.Join(dir, "inetorgperson.ldif")); err == nil {
			in.schemaDir = dir
			break
		}
	}
	if in.schemaDir == "" {
		missing = append(missing, "core schema LDIF (inetorgperson.ldif)")
	}
	if len(missing) > 0 {
		return in, fmt.Errorf("OpenLDAP not installed (missing %s; on Debian: apt-get install slapd ldap-utils)", strings.Join(missing, ", "))
	}
	return in, nil
}

// Start runs slapd for the test and stops it, removing its files, when the
// test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	in, err := findInstall()
	if err != nil {
		if os.Getenv(EnvRequireIntegration) == "1" {
			t.Fatalf("slapdtest: %v (%s=1)", err, EnvRequireIntegration)
		}
		t.Skipf("slapdtest: %v; skipping (set %s=1 to fail instead)", err, EnvRequireIntegration)
	}

	dir := t.TempDir()
	confDir := filepath.Join(dir, "slapd.d")
	dataDir := filepath.Join(dir, "data")
	for _, d := range []string{confDir, dataDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatalf("slapdtest: %v", err)
		}
	}

	s := &Server{Suffix: Suffix, BaseDN: BaseDN, AdminDN: AdminDN, AdminPassword: AdminPassword, dir: dir}
	var tf *tlsFiles
	if opts.TLS {
		if tf, err = writeTLSFiles(dir); err != nil {
			t.Fatalf("slapdtest: %v", err)
		}
		s.CAFile = tf.ca
	}
	config, err := configLDIF(in, dir, dataDir, tf, opts)
	if err != nil {
		t.Fatalf("slapdtest: %v", err)
	}
	configFile := filepath.Join(dir, "config.ldif")
	if err := os.WriteFile(configFile, config, 0o600); err != nil {
		t.Fatalf("slapdtest: %v", err)
	}
	runTool(t, in.slapadd, "-n0", "-F", confDir, "-l", configFile)

	dataFile := filepath.Join(dir, "data.ldif")
	if err := writeData(dataFile, opts.LDIF); err != nil {
		t.Fatalf("slapdtest: %v", err)
	}
	// -q: no consistency checks (fast bulk load); -w: write the
	// contextCSN that syncprov starts from.
	runTool(t, in.slapadd, "-q", "-w", "-n1", "-F", confDir, "-l", dataFile)
	if err := os.Remove(dataFile); err != nil {
		t.Fatalf("slapdtest: %v", err)
	}

	s.slapd, s.confDir, s.withTLS = in.slapd, confDir, opts.TLS
	const attempts = 5
	for attempt := 1; ; attempt++ {
		err := s.run(t, 0, 0)
		if err == nil {
			return s
		}
		if attempt == attempts || !errors.Is(err, errPortTaken) {
			t.Fatalf("slapdtest: %v", err)
		}
	}
}

var errPortTaken = errors.New("port taken")

// Stop stops the server (SIGTERM), as an outage; Restart starts it again
// on the same ports with the same data.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if s.stop == nil {
		t.Fatal("slapdtest: Stop: the server is not running")
	}
	s.stop()
	s.stop = nil
}

// Restart starts a stopped server again, on the same URLs.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if s.stop != nil {
		t.Fatal("slapdtest: Restart: the server is running")
	}
	port, err := strconv.Atoi(s.URL[strings.LastIndex(s.URL, ":")+1:])
	if err != nil {
		t.Fatalf("slapdtest: %v", err)
	}
	tlsPort := 0
	if s.LDAPSURL != "" {
		if tlsPort, err = strconv.Atoi(s.LDAPSURL[strings.LastIndex(s.LDAPSURL, ":")+1:]); err != nil {
			t.Fatalf("slapdtest: %v", err)
		}
	}
	if err := s.run(t, port, tlsPort); err != nil {
		t.Fatalf("slapdtest: restart: %v", err)
	}
}

// run starts slapd on the given ports (0: free ones) and waits until it
// answers a bind; it sets s.URL (and s.LDAPSURL) and s.stop.
func (s *Server) run(t testing.TB, port, tlsPort int) error {
	slapd, confDir, withTLS := s.slapd, s.confDir, s.withTLS
	var err error
	if port == 0 {
		if port, err = freePort(); err != nil {
			return err
		}
	}
	url := "ldap://127.0.0.1:" + strconv.Itoa(port)
	listen := url
	ldapsURL := ""
	if withTLS {
		if tlsPort == 0 {
			if tlsPort, err = freePort(); err != nil {
				return err
			}
		}
		ldapsURL = "ldaps://127.0.0.1:" + strconv.Itoa(tlsPort)
		listen += " " + ldapsURL
	}
	logPath := filepath.Join(s.dir, "slapd.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	// -d 0 keeps slapd in the foreground, so that it is our child.
	cmd := exec.Command(slapd, "-d", "0", "-h", listen, "-F", confDir)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", slapd, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
		})
	}

	// Readiness of a child process: bounded polling with backoff.
	deadline := time.Now().Add(20 * time.Second)
	wait := 5 * time.Millisecond
	for {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(logPath)
			if bytes.Contains(log, []byte("Address already in use")) {
				return fmt.Errorf("slapd on %s: %w", listen, errPortTaken)
			}
			return fmt.Errorf("slapd on %s exited (%v): %s", listen, err, log)
		default:
		}
		conn, err := ldap.DialURL(url, ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
		if err == nil {
			err = conn.Bind(s.AdminDN, s.AdminPassword)
			conn.Close()
			if err == nil {
				t.Cleanup(stop)
				s.URL, s.LDAPSURL, s.stop = url, ldapsURL, stop
				return nil
			}
		}
		if time.Now().After(deadline) {
			stop()
			log, _ := os.ReadFile(logPath)
			return fmt.Errorf("slapd on %s not ready after 20s (%v): %s", listen, err, log)
		}
		time.Sleep(wait)
		wait = min(2*wait, 100*time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func runTool(t testing.TB, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("slapdtest: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func writeData(path string, extra io.Reader) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	_, err = w.WriteString(BaseLDIF)
	if err == nil && extra != nil {
		if _, err = io.Copy(w, extra); err == nil {
			_, err = w.WriteString("\n")
		}
	}
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// configLDIF renders the cn=config tree: modules, schemas, the frontend,
// the config database and the mdb database of Suffix.
func configLDIF(in install, dir, dataDir string, tf *tlsFiles, opts Options) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, `dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: %s
olcLogLevel: 0
`, filepath.Join(dir, "slapd.pid"))
	if tf != nil {
		fmt.Fprintf(&b, "olcTLSCACertificateFile: %s\nolcTLSCertificateFile: %s\nolcTLSCertificateKeyFile: %s\n", tf.ca, tf.cert, tf.key)
	}
	b.WriteString("\n")

	if in.modulePath != "" {
		fmt.Fprintf(&b, "dn: cn=module{0},cn=config\nobjectClass: olcModuleList\ncn: module{0}\nolcModulePath: %s\nolcModuleLoad: back_mdb\n", in.modulePath)
		if opts.Syncprov {
			b.WriteString("olcModuleLoad: syncprov\n")
		}
		b.WriteString("\n")
	}

	b.WriteString("dn: cn=schema,cn=config\nobjectClass: olcSchemaConfig\ncn: schema\n\n")
	for _, name := range []string{"core", "cosine", "inetorgperson"} {
		data, err := os.ReadFile(filepath.Join(in.schemaDir, name+".ldif"))
		if err != nil {
			return nil, err
		}
		b.Write(data)
		b.WriteString("\n\n")
	}
	for _, name := range []string{"eduperson", "schac", "supann"} {
		data, err := schemaFS.ReadFile("schema/" + name + ".ldif")
		if err != nil {
			return nil, err
		}
		b.Write(data)
		b.WriteString("\n\n")
	}

	fmt.Fprintf(&b, `dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: %s
olcRootDN: %s
olcRootPW: %s
olcDbDirectory: %s
olcDbMaxSize: 8589934592
olcDbIndex: objectClass eq
olcDbIndex: entryUUID eq
olcDbIndex: entryCSN eq
olcDbIndex: modifyTimestamp eq
olcDbIndex: uid eq
olcDbIndex: mail eq
olcAccess: {0}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {1}to * by users read by * none

`, Suffix, AdminDN, AdminPassword, dataDir)

	if opts.Syncprov {
		b.WriteString(`dn: olcOverlay={0}syncprov,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcSyncProvConfig
olcOverlay: {0}syncprov
olcSpCheckpoint: 100 10
`)
		if opts.SessionLog > 0 {
			fmt.Fprintf(&b, "olcSpSessionlog: %d\n", opts.SessionLog)
		}
		b.WriteString("\n")
	}
	return b.Bytes(), nil
}
