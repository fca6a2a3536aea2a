package csvimport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

var update = flag.Bool("update", false, "rewrite the golden files and testdata/interns.xlsx")

// readAll opens data and returns all its rows, checking what every row
// must hold.
func readAll(t testing.TB, data []byte, cfg Config) (*File, []Row) {
	t.Helper()
	f, err := Open(bytes.NewReader(data), int64(len(data)), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	var rows []Row
	err = f.Rows(context.Background(), func(r Row) error {
		checkRow(t, r)
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		t.Fatalf("Rows: %v", err)
	}
	return f, rows
}

// checkRow checks what holds for every row of every file.
func checkRow(t testing.TB, r Row) {
	t.Helper()
	switch {
	case r.Line < 2:
		t.Fatalf("row on line %d", r.Line)
	case r.Entry.Line != r.Line:
		t.Fatalf("line %d: Entry.Line = %d", r.Line, r.Entry.Line)
	case r.Err == nil && r.Entry.ExternalID == "":
		t.Fatalf("line %d: neither key nor error", r.Line)
	case r.Err != nil && (r.Err.Line != r.Line || r.Entry.ExternalID != "" || r.Err.Reason == ""):
		t.Fatalf("line %d: error %+v with key %q", r.Line, r.Err, r.Entry.ExternalID)
	}
	for col, vals := range r.Entry.Attributes {
		if len(vals) != 1 || vals[0] == "" || strings.TrimSpace(vals[0]) != vals[0] || !utf8.ValidString(vals[0]) {
			t.Fatalf("line %d: column %q = %q", r.Line, col, vals)
		}
	}
}

// golden is what a file reads as, for golden files.
type golden struct {
	Format    string      `json:"format"`
	Encoding  string      `json:"encoding"`
	Delimiter string      `json:"delimiter,omitempty"`
	Header    []string    `json:"header"`
	Rows      []goldenRow `json:"rows"`
}

type goldenRow struct {
	Line       int                 `json:"line"`
	ID         string              `json:"id,omitempty"`
	Attributes map[string][]string `json:"attributes"`
	Err        *RowError           `json:"error,omitempty"`
}

// dump reads data and returns it as golden JSON.
func dump(t testing.TB, data []byte, cfg Config) string {
	t.Helper()
	f, rows := readAll(t, data, cfg)
	g := golden{Format: f.Format(), Encoding: f.Encoding(), Delimiter: f.Delimiter(), Header: f.Header(), Rows: []goldenRow{}}
	for _, r := range rows {
		g.Rows = append(g.Rows, goldenRow{Line: r.Line, ID: r.Entry.ExternalID, Attributes: r.Entry.Attributes, Err: r.Err})
	}
	b, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

func TestGolden(t *testing.T) {
	mail := []string{"Mail"}
	for _, tc := range []struct {
		name, file string
		cfg        Config
	}{
		{"latin1_semicolon", "latin1_semicolon.csv", Config{KeyColumns: mail}},
		{"latin1_semicolon_hashed_key", "latin1_semicolon.csv", Config{KeyColumns: []string{"nom", "PRÉNOM", " Date de naissance "}}},
		{"utf8_bom_comma", "utf8_bom_comma.csv", Config{KeyColumns: mail}},
		{"multiline", "multiline.csv", Config{KeyColumns: mail}},
		{"errors", "errors.csv", Config{KeyColumns: mail}},
		{"errors_hashed_key", "errors.csv", Config{KeyColumns: []string{"Nom", "Prénom"}}},
		{"interns", "interns.xlsx", Config{KeyColumns: mail}},
		{"interns_stages", "interns.xlsx", Config{KeyColumns: mail, Sheet: "stages"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got := dump(t, data, tc.cfg)
			path := filepath.Join("testdata", "golden", tc.name+".json")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s (run go test -update and review the diff):\n%s", tc.file, path, got)
			}
		})
	}
}

// TestRowErrors checks the errors of testdata/errors.csv one by one.
func TestRowErrors(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "errors.csv"))
	if err != nil {
		t.Fatal(err)
	}
	_, rows := readAll(t, data, Config{KeyColumns: []string{"Mail"}})
	want := map[int]RowError{
		3: {Line: 3, Column: "Mail", Reason: "key column Mail is empty"},
		4: {Line: 4, Column: "Mail", Value: "camille@perso.example", Reason: "same key as line 2"},
		5: {Line: 5, Value: "en trop", Reason: "4 cells, but the header has 3 columns"},
		8: {Line: 8, Column: "Mail", Reason: "key column Mail is empty"},
	}
	var lines []int
	for _, r := range rows {
		lines = append(lines, r.Line)
		w, bad := want[r.Line]
		switch {
		case bad && (r.Err == nil || *r.Err != w):
			t.Errorf("line %d: error %+v, want %+v", r.Line, r.Err, w)
		case !bad && r.Err != nil:
			t.Errorf("line %d: error %v", r.Line, r.Err)
		}
	}
	if !slices.Equal(lines, []int{2, 3, 4, 5, 6, 7, 8}) {
		t.Errorf("lines %v", lines)
	}
	if got := rows[3].Err.Error(); got != `line 5: "en trop": 4 cells, but the header has 3 columns` {
		t.Errorf("Error() = %s", got)
	}
}

