package csvimport

import (
	"archive/zip"
	"bytes"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// part is a zip entry of a test workbook.
type part struct{ name, body string }

// book describes a test workbook.
type book struct {
	date1904 bool
	sheets   []sheet
	// sst holds the inner XML of each shared string's <si>.
	sst []string
	// styles is the inner XML of <styleSheet>; empty leaves styles.xml out.
	styles string
}

// sheet is a worksheet of a test workbook: its name and the inner XML of
// its <sheetData>.
type sheet struct{ name, data string }

const (
	nsMain  = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
	nsRel   = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
	nsPkg   = "http://schemas.openxmlformats.org/package/2006/relationships"
	xmlDecl = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n"
)

// parts returns the zip entries of b: a minimal workbook as spreadsheet
// programs write one (content types, relationships, workbook, shared
// strings, styles, sheets).
func (b book) parts() []part {
	var types, sheets, rels strings.Builder
	types.WriteString(xmlDecl + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
		`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
		`<Default Extension="xml" ContentType="application/xml"/>` +
		`<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>`)
	rels.WriteString(xmlDecl + `<Relationships xmlns="` + nsPkg + `">`)
	for i, s := range b.sheets {
		fmt.Fprintf(&types, `<Override PartName="/xl/worksheets/sheet%d.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>`, i+1)
		fmt.Fprintf(&sheets, `<sheet name="%s" sheetId="%d" r:id="rId%d"/>`, s.name, i+1, i+1)
		fmt.Fprintf(&rels, `<Relationship Id="rId%d" Type="%s/worksheet" Target="worksheets/sheet%d.xml"/>`, i+1, nsRel, i+1)
	}
	n := len(b.sheets)
	if b.styles != "" {
		types.WriteString(`<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>`)
		fmt.Fprintf(&rels, `<Relationship Id="rId%d" Type="%s/styles" Target="styles.xml"/>`, n+1, nsRel)
	}
	if b.sst != nil {
		types.WriteString(`<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>`)
		fmt.Fprintf(&rels, `<Relationship Id="rId%d" Type="%s/sharedStrings" Target="sharedStrings.xml"/>`, n+2, nsRel)
	}
	types.WriteString(`</Types>`)
	rels.WriteString(`</Relationships>`)
	pr := `<workbookPr/>`
	if b.date1904 {
		pr = `<workbookPr date1904="1"/>`
	}
	ps := []part{
		{"[Content_Types].xml", types.String()},
		{"_rels/.rels", xmlDecl + `<Relationships xmlns="` + nsPkg + `"><Relationship Id="rId1" Type="` + nsRel + `/officeDocument" Target="xl/workbook.xml"/></Relationships>`},
		{"xl/workbook.xml", xmlDecl + `<workbook xmlns="` + nsMain + `" xmlns:r="` + nsRel + `">` + pr + `<sheets>` + sheets.String() + `</sheets></workbook>`},
		{"xl/_rels/workbook.xml.rels", rels.String()},
	}
	if b.styles != "" {
		ps = append(ps, part{"xl/styles.xml", xmlDecl + `<styleSheet xmlns="` + nsMain + `">` + b.styles + `</styleSheet>`})
	}
	if b.sst != nil {
		var sst strings.Builder
		fmt.Fprintf(&sst, xmlDecl+`<sst xmlns="%s" count="%d" uniqueCount="%d">`, nsMain, len(b.sst), len(b.sst))
		for _, si := range b.sst {
			sst.WriteString("<si>" + si + "</si>")
		}
		sst.WriteString("</sst>")
		ps = append(ps, part{"xl/sharedStrings.xml", sst.String()})
	}
	for i, s := range b.sheets {
		ps = append(ps, part{fmt.Sprintf("xl/worksheets/sheet%d.xml", i+1),
			xmlDecl + `<worksheet xmlns="` + nsMain + `" xmlns:r="` + nsRel + `"><sheetData>` + s.data + `</sheetData></worksheet>`})
	}
	return ps
}

// zipParts writes parts as a zip archive.
func zipParts(t testing.TB, parts []part) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, p := range parts {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: p.name, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(p.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Cell writers for sheet data.

func cs(ref string, i int) string { return fmt.Sprintf(`<c r="%s" t="s"><v>%d</v></c>`, ref, i) }

func cn(ref, v string, style int) string {
	return fmt.Sprintf(`<c r="%s" s="%d"><v>%s</v></c>`, ref, style, v)
}

func cinline(ref, text string) string {
	return fmt.Sprintf(`<c r="%s" t="inlineStr"><is><t>%s</t></is></c>`, ref, text)
}

func row(r int, cells ...string) string {
	return fmt.Sprintf(`<row r="%d">%s</row>`, r, strings.Join(cells, ""))
}

// Cell formats of internsStyles.
const (
	styleGeneral    = 0
	styleDDMMYYYY   = 1 // custom 164: dd/mm/yyyy
	styleBuiltin14  = 2 // built-in 14: the locale's short date
	styleLongDate   = 3 // custom 165: [$-40C]d mmmm yyyy;@
	styleQuotedD    = 4 // custom 166: 0.0" d" (d quoted: no date)
	styleTimeOfDay  = 5 // built-in 20: h:mm (no date)
	styleTwoDecimal = 6 // built-in 2: 0.00
)

// internsStyles declares the cell formats above; the cellStyleXfs before
// cellXfs must not shift their indexes.
const internsStyles = `<numFmts count="3">` +
	`<numFmt numFmtId="164" formatCode="dd/mm/yyyy"/>` +
	`<numFmt numFmtId="165" formatCode="[$-40C]d\ mmmm\ yyyy;@"/>` +
	`<numFmt numFmtId="166" formatCode="0.0&quot; d&quot;"/>` +
	`</numFmts>` +
	`<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>` +
	`<fills count="1"><fill><patternFill patternType="none"/></fill></fills>` +
	`<borders count="1"><border/></borders>` +
	`<cellStyleXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/><xf numFmtId="14" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>` +
	`<cellXfs count="7">` +
	`<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>` +
	`<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>` +
	`<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>` +
	`<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>` +
	`<xf numFmtId="166" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>` +
	`<xf numFmtId="20" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>` +
	`<xf numFmtId="2" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>` +
	`</cellXfs>`

// internsBook is the workbook of testdata/interns.xlsx.
func internsBook() book {
	sst := []string{
		`<t>Nom</t>`, `<t>Prénom</t>`, `<t>Date de naissance</t>`, `<t>Mail</t>`, // 0-3
		`<t>INE</t>`, `<t>Spécialité</t>`, `<t>Faculté</t>`, `<t>Boursier</t>`, // 4-7
		`<t>Lefèvre</t><rPh sb="0" eb="7"><t>ルフェーヴル</t></rPh>`,              // 8: the phonetic run is no text
		`<r><t>Hé</t></r><r><rPr><b/></rPr><t>lène</t></r>`,                 // 9: rich text runs
		`<t>helene.lefevre@perso.example</t>`,                               // 10
		`<t xml:space="preserve"> Çelik </t>`,                               // 11
		`<t>Élodie</t>`,                                                     // 12
		`<t>elodie.celik@perso.example</t>`,                                 // 13
		`<t>Montpellier-Nîmes</t>`,                                          // 14
		`<t>Date d'entrée</t>`,                                              // 15
		`<t>Terrain</t>`,                                                    // 16
		`<t>Stages</t>`,                                                     // 17 (unused)
		`<t>Garçon</t>`, `<t>François</t>`, `<t>f.garcon@perso.example</t>`, // 18-20
	}
	internes := row(1, cs("A1", 0), cs("B1", 1), cs("C1", 2), cs("D1", 3), cs("E1", 4), cs("F1", 5), cs("G1", 15), cs("H1", 6), cs("I1", 7)) +
		// Shared strings, a dd/mm/yyyy date, an INE typed as a number, an
		// inline string, a date in format 14, a formula's string, a boolean.
		row(2, cs("A2", 8), cs("B2", 9), cn("C2", "35827", styleDDMMYYYY), cs("D2", 10), cn("E2", "123456789012", styleGeneral),
			cinline("F2", "Médecine générale"), cn("G2", "45536", styleBuiltin14),
			`<c r="H2" t="str"><f>"Montpellier-"&amp;"Nîmes"</f><v>Montpellier-Nîmes</v></c>`, `<c r="I2" t="b"><v>1</v></c>`) +
		// A number in exponent notation, rich inline text, a long date
		// format, cells without reference, a missing cell (C).
		row(3, cs("A3", 11), cs("B3", 12), cs("D3", 13), cn("E3", "1.23456789013E+11", styleGeneral),
			`<c r="F3" t="inlineStr"><is><r><t>Pédia</t></r><r><t>trie</t></r></is></c>`, cn("G3", "45537.75", styleLongDate),
			`<c t="s"><v>14</v></c>`, `<c t="b"><v>0</v></c>`) +
		// A row of empty cells, as formatting leaves them: skipped.
		`<row r="4"><c r="A4" s="1"/><c r="C4" s="2"/></row>` +
		// The same key as line 2.
		row(5, cs("A5", 8), cs("B5", 9), cs("D5", 10)) +
		// A value beyond the header's last column.
		row(7, cs("A7", 18), cs("B7", 19), cs("D7", 20), cinline("J7", "en trop")) +
		// An empty key.
		row(8, cs("A8", 18), cs("B8", 19))
	stages := row(3, cs("A3", 3), cs("B3", 16), cinline("C3", "Valeur")) +
		row(4, cs("A4", 10), cinline("B4", "CHU de Nîmes"), cn("C4", "14.5", styleTwoDecimal)) +
		row(5, cs("A5", 13), cinline("B5", "Serial 59"), cn("C5", "59", styleDDMMYYYY)) +
		row(6, cs("A6", 20), cinline("B6", "Serial 60: 1900-02-29, no date"), cn("C6", "60", styleDDMMYYYY)) +
		row(7, inlineMail("a@perso.example"), cinline("B7", "Serial 61"), cn("C7", "61", styleDDMMYYYY)) +
		row(8, inlineMail("b@perso.example"), cinline("B8", "d in quotes"), cn("C8", "3", styleQuotedD)) +
		row(9, inlineMail("c@perso.example"), cinline("B9", "time of day"), cn("C9", "0.5", styleTimeOfDay)) +
		row(10, inlineMail("d@perso.example"), cinline("B10", "float noise"), cn("C10", "0.30000000000000004", styleGeneral)) +
		row(11, inlineMail("e@perso.example"), cinline("B11", "an error"), `<c r="C11" t="e"><v>#N/A</v></c>`)
	return book{
		sheets: []sheet{{"Internes", internes}, {"Stages", stages}},
		sst:    sst,
		styles: internsStyles,
	}
}

func inlineMail(m string) string { return fmt.Sprintf(`<c t="inlineStr"><is><t>%s</t></is></c>`, m) }

// TestXLSXFixture regenerates testdata/interns.xlsx with -update, and
// checks that the committed file still reads as the generator writes it.
func TestXLSXFixture(t *testing.T) {
	path := filepath.Join("testdata", "interns.xlsx")
	fresh := zipParts(t, internsBook().parts())
	if *update {
		if err := os.WriteFile(path, fresh, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	committed, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, sheet := range []string{"", "Stages"} {
		cfg := Config{KeyColumns: []string{"Mail"}, Sheet: sheet}
		want := dump(t, fresh, cfg)
		if got := dump(t, committed, cfg); got != want {
			t.Errorf("sheet %q: %s reads otherwise than the generator writes it: run go test -update", sheet, path)
		}
	}
}

func TestXLSXValues(t *testing.T) {
	data := func(cells ...string) string {
		return row(1, cinline("A1", "Mail"), cinline("B1", "Valeur")) + row(2, cells...)
	}
	for _, tc := range []struct {
		name     string
		date1904 bool
		cells    []string
		want     string
	}{
		{"1904 day 0", true, []string{cinline("A2", "m"), cn("B2", "0", styleDDMMYYYY)}, "1904-01-01"},
		{"1904 day 1", true, []string{cinline("A2", "m"), cn("B2", "1", styleBuiltin14)}, "1904-01-02"},
		{"1904 birth date", true, []string{cinline("A2", "m"), cn("B2", "34365", styleDDMMYYYY)}, "1998-02-01"},
		{"1900 birth date", false, []string{cinline("A2", "m"), cn("B2", "35827", styleDDMMYYYY)}, "1998-02-01"},
		{"1900 day 1", false, []string{cinline("A2", "m"), cn("B2", "1", styleDDMMYYYY)}, "1900-01-01"},
		{"1900 day 0 is no date", false, []string{cinline("A2", "m"), cn("B2", "0", styleDDMMYYYY)}, "0"},
		{"a negative date", false, []string{cinline("A2", "m"), cn("B2", "-3", styleDDMMYYYY)}, "-3"},
		{"beyond 9999", false, []string{cinline("A2", "m"), cn("B2", "2958466", styleDDMMYYYY)}, "2958466"},
		{"9999-12-31", false, []string{cinline("A2", "m"), cn("B2", "2958465", styleDDMMYYYY)}, "9999-12-31"},
		{"almost midnight", false, []string{cinline("A2", "m"), cn("B2", "35827.99999999", styleDDMMYYYY)}, "1998-02-02"},
		{"integer as float", false, []string{cinline("A2", "m"), cn("B2", "612345678.0", styleGeneral)}, "612345678"},
		{"decimal", false, []string{cinline("A2", "m"), cn("B2", "-0.25", styleGeneral)}, "-0.25"},
		{"big", false, []string{cinline("A2", "m"), cn("B2", "1E+22", styleGeneral)}, "1e+22"},
		{"unknown style", false, []string{cinline("A2", "m"), cn("B2", "35827", 99)}, "35827"},
		{"not a number", false, []string{cinline("A2", "m"), cn("B2", "abc", styleDDMMYYYY)}, "abc"},
		{"ISO date cell", false, []string{cinline("A2", "m"), `<c r="B2" t="d"><v>1998-02-01T00:00:00</v></c>`}, "1998-02-01"},
		{"bool", false, []string{cinline("A2", "m"), `<c r="B2" t="b"><v>1</v></c>`}, "TRUE"},
		{"entities", false, []string{cinline("A2", "m"), cinline("B2", "a &amp; b &#233;")}, "a & b é"},
		{"lower-case reference", false, []string{cinline("a2", "m"), cinline("b2", "x")}, "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := book{date1904: tc.date1904, styles: internsStyles, sheets: []sheet{{"S", data(tc.cells...)}}}
			_, rows := readAll(t, zipParts(t, b.parts()), Config{KeyColumns: []string{"Mail"}})
			if len(rows) != 1 || rows[0].Err != nil {
				t.Fatalf("rows = %+v", rows)
			}
			if got := rows[0].Entry.Attributes["Valeur"]; len(got) != 1 || got[0] != tc.want {
				t.Errorf("Valeur = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestXLSXPrefixed reads a sheet whose elements carry a namespace prefix,
// as some generators write them, without styles or shared strings.
func TestXLSXPrefixed(t *testing.T) {
	b := book{sheets: []sheet{{"S", ""}}}
	parts := b.parts()
	for i := range parts {
		if parts[i].name == "xl/worksheets/sheet1.xml" {
			parts[i].body = `<x:worksheet xmlns:x="` + nsMain + `"><x:sheetData>` +
				`<x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>Mail</x:t></x:is></x:c></x:row>` +
				`<x:row r="2"><x:c r="A2" t="inlineStr"><x:is><x:t>a@perso.example</x:t></x:is></x:c></x:row>` +
				`</x:sheetData></x:worksheet>`
		}
	}
	_, rows := readAll(t, zipParts(t, parts), Config{KeyColumns: []string{"mail"}})
	if len(rows) != 1 || rows[0].Entry.ExternalID != "a@perso.example" || rows[0].Line != 2 {
		t.Fatalf("rows = %+v", rows)
	}
}

func TestXLSXErrors(t *testing.T) {
	header := row(1, cinline("A1", "Mail"), cinline("B1", "Nom"))
	withSheet := func(data string) []byte {
		return zipParts(t, book{sheets: []sheet{{"Internes", data}}, sst: []string{"<t>x</t>"}}.parts())
	}
	replace := func(name, body string) []byte {
		parts := book{sheets: []sheet{{"Internes", header}}}.parts()
		var out []part
		for _, p := range parts {
			if p.name == name {
				if body == "" {
					continue
				}
				p.body = body
			}
			out = append(out, p)
		}
		return zipParts(t, out)
	}
	deep := strings.Repeat("<a>", 200) + strings.Repeat("</a>", 200)
	for _, tc := range []struct {
		name    string
		data    []byte
		cfg     Config
		open    string // Open's error, or
		rowsErr string // Rows' error
	}{
		{name: "no such sheet", data: withSheet(header), cfg: Config{Sheet: "Externes"},
			open: `sheet: no sheet named "Externes"; the workbook has "Internes"`},
		{name: "duplicate column", data: withSheet(row(1, cinline("A1", "Mail"), cinline("B1", "Nom"), cinline("C1", "NOM"))),
			open: `header: column "NOM" appears twice, as columns B and C`},
		{name: "unnamed column", data: withSheet(row(1, cinline("A1", "Mail"), cinline("C1", "Nom"))),
			open: `header: column B has no name`},
		{name: "empty sheet", data: withSheet(""), open: "the file is empty: no header line"},
		{name: "no workbook part", data: replace("xl/workbook.xml", ""), open: "not an xlsx workbook: no xl/workbook.xml"},
		{name: "no sheet part", data: replace("xl/worksheets/sheet1.xml", ""), open: `sheet "Internes": its part xl/worksheets/sheet1.xml is not in the zip archive`},
		{name: "no sheets", data: replace("xl/workbook.xml", `<workbook><sheets/></workbook>`), open: "the workbook has no sheet"},
		{name: "broken XML", data: replace("xl/workbook.xml", `<workbook><sheets>`), open: "xl/workbook.xml: the document ends inside <sheets>"},
		{name: "mismatched tags", data: replace("xl/workbook.xml", `<workbook><sheets></workbook>`), open: "xl/workbook.xml: unexpected </workbook>"},
		{name: "nested too deep", data: replace("xl/workbook.xml", deep), open: "xl/workbook.xml: elements nested more than 128 deep"},
		{name: "nested too deep in the sheet", data: withSheet(header + deep), rowsErr: "elements nested more than 128 deep"},
		{name: "shared string out of range", data: withSheet(header + row(2, cinline("A2", "m"), cs("B2", 5))),
			rowsErr: `sheet "Internes", cell B2: shared string 5, but the workbook has 1`},
		{name: "beyond XFD", data: withSheet(header + row(2, cinline("A2", "m"), cinline("XFE2", "x"))),
			rowsErr: `sheet "Internes", row 2: a cell beyond column XFD`},
		{name: "bad reference", data: withSheet(header + row(2, cinline("A2", "m"), cinline("2B", "x"))),
			rowsErr: `sheet "Internes", row 2: cell reference "2B" is not a column letter and a row number`},
		{name: "rows out of order", data: withSheet(header + row(3, cinline("A3", "m")) + row(2, cinline("A2", "n"))),
			rowsErr: `sheet "Internes": row 2 comes after row 3`},
		{name: "row number too big", data: withSheet(header + row(1048577, cinline("A2", "m"))),
			rowsErr: `sheet "Internes": row number "1048577" is not between 1 and 1048576`},
		{name: "truncated sheet", data: withSheet(header + `<row r="2"><c r="A2" t="inlineStr"><is><t>m</t></is></c>`), // the part's end tags follow
			rowsErr: `unexpected </sheetData>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cfg.KeyColumns == nil {
				tc.cfg.KeyColumns = []string{"Mail"}
			}
			f, err := Open(bytes.NewReader(tc.data), int64(len(tc.data)), tc.cfg)
			if tc.open != "" {
				if err == nil || !strings.Contains(err.Error(), tc.open) {
					t.Fatalf("Open: %v, want %q", err, tc.open)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			err = f.Rows(t.Context(), func(Row) error { return nil })
			if tc.rowsErr == "" {
				if err != nil {
					t.Fatalf("Rows: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.rowsErr) {
				t.Fatalf("Rows: %v, want %q", err, tc.rowsErr)
			}
		})
	}
}

// TestXLSXDeclaredSize refuses a part that says it is bigger than allowed,
// without inflating it.
func TestXLSXDeclaredSize(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, p := range (book{sheets: []sheet{{"S", row(1, cinline("A1", "Mail"))}}}).parts() {
		body := []byte(p.body)
		fh := &zip.FileHeader{Name: p.name, Method: zip.Store, CRC32: crc32.ChecksumIEEE(body),
			CompressedSize64: uint64(len(body)), UncompressedSize64: uint64(len(body))}
		if p.name == "xl/worksheets/sheet1.xml" {
			fh.UncompressedSize64 = 600 << 20
		}
		w, err := zw.CreateRaw(fh)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(body)
	}
	zw.Close()
	_, err := Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()), Config{KeyColumns: []string{"Mail"}})
	if err == nil || !strings.Contains(err.Error(), "xl/worksheets/sheet1.xml: 600 MiB uncompressed, more than the 512 MiB allowed") {
		t.Fatalf("Open: %v", err)
	}
}

func TestExcelDate(t *testing.T) {
	for _, tc := range []struct {
		serial   float64
		date1904 bool
		want     string // "" for no date
	}{
		{1, false, "1900-01-01"},
		{59, false, "1900-02-28"},
		{60, false, ""},
		{61, false, "1900-03-01"},
		{36526, false, "2000-01-01"},
		{36526.5, false, "2000-01-01"},
		{0, false, ""},
		{0, true, "1904-01-01"},
		{35064, true, "2000-01-01"},
		{-1, true, ""},
		{2958465, false, "9999-12-31"},
		{2958466, false, ""},
	} {
		got, ok := excelDate(tc.serial, tc.date1904)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("excelDate(%v, 1904: %v) = %q, %v; want %q", tc.serial, tc.date1904, got, ok, tc.want)
		}
	}
}

func TestIsDateFormat(t *testing.T) {
	for code, want := range map[string]bool{
		"dd/mm/yyyy":                 true,
		"d/m/yy":                     true,
		"[$-40C]d mmmm yyyy;@":       true,
		"yyyy-mm-dd hh:mm":           true,
		"mmm-yy":                     true,
		"General":                    false,
		"0.00":                       false,
		`0.0" d"`:                    false,
		`#,##0\ "jours"`:             false,
		"[Red]0":                     false,
		"h:mm":                       false,
		"[h]:mm:ss":                  false,
		"mm:ss":                      false,
		`_-* #,##0 €_-;-* #,##0 €_-`: false,
		`0;"d";m`:                    false, // the first section only
		"@":                          false,
	} {
		if got := isDateFormat(code); got != want {
			t.Errorf("isDateFormat(%q) = %v, want %v", code, got, want)
		}
	}
}

func TestColumns(t *testing.T) {
	for i, want := range map[int]string{0: "A", 25: "Z", 26: "AA", 701: "ZZ", 702: "AAA", 16383: "XFD"} {
		if got := columnLetters(i); got != want {
			t.Errorf("columnLetters(%d) = %q, want %q", i, got, want)
		}
		if got, ok := parseColumn(want + "12"); !ok || got != i {
			t.Errorf("parseColumn(%q) = %d, %v", want+"12", got, ok)
		}
	}
	for _, bad := range []string{"", "12", "AAAA1", "A1B", "$A$1"} {
		if _, ok := parseColumn(bad); ok {
			t.Errorf("parseColumn(%q) succeeded", bad)
		}
	}
}
