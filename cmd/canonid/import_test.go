package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"

	"github.com/canonid/canonid/imports"
)

const arsConfig = `connectors:
  - name: ars-occitanie
    type: csv
    key_columns: [Mail]
    mapping:
      family_name: Nom
      given_name: Prénom
      birth_date: {from: ["Date de naissance"], required: true}
      email: {from: [Mail], required: true}
    correlate: [email, recovery_email, name_birth_date]
`

func importJSON(t *testing.T, args ...string) (imports.Report, cliResult) {
	t.Helper()
	r := runCLI(t, append([]string{"import", "--json"}, args...)...)
	var rep imports.Report
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		t.Fatalf("import --json: %q: %v (stderr %s)", r.stdout, err, r.stderr)
	}
	return rep, r
}

func TestImportCommand(t *testing.T) {
	cfg := writeConfig(t, arsConfig)
	dir := t.TempDir()
	file := filepath.Join(dir, "internes.csv")
	data, _ := charmap.Windows1252.NewEncoder().String("Nom;Prénom;Date de naissance;Mail\r\n" +
		"Lefèvre;Élodie;12/04/1998;elodie@perso.example\r\n" +
		"Petit;Léa;31/02/2000;lea@perso.example\r\n")
	if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, r := importJSON(t, "--config", cfg, "--connector", "ars-occitanie", "--dry-run", file)
	if r.code != 0 || rep.Created != 1 || len(rep.Errors) != 1 || rep.ImportID != "" || rep.Encoding != "windows-1252" {
		t.Fatalf("dry run: exit %d, %+v", r.code, rep)
	}
	rep, r = importJSON(t, "--config", cfg, "--connector", "ars-occitanie", file)
	if r.code != 0 || rep.Created != 1 || rep.ImportID == "" || rep.Errors[0].Line != 3 || rep.Errors[0].Column != "Date de naissance" {
		t.Fatalf("import: exit %d, %+v", r.code, rep)
	}
	rep, _ = importJSON(t, "--config", cfg, "--connector", "ars-occitanie", file)
	if rep.Unchanged != 1 || rep.Created != 0 {
		t.Fatalf("second import: %+v", rep.Summary)
	}
	// --strict: a row in error, nothing imported, exit 1.
	rep, r = importJSON(t, "--config", cfg, "--connector", "ars-occitanie", "--strict", file)
	if r.code != 1 || rep.Status != imports.StatusRejected || !strings.Contains(r.stderr, "nothing imported") {
		t.Fatalf("strict: exit %d, %+v, %s", r.code, rep, r.stderr)
	}
	// A missing required column: refused, named.
	bad := filepath.Join(dir, "sans-mail.csv")
	os.WriteFile(bad, []byte("Nom;Prénom;Date de naissance\nMartin;Jean;01/01/1990\n"), 0o600)
	r = runCLI(t, "import", "--config", cfg, "--connector", "ars-occitanie", bad)
	if r.code != 1 || !strings.Contains(r.stdout+r.stderr, "missing required column Mail") {
		t.Fatalf("missing column: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// The text report.
	r = mustRun(t, "import", "--config", cfg, "--connector", "ars-occitanie", file)
	if !strings.Contains(r.stdout, "ars-occitanie: import of internes.csv (csv, windows-1252, \";\"): completed, 2 rows") ||
		!strings.Contains(r.stdout, "error: line 3, column Date de naissance") {
		t.Fatalf("text report:\n%s", r.stdout)
	}
	// Unknown connector.
	r = runCLI(t, "import", "--config", cfg, "--connector", "nope", file)
	if r.code != 1 || !strings.Contains(r.stderr, `unknown file connector "nope"`) {
		t.Fatalf("unknown connector: %d %s", r.code, r.stderr)
	}
}