func TestRowErrorString(t *testing.T) {
	for _, tc := range []struct {
		err  RowError
		want string
	}{
		{RowError{Line: 7, Column: "Mail", Value: "a@b", Reason: "same key as line 4"}, `line 7: column Mail "a@b": same key as line 4`},
		{RowError{Line: 7, Column: "Nom", Reason: "key column Nom is empty"}, `line 7: column Nom: key column Nom is empty`},
		{RowError{Line: 7, Value: "x", Reason: "4 cells, but the header has 3 columns"}, `line 7: "x": 4 cells, but the header has 3 columns`},
		{RowError{Line: 7, Reason: "bad"}, `line 7: bad`},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %s, want %s", got, tc.want)
		}
	}
}

func TestHashedKey(t *testing.T) {
	// Case, Unicode normalisation and spaces around values do not change
	// the key; the values are joined without ambiguity.
	data := []byte("Nom;Prénom;Mail\n" +
		"Lefèvre;Hélène;a\n" +
		" LEFÈVRE ;He\u0301le\u0300ne;b\n" + // decomposed accents
		"ab;c;c\n" +
		"a;bc;d\n")
	_, rows := readAll(t, data, Config{KeyColumns: []string{"Nom", "Prénom"}})
	if len(rows) != 4 || rows[0].Err != nil || rows[2].Err != nil || rows[3].Err != nil {
		t.Fatalf("rows: %+v", rows)
	}
	if rows[1].Err == nil || rows[1].Err.Reason != "same key as line 2" || rows[1].Err.Column != "Nom, Prénom" || rows[1].Err.Value != "LEFÈVRE, He\u0301le\u0300ne" {
		t.Errorf("line 3: %+v", rows[1].Err)
	}
	if id := rows[0].Entry.ExternalID; len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		t.Errorf("key %q is not 32 hex digits", id)
	}
	if rows[2].Entry.ExternalID == rows[3].Entry.ExternalID {
		t.Errorf("ab+c and a+bc have the same key")
	}
}

// TestLines checks line numbers after values spanning lines, CRLF line
// ends, blank lines and lines of empty cells.
func TestLines(t *testing.T) {
	data := []byte("\r\nMail;Note\r\n" +
		"a;\"one\r\ntwo\r\nthree\"\r\n" +
		";\r\n" +
		"b;x\r\n" +
		"   \r\n" +
		"c;\"\"\"quoted\"\"\"\r\n" +
		"d")
	_, rows := readAll(t, data, Config{KeyColumns: []string{"Mail"}})
	var got []string
	for _, r := range rows {
		got = append(got, r.Entry.ExternalID+"@"+strconv.Itoa(r.Line)+"="+strings.Join(r.Entry.Attributes["Note"], ""))
	}
	want := []string{"a@3=one\ntwo\nthree", "b@7=x", `c@9="quoted"`, "d@10="}
	if !slices.Equal(got, want) {
		t.Errorf("rows %q, want %q", got, want)
	}
}

