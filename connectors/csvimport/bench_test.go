package csvimport

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
)

// agencyRows writes n rows of an agency file:
// Nom;Prénom;Date de naissance;Mail;Spécialité;Faculté; up to 107,520 rows
// differ by name and birth date.
func agencyRows(n int) string {
	noms := []string{"Martin", "Lefèvre", "Çelik", "Dupont", "Garçon", "Ménard", "Roux", "Petit"}
	prenoms := []string{"Camille", "Élodie", "Hélène", "François", "Zoë", "Léa", "Hugo", "Anaïs"}
	specs := []string{"Médecine générale", "Pédiatrie", "Gynécologie-obstétrique", "Psychiatrie", "Anesthésie-réanimation"}
	facs := []string{"Montpellier-Nîmes", "Toulouse"}
	var b strings.Builder
	b.WriteString("Nom;Prénom;Date de naissance;Mail;Spécialité;Faculté\r\n")
	for i := range n {
		fmt.Fprintf(&b, "%s;%s;%02d/%02d/%d;interne%06d@perso.example;%s;%s\r\n",
			noms[i/13440%len(noms)], prenoms[i%len(prenoms)], 1+i%28, 1+i/28%12, 1960+i/336%40, i, specs[i%len(specs)], facs[i%len(facs)])
	}
	return b.String()
}

// BenchmarkRows reads a 100,000-row agency file and reports rows/s.
func BenchmarkRows(b *testing.B) {
	const n = 100_000
	text := agencyRows(n)
	cp1252, err := charmap.Windows1252.NewEncoder().String(text)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		data []byte
		keys []string
	}{
		{"utf-8", []byte(text), []string{"Mail"}},
		{"windows-1252", []byte(cp1252), []string{"Mail"}},
		{"hashed-key", []byte(text), []string{"Nom", "Prénom", "Date de naissance"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			benchmarkRows(b, bc.data, Config{KeyColumns: bc.keys}, n)
		})
	}
}

// BenchmarkRowsXLSX reads a 100,000-row workbook and reports rows/s.
func BenchmarkRowsXLSX(b *testing.B) {
	const n = 100_000
	lines := strings.Split(strings.TrimSpace(agencyRows(n)), "\r\n")
	var data strings.Builder
	for i, line := range lines {
		fmt.Fprintf(&data, `<row r="%d">`, i+1)
		for j, v := range strings.Split(line, ";") {
			fmt.Fprintf(&data, `<c r="%s%d" t="inlineStr"><is><t>%s</t></is></c>`, columnLetters(j), i+1, v)
		}
		data.WriteString("</row>")
	}
	file := zipParts(b, book{sheets: []sheet{{"Internes", data.String()}}, styles: internsStyles}.parts())
	benchmarkRows(b, file, Config{KeyColumns: []string{"Mail"}}, n)
}

func benchmarkRows(b *testing.B, data []byte, cfg Config, n int) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	loops := 0
	for b.Loop() {
		f, err := Open(bytes.NewReader(data), int64(len(data)), cfg)
		if err != nil {
			b.Fatal(err)
		}
		rows := 0
		if err := f.Rows(b.Context(), func(r Row) error {
			if r.Err != nil {
				return r.Err
			}
			rows++
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		if rows != n {
			b.Fatalf("%d rows, want %d", rows, n)
		}
		loops++
	}
	b.ReportMetric(float64(n*loops)/b.Elapsed().Seconds(), "rows/s")
}
