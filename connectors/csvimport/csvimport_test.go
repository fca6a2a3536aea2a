package csvimport

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
)

var update = flag.Bool("update", false, "rewrite the golden files and the generated fixtures")

// readAll opens data and returns its rows as text lines for comparison.
func readAll(t testing.TB, data []byte, cfg Config) (*File, []Row) {
	t.Helper()
	f, err := Open(bytes.NewReader(data), int64(len(data)), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	var rows []Row
	if err := f.Rows(context.Background(), func(r Row) error { rows = append(rows, r); return nil }); err != nil {
		t.Fatalf("Rows: %v", err)
	}
	return f, rows
}

func latin1(t testing.TB, s string) []byte {
	b, err := charmap.Windows1252.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// xlsxFixture builds a small workbook the way spreadsheet programs write
// them: shared strings with a rich-text run, an inline string, a numeric
// INE, dates under a custom dd/mm/yyyy format and the built-in format 14.
func xlsxFixture(t testing.TB) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	put := func(name, body string) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	put("[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>`)
	put("xl/workbook.xml", `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><workbookPr/><sheets><sheet name="Internes" sheetId="1" r:id="rId1"/><sheet name="Autre" sheetId="2" r:id="rId2"/></sheets></workbook>`)
	put("xl/_rels/workbook.xml.rels", `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet2.xml"/></Relationships>`)
	put("xl/sharedStrings.xml", `<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>Nom</t></si><si><t>Prénom</t></si><si><t>Date de naissance</t></si><si><t>Mail</t></si><si><t>INE</t></si><si><t>Lefèvre</t></si><si><r><t>Hé</t></r><r><t>lène</t></r></si><si><t>helene@perso.example</t></si></sst>`)
	put("xl/styles.xml", `<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts count="1"><numFmt numFmtId="164" formatCode="dd/mm/yyyy"/></numFmts><cellXfs count="3"><xf numFmtId="0"/><xf numFmtId="164"/><xf numFmtId="14"/></cellXfs></styleSheet>`)
	put("xl/worksheets/sheet1.xml", `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`+
		`<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c><c r="D1" t="s"><v>3</v></c><c r="E1" t="s"><v>4</v></c></row>`+
		`<row r="2"><c r="A2" t="s"><v>5</v></c><c r="B2" t="s"><v>6</v></c><c r="C2" s="1"><v>36163</v></c><c r="D2" t="s"><v>7</v></c><c r="E2"><v>1234567890</v></c></row>`+
		`<row r="4"><c r="A4" t="inlineStr"><is><t>Çelik</t></is></c><c r="B4" t="inlineStr"><is><t>Ana</t></is></c><c r="C4" s="2"><v>36526</v></c><c r="D4" t="inlineStr"><is><t>ana@perso.example</t></is></c></row>`+
		`</sheetData></worksheet>`)
	put("xl/worksheets/sheet2.xml", `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c t="inlineStr"><is><t>Mail</t></is></c></row></sheetData></worksheet>`)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fixtures are the files the golden tests read.
func fixtures(t testing.TB) map[string][]byte {
	return map[string][]byte{
		"latin1_semicolon.csv": latin1(t, "Nom;Prénom;Date de naissance;Mail;Spécialité\r\n"+
			"Lefèvre;Élodie;12/04/1998;elodie.lefevre@perso.example;Médecine générale\r\n"+
			"Çelik;Hélène;01/02/1999;helene@perso.example;Pédiatrie\r\n"),
		"utf8_bom_comma.csv": []byte("\uFEFFNom,Prénom,Date de naissance,Mail,Note\n" +
			"Martin,Camille,12/04/1999,camille@perso.example,\"sur deux\nlignes\"\n" +
			"\n" +
			"Petit,Léa,1999-13-45,lea@perso.example,\n" +
			"Martin,Camille,12/04/1999,camille@perso.example,doublon\n" +
			"Roux,Hugo,01/01/2001,,\n" +
			"Vidal,Paul,02/02/2002,paul@perso.example,x,en trop\n"),
		"interns.xlsx": xlsxFixture(t),
	}
}

type goldenRow struct {
	Line  int                 `json:"line"`
	Key   string              `json:"key,omitempty"`
	Attrs map[string][]string `json:"attributes,omitempty"`
	Err   string              `json:"error,omitempty"`
}

func TestGolden(t *testing.T) {
	for name, data := range fixtures(t) {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", name)
			if *update {
				if err := os.WriteFile(path, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			file, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./connectors/csvimport -update)", err)
			}
			f, rows := readAll(t, file, Config{KeyColumns: []string{"Mail"}})
			out := struct {
				Format, Encoding, Delimiter string
				Header                      []string
				Rows                        []goldenRow
			}{f.Format(), f.Encoding(), f.Delimiter(), f.Header(), nil}
			for _, r := range rows {
				g := goldenRow{Line: r.Line, Key: r.Entry.ExternalID, Attrs: r.Entry.Attributes}
				if r.Err != nil {
					g = goldenRow{Line: r.Line, Err: r.Err.Error()}
				}
				out.Rows = append(out.Rows, g)
			}
			got, _ := json.MarshalIndent(out, "", "  ")
			golden := path + ".golden.json"
			if *update {
				os.WriteFile(golden, append(got, '\n'), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if string(want) != string(got)+"\n" {
				t.Errorf("%s differs from %s:\n%s", name, golden, got)
			}
		})
	}
}

func TestDetectionAndRowErrors(t *testing.T) {
	fx := fixtures(t)
	f, rows := readAll(t, fx["latin1_semicolon.csv"], Config{KeyColumns: []string{"Mail"}})
	if f.Encoding() != "windows-1252" || f.Delimiter() != ";" || rows[0].Entry.Attributes["Prénom"][0] != "Élodie" {
		t.Fatalf("latin-1 file: %s %q %v", f.Encoding(), f.Delimiter(), rows[0].Entry.Attributes)
	}
	f, rows = readAll(t, fx["utf8_bom_comma.csv"], Config{KeyColumns: []string{"Mail"}})
	if f.Encoding() != "utf-8" || f.Delimiter() != "," || f.Header()[0] != "Nom" {
		t.Fatalf("BOM file: %s %q %q", f.Encoding(), f.Delimiter(), f.Header())
	}
	byLine := map[int]Row{}
	for _, r := range rows {
		byLine[r.Line] = r
	}
	if r := byLine[2]; r.Err != nil || r.Entry.Attributes["Note"][0] != "sur deux\nlignes" {
		t.Errorf("quoted field on two lines: %+v", r)
	}
	if r := byLine[5]; r.Err != nil || r.Entry.Attributes["Date de naissance"][0] != "1999-13-45" {
		t.Errorf("line after the two-line field is numbered %d: %+v", 5, r)
	}
	if r := byLine[6]; r.Err == nil || !strings.Contains(r.Err.Reason, "same key as line 2") {
		t.Errorf("duplicate key: %+v", r)
	}
	if r := byLine[7]; r.Err == nil || r.Err.Column != "Mail" || !strings.Contains(r.Err.Reason, "empty") {
		t.Errorf("empty key: %+v", r)
	}
	if r := byLine[8]; r.Err == nil || !strings.Contains(r.Err.Reason, "6 cells for 5 columns") {
		t.Errorf("too many cells: %+v", r)
	}
	if got := f.Missing([]string{"mail", "Spécialité", "INE"}); len(got) != 2 || got[0] != "Spécialité" {
		t.Errorf("Missing = %v", got)
	}
	// Overrides: the Latin-1 file read as configured.
	f, _ = readAll(t, fx["latin1_semicolon.csv"], Config{KeyColumns: []string{"Mail"}, Encoding: "latin-1", Delimiter: ";"})
	if f.Encoding() != "iso-8859-1" {
		t.Errorf("configured encoding: %s", f.Encoding())
	}
	// Several key columns: a hash, equal for the same values in another case.
	_, a := readAll(t, []byte("Nom;Prénom\nMartin;Élodie\n"), Config{KeyColumns: []string{"Nom", "Prénom"}})
	_, b := readAll(t, []byte("Nom;Prénom\nMARTIN;ÉLODIE\n"), Config{KeyColumns: []string{"Nom", "Prénom"}})
	if len(a[0].Entry.ExternalID) != 32 || a[0].Entry.ExternalID != b[0].Entry.ExternalID {
		t.Errorf("hashed keys %q and %q", a[0].Entry.ExternalID, b[0].Entry.ExternalID)
	}
}

func TestXLSX(t *testing.T) {
	f, rows := readAll(t, xlsxFixture(t), Config{KeyColumns: []string{"Mail"}})
	if f.Format() != "xlsx" || len(rows) != 2 {
		t.Fatalf("xlsx: %s, %d rows", f.Format(), len(rows))
	}
	first := rows[0].Entry.Attributes
	if first["Prénom"][0] != "Hélène" || first["Date de naissance"][0] != "1999-01-03" || first["INE"][0] != "1234567890" {
		t.Errorf("row 2 = %v", first)
	}
	if rows[1].Line != 4 || rows[1].Entry.Attributes["Date de naissance"][0] != "2000-01-01" || rows[1].Entry.Attributes["Nom"][0] != "Çelik" {
		t.Errorf("row 4 = %+v", rows[1])
	}
	f, rows = readAll(t, xlsxFixture(t), Config{KeyColumns: []string{"Mail"}, Sheet: "Autre"})
	if len(rows) != 0 || f.Header()[0] != "Mail" {
		t.Errorf("sheet Autre: %v %v", f.Header(), rows)
	}
}

func TestFileErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		data []byte
		cfg  Config
		want string
	}{
		{"not a zip", []byte("PK\x03\x04garbage"), Config{KeyColumns: []string{"Mail"}}, "not an xlsx file"},
		{"forced xlsx", []byte("Nom;Mail\n"), Config{KeyColumns: []string{"Mail"}, Format: "xlsx"}, "not an xlsx file"},
		{"empty", nil, Config{KeyColumns: []string{"Mail"}}, "empty"},
		{"duplicate column", []byte("Mail;Nom;mail\n"), Config{KeyColumns: []string{"Mail"}}, `column "mail" appears twice`},
		{"unnamed column", []byte("Mail;;Nom\n"), Config{KeyColumns: []string{"Mail"}}, "column 2 has no name"},
		{"no sheet", xlsxFixture(t), Config{KeyColumns: []string{"Mail"}, Sheet: "Nope"}, `no sheet "Nope"`},
		{"bad config", []byte("Mail\n"), Config{Delimiter: "|"}, "key_columns"},
	} {
		_, err := Open(bytes.NewReader(c.data), int64(len(c.data)), c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	f, err := Open(strings.NewReader("Nom\nMartin\n"), 11, Config{KeyColumns: []string{"Mail"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Rows(context.Background(), func(Row) error { return nil }); err == nil || !strings.Contains(err.Error(), "missing key column Mail") {
		t.Errorf("rows without the key column: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	err := Config{Format: "ods", Delimiter: "|", Encoding: "utf-16", KeyColumns: []string{" "}}.Validate()
	for _, want := range []string{"format:", "delimiter:", "encoding:", "key_columns[0]"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v lacks %q", err, want)
		}
	}
}

// FuzzRead opens and reads arbitrary bytes as CSV or XLSX: never a panic,
// and every row has a line and a key or an error.
func FuzzRead(f *testing.F) {
	for _, data := range fixtures(f) {
		f.Add(data)
	}
	f.Add([]byte("a;b\n\"x;y\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, cfg := range []Config{{KeyColumns: []string{"Mail"}}, {KeyColumns: []string{"Nom", "Mail"}, Format: "csv"}} {
			file, err := Open(bytes.NewReader(data), int64(len(data)), cfg)
			if err != nil {
				continue
			}
			_ = file.Rows(context.Background(), func(r Row) error {
				if r.Line < 2 || (r.Err == nil && r.Entry.ExternalID == "") {
					t.Fatalf("row %+v", r)
				}
				return nil
			})
		}
	})
}

// BenchmarkRows reads a 100,000-row agency file.
func BenchmarkRows(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("Nom;Prénom;Date de naissance;Mail;Spécialité;Faculté\n")
	for i := range 100_000 {
		fmt.Fprintf(&buf, "Nom%d;Élodie;%02d/%02d/1998;interne%d@perso.example;Médecine générale;Montpellier\n", i, i%28+1, i%12+1, i)
	}
	data := buf.Bytes()
	for b.Loop() {
		f, err := Open(bytes.NewReader(data), int64(len(data)), Config{KeyColumns: []string{"Mail"}})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		if err := f.Rows(context.Background(), func(Row) error { n++; return nil }); err != nil || n != 100_000 {
			b.Fatal(n, err)
		}
	}
	b.ReportMetric(100_000*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