func TestDetection(t *testing.T) {
	cp1252 := func(s string) string {
		b, err := charmap.Windows1252.NewEncoder().Bytes([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// A header then rows of ASCII up to the 64 KiB detection window,
	// with a two-byte é cut by the window's end.
	var b strings.Builder
	b.WriteString("Nom;Mail\n")
	for i := 0; b.Len() < sniffSize-200; i++ {
		fmt.Fprintf(&b, "Martin;m%dx%s@perso.example\n", i, strings.Repeat("y", i%7))
	}
	lastNom := "Z" + strings.Repeat("a", sniffSize-b.Len()-3)
	long := b.String() + lastNom + ";é@x\n"
	if long[sniffSize-1] != "é"[0] {
		t.Fatalf("é is not cut at %d", sniffSize)
	}
	for _, tc := range []struct {
		name        string
		data        string
		cfg         Config
		enc, delim  string
		header      []string
		firstValues []string // values of the first row, in header order
		lastValues  []string // values of the last row, when set
	}{
		{name: "semicolon", data: "Nom;Mail\nMartin;m@x\n", enc: "utf-8", delim: ";",
			header: []string{"Nom", "Mail"}, firstValues: []string{"Martin", "m@x"}},
		{name: "comma", data: "Nom,Mail\nMartin,m@x\n", enc: "utf-8", delim: ",",
			header: []string{"Nom", "Mail"}, firstValues: []string{"Martin", "m@x"}},
		{name: "tab", data: "Nom\tMail\nMartin\tm@x\n", enc: "utf-8", delim: "\t",
			header: []string{"Nom", "Mail"}, firstValues: []string{"Martin", "m@x"}},
		{name: "a tie goes to semicolon", data: "Nom,Prénom;Mail\nMartin,Camille;m@x\n", enc: "utf-8", delim: ";",
			header: []string{"Nom,Prénom", "Mail"}, firstValues: []string{"Martin,Camille", "m@x"}},
		{name: "quoted delimiters do not count", data: "\"Nom;Prénom;Initiales\",Mail\n\"Martin;C\",m@x\n", enc: "utf-8", delim: ",",
			header: []string{"Nom;Prénom;Initiales", "Mail"}, firstValues: []string{"Martin;C", "m@x"}},
		{name: "blank lines before the header", data: "\n  \nNom,Prénom;Mail,X\nMartin,Camille;m@x,y\n", enc: "utf-8", delim: ",",
			header: []string{"Nom", "Prénom;Mail", "X"}, firstValues: []string{"Martin", "Camille;m@x", "y"}},
		{name: "windows-1252", data: cp1252("Nom;Mail\nLefèvre;m@x\nŒuvray;n@x\n"), enc: "windows-1252", delim: ";",
			header: []string{"Nom", "Mail"}, firstValues: []string{"Lefèvre", "m@x"}, lastValues: []string{"Œuvray", "n@x"}},
		{name: "iso-8859-1 configured", data: cp1252("Nom;Mail\nLefèvre;m@x\nŒuvray;n@x\n"), cfg: Config{Encoding: "latin-1"}, enc: "iso-8859-1", delim: ";",
			header: []string{"Nom", "Mail"}, firstValues: []string{"Lefèvre", "m@x"}, lastValues: []string{"\u008Cuvray", "n@x"}},
		{name: "utf-8 configured on windows-1252", data: cp1252("Nom;Mail\nLefèvre;m@x\n"), cfg: Config{Encoding: "UTF-8"}, enc: "utf-8", delim: ";",
			header: []string{"Nom", "Mail"}, firstValues: []string{"Lef\uFFFDvre", "m@x"}},
		{name: "a byte order mark wins", data: "\uFEFFNom;Mail\nLefèvre;m@x\n", cfg: Config{Encoding: "windows-1252"}, enc: "utf-8", delim: ";",
			header: []string{"Nom", "Mail"}, firstValues: []string{"Lefèvre", "m@x"}},
		{name: "delimiter configured", data: "Nom;Mail,X\nMartin;m@x,y\n", cfg: Config{Delimiter: ","}, enc: "utf-8", delim: ",",
			header: []string{"Nom;Mail", "X"}, firstValues: []string{"Martin;m@x", "y"}},
		{name: "tab configured as tab", data: "Nom\tMail;X\nMartin\tm@x;y\n", cfg: Config{Delimiter: "tab"}, enc: "utf-8", delim: "\t",
			header: []string{"Nom", "Mail;X"}, firstValues: []string{"Martin", "m@x;y"}},
		{name: `tab configured as \t`, data: "Nom\tMail;X\nMartin\tm@x;y\n", cfg: Config{Delimiter: `\t`}, enc: "utf-8", delim: "\t",
			header: []string{"Nom", "Mail;X"}, firstValues: []string{"Martin", "m@x;y"}},
		{name: "classic Mac OS line ends", data: "Nom;Mail\rMartin;m@x\rPetit;p@x\r", enc: "utf-8", delim: ";",
			header: []string{"Nom", "Mail"}, firstValues: []string{"Martin", "m@x"}, lastValues: []string{"Petit", "p@x"}},
		{name: "é cut by the detection window", data: long, enc: "utf-8", delim: ";",
			header: []string{"Nom", "Mail"}, firstValues: []string{"Martin", "m0x@perso.example"}, lastValues: []string{lastNom, "é@x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.KeyColumns = tc.header[len(tc.header)-1:]
			f, rows := readAll(t, []byte(tc.data), tc.cfg)
			if f.Encoding() != tc.enc || f.Delimiter() != tc.delim || f.Format() != "csv" {
				t.Errorf("encoding %q, delimiter %q, format %q; want %q, %q, csv", f.Encoding(), f.Delimiter(), f.Format(), tc.enc, tc.delim)
			}
			if !slices.Equal(f.Header(), tc.header) {
				t.Errorf("header %q, want %q", f.Header(), tc.header)
			}
			if len(rows) == 0 {
				t.Fatal("no rows")
			}
			values := func(r Row) []string {
				var v []string
				for _, h := range tc.header {
					v = append(v, strings.Join(r.Entry.Attributes[h], "|"))
				}
				return v
			}
			if got := values(rows[0]); !slices.Equal(got, tc.firstValues) {
				t.Errorf("first row %q, want %q", got, tc.firstValues)
			}
			if tc.lastValues != nil {
				if got := values(rows[len(rows)-1]); !slices.Equal(got, tc.lastValues) {
					t.Errorf("last row %q, want %q", got, tc.lastValues)
				}
			}
		})
	}
}

func TestInvalidUTF8Replaced(t *testing.T) {
	// Valid UTF-8 for the whole detection window, then a Latin-1 é.
	data := "Nom;Mail\n" + strings.Repeat("Martin;m@x\n", 1)
	pad := strings.Repeat("x", sniffSize)
	data += pad + ";pad@x\n" + "Lef\xe8\xe9vre;l@x\n"
	f, rows := readAll(t, []byte(data), Config{KeyColumns: []string{"Mail"}})
	if f.Encoding() != "utf-8" {
		t.Fatalf("encoding %s", f.Encoding())
	}
	if got := rows[len(rows)-1].Entry.Attributes["Nom"]; len(got) != 1 || got[0] != "Lef\uFFFD\uFFFDvre" {
		t.Errorf("Nom = %q", got)
	}
}

func TestMissing(t *testing.T) {
	f, _ := readAll(t, []byte("Nom ; Prénom;MAIL\nMartin;Camille;m@x\n"), Config{KeyColumns: []string{"mail"}})
	got := f.Missing([]string{" Mail ", "INE", "prénom", "nom", "Faculté"})
	if !slices.Equal(got, []string{"INE", "Faculté"}) {
		t.Errorf("Missing = %q", got)
	}
	if got := f.Missing(nil); got != nil {
		t.Errorf("Missing(nil) = %q", got)
	}
	if h := f.Header(); !slices.Equal(h, []string{"Nom", "Prénom", "MAIL"}) {
		t.Errorf("Header = %q", h)
	}
}

func TestOpenErrors(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	mail := []string{"Mail"}
	for _, tc := range []struct {
		name string
		data string
		cfg  Config
		want string
	}{
		{"empty", "", Config{KeyColumns: mail}, "the file is empty"},
		{"blank lines only", "\n \r\n\t\n", Config{KeyColumns: mail}, "the file is empty: no header line"},
		{"empty cells only", ";;\n;\n", Config{KeyColumns: mail}, "the file is empty: no header line"},
		{"a byte order mark only", "\uFEFF", Config{KeyColumns: mail}, "the file is empty: no header line"},
		{"duplicate column", read("dup_header.csv"), Config{KeyColumns: mail}, `header: column "nom" appears twice, as columns 1 and 4`},
		{"unnamed column", "Nom;;Mail\n", Config{KeyColumns: mail}, "header: column 2 has no name"},
		{"not a zip", read("not_a_zip.xlsx"), Config{KeyColumns: mail, Format: "xlsx"}, "not an xlsx workbook: zip: not a valid zip file"},
		{"a zip read as CSV", read("interns.xlsx"), Config{KeyColumns: mail, Format: "csv"}, "not a CSV file but a zip archive"},
		{"an .xls workbook", "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\x00\x00", Config{KeyColumns: mail}, "Excel 97-2003 workbook (.xls)"},
		{"UTF-16", "\xFF\xFEN\x00o\x00m\x00", Config{KeyColumns: mail}, "a UTF-16 text file"},
		{"binary", "Nom;Mail\n\x00\x01\x02", Config{KeyColumns: mail}, "not a CSV file: it holds binary data"},
		{"invalid configuration", "Mail\n", Config{Format: "ods"}, "format: \"ods\" is not csv or xlsx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(strings.NewReader(tc.data), int64(len(tc.data)), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v, want %q", err, tc.want)
			}
		})
	}
}

