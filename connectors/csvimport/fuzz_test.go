package csvimport

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzRead opens any bytes with format, encoding and delimiter detection
// and reads every row, keyed by the header's first column, then by its last
// and first: no panic, and every row is on line 2 or later with a key or
// an error.
func FuzzRead(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("Mail;Nom\na;\"b\nc\"\"\n;\r\nd;e;f\n"))
	f.Add([]byte("\uFEFFMail,Nom\r\n\"a,b\",c\r\na,b\r\n"))
	f.Add([]byte("Mail\tNom\rx\ty\r"))
	f.Add([]byte("Mail;Nom\nLef\xe8vre;x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		readEverything(t, data)
	})
}

// readEverything reads data as FuzzRead says.
func readEverything(t *testing.T, data []byte) {
	r := bytes.NewReader(data)
	probe, err := openFile(r, int64(len(data)), Config{})
	if err != nil {
		return
	}
	h := probe.Header()
	keys := [][]string{{h[0]}}
	if len(h) > 1 {
		keys = append(keys, []string{h[len(h)-1], h[0]})
	}
	for _, k := range keys {
		file, err := Open(r, int64(len(data)), Config{KeyColumns: k})
		if err != nil {
			t.Fatalf("Open with key columns %q of the header %q: %v", k, h, err)
		}
		_ = file.Rows(t.Context(), func(row Row) error {
			checkRow(t, row)
			return nil
		}) // an error about the file as a whole is fine
	}
}

// FuzzXLSXPart reads a workbook one of whose parts (chosen by which) is
// replaced by body: the hostile XML is refused or read, never a panic.
func FuzzXLSXPart(f *testing.F) {
	names := []string{"xl/worksheets/sheet1.xml", "xl/sharedStrings.xml", "xl/styles.xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels"}
	base := internsBook().parts()
	for i, name := range names {
		for _, p := range base {
			if p.name == name {
				f.Add(uint8(i), []byte(p.body))
			}
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		name := names[int(which)%len(names)]
		parts := make([]part, len(base))
		for i, p := range base {
			if p.name == name {
				p.body = string(body)
			}
			parts[i] = p
		}
		readEverything(t, zipParts(t, parts))
	})
}