// TestMissingKeyColumn: Open accepts the file, Missing names the key
// columns it lacks, Rows refuses to start.
func TestMissingKeyColumn(t *testing.T) {
	data := "Nom;Prénom\nMartin;Camille\n"
	cfg := Config{KeyColumns: []string{"Mail", "Nom", "INE"}}
	f, err := Open(strings.NewReader(data), int64(len(data)), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if got := f.Missing(cfg.KeyColumns); len(got) != 2 || got[0] != "Mail" || got[1] != "INE" {
		t.Fatalf("Missing = %v", got)
	}
	err = f.Rows(context.Background(), func(Row) error { t.Fatal("a row without its key columns"); return nil })
	if err == nil || !strings.Contains(err.Error(), "header: key columns Mail, INE (key_columns) missing; the header has Nom, Prénom") {
		t.Fatalf("Rows: %v", err)
	}
}

// TestFormatDetection reads a workbook named .csv and text named .xlsx
// as what they are.
func TestFormatDetection(t *testing.T) {
	for file, want := range map[string]string{"interns.xlsx": "xlsx", "not_a_zip.xlsx": "csv", "errors.csv": "csv"} {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		f, err := openFile(bytes.NewReader(data), int64(len(data)), Config{})
		if err != nil || f.Format() != want {
			t.Errorf("%s: %v, %v; want %s", file, f, err, want)
		}
	}
}

func TestRowsStops(t *testing.T) {
	data := []byte("Mail\n" + strings.Repeat("x\n", 1000))
	f, err := Open(bytes.NewReader(data), int64(len(data)), Config{KeyColumns: []string{"Mail"}})
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	n := 0
	err = f.Rows(t.Context(), func(Row) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if err != stop || n != 3 {
		t.Errorf("Rows = %v after %d rows, want stop after 3", err, n)
	}
	ctx, cancel := context.WithCancel(t.Context())
	n = 0
	err = f.Rows(ctx, func(Row) error {
		n++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || n >= 1000 {
		t.Errorf("Rows = %v after %d rows, want context.Canceled", err, n)
	}
}

// TestRowsAgain reads a file twice, concurrently: each reading starts
// over, with its own keys.
func TestRowsAgain(t *testing.T) {
	for _, file := range []string{"errors.csv", "interns.xlsx"} {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		f, err := Open(bytes.NewReader(data), int64(len(data)), Config{KeyColumns: []string{"Mail"}})
		if err != nil {
			t.Fatal(err)
		}
		read := func() string {
			var b strings.Builder
			if err := f.Rows(t.Context(), func(r Row) error {
				b.WriteString(r.Entry.ExternalID + ";")
				if r.Err != nil {
					b.WriteString(r.Err.Error())
				}
				return nil
			}); err != nil {
				t.Error(err)
			}
			return b.String()
		}
		done := make(chan string)
		go func() { done <- read() }()
		if a, b := read(), <-done; a != b {
			t.Errorf("%s: read %q then %q", file, a, b)
		}
	}
}

// TestQuoteLeftOpen stops at a record that grows past 1 MiB, instead of
// holding the rest of the file.
func TestQuoteLeftOpen(t *testing.T) {
	data := []byte("Mail;Nom\na;\"Martin\n" + strings.Repeat("b;Petit\n", 300000))
	f, err := Open(bytes.NewReader(data), int64(len(data)), Config{KeyColumns: []string{"Mail"}})
	if err != nil {
		t.Fatal(err)
	}
	err = f.Rows(t.Context(), func(Row) error { return nil })
	if err == nil || err.Error() != "after line 1: a record longer than 1 MiB: a quote left open?" {
		t.Fatalf("Rows: %v", err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"minimal", Config{KeyColumns: []string{"Mail"}}, ""},
		{"everything", Config{Format: "csv", Delimiter: "tab", Encoding: "Latin1", KeyColumns: []string{"Nom", "Prénom"}}, ""},
		{"xlsx", Config{Format: "xlsx", Sheet: "Internes", KeyColumns: []string{"Mail"}}, ""},
		{"empty", Config{}, "key_columns: empty: name the column or columns that identify a row, such as [Mail] or [Nom, Prénom, Date de naissance]"},
		{"all wrong", Config{Format: "ods", Delimiter: "|", Encoding: "utf-16", KeyColumns: []string{"Nom", " ", "NOM"}},
			"format: \"ods\" is not csv or xlsx (or empty to detect)\n" +
				"delimiter: \"|\" is not \";\", \",\" or \"\\t\" (or empty to detect)\n" +
				"encoding: \"utf-16\" is not utf-8, windows-1252 or iso-8859-1 (or empty to detect)\n" +
				"key_columns[1]: empty column name\n" +
				"key_columns[2]: \"NOM\" already is key_columns[0]"},
		{"CSV options for xlsx", Config{Format: "xlsx", Delimiter: ";", Encoding: "utf-8", KeyColumns: []string{"Mail"}},
			"delimiter: set for an xlsx file (CSV only)\nencoding: set for an xlsx file (CSV only)"},
		{"sheet for csv", Config{Format: "csv", Sheet: "Internes", KeyColumns: []string{"Mail"}}, "sheet: set for a csv file (XLSX only)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if err := tc.cfg.Validate(); err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("Validate:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestValidUTF8Prefix(t *testing.T) {
	for _, tc := range []struct {
		b         string
		truncated bool
		want      bool
	}{
		{"abc", false, true},
		{"ab\xc3", true, true},   // é cut
		{"ab\xc3", false, false}, // é cut at the end of the file
		{"ab\xe2\x82", true, true},
		{"ab\xf0\x9f\x98", true, true},
		{"ab\xe9", true, true},    // a Latin-1 é or a cut sequence: told by what follows
		{"ab\xe9cd", true, false}, // Latin-1 é
		{"\xe9ab", true, false},
		{"ab\x82", true, false}, // a lone continuation byte
	} {
		if got := validUTF8Prefix([]byte(tc.b), tc.truncated); got != tc.want {
			t.Errorf("validUTF8Prefix(%q, %v) = %v", tc.b, tc.truncated, got)
		}
	}
}
