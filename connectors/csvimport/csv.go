package csvimport

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/transform"
)

// sniffSize is how much of a CSV file encoding and delimiter detection read.
const sniffSize = 64 << 10

// encodingOf normalises a configured encoding name; "" means detect.
func encodingOf(s string) (string, error) {
	switch strings.ToLower(strings.ReplaceAll(s, "_", "-")) {
	case "":
		return "", nil
	case "utf-8", "utf8":
		return "utf-8", nil
	case "windows-1252", "cp1252":
		return "windows-1252", nil
	case "iso-8859-1", "latin-1", "latin1":
		return "iso-8859-1", nil
	}
	return "", fmt.Errorf("%q is not utf-8, windows-1252 or iso-8859-1", s)
}

// openCSV detects the encoding and delimiter from the start of the file.
func (f *File) openCSV(r io.ReaderAt, size int64) error {
	head := make([]byte, min(size, sniffSize))
	n, err := r.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return fmt.Errorf("read: %w", err)
	}
	head = head[:n]
	enc, _ := encodingOf(f.cfg.Encoding)
	if enc == "" {
		enc = "windows-1252"
		if validUTF8Prefix(head, int64(n) < size) {
			enc = "utf-8"
		}
	}
	f.encoding = enc
	decoded := decode(enc, bytes.NewReader(head))
	text, _ := io.ReadAll(decoded)
	first := string(text)
	if i := strings.IndexByte(first, '\n'); i >= 0 {
		first = first[:i]
	}
	d, _ := delimiter(f.cfg.Delimiter)
	if d == 0 {
		d = detectDelimiter(first)
	}
	f.delim = d
	f.open = func() (rowReader, error) {
		cr := csv.NewReader(bufio.NewReaderSize(decode(enc, io.NewSectionReader(r, 0, size)), 64<<10))
		cr.Comma = d
		cr.FieldsPerRecord = -1
		cr.LazyQuotes = true
		cr.ReuseRecord = true
		return &csvRows{r: cr}, nil
	}
	return nil
}

// validUTF8Prefix reports whether b is valid UTF-8, ignoring a sequence cut
// at its end when more of the file follows.
func validUTF8Prefix(b []byte, truncated bool) bool {
	if truncated {
		for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
			if utf8.Valid(b) {
				return true
			}
			b = b[:len(b)-1]
		}
	}
	return utf8.Valid(b)
}

// decode returns r decoded from enc to UTF-8, without a leading BOM.
// Invalid UTF-8 is passed on as is; strings built from it hold U+FFFD when
// printed.
func decode(enc string, r io.Reader) io.Reader {
	switch enc {
	case "windows-1252":
		return transform.NewReader(r, charmap.Windows1252.NewDecoder())
	case "iso-8859-1":
		return transform.NewReader(r, charmap.ISO8859_1.NewDecoder())
	}
	br := bufio.NewReader(r)
	if b, err := br.Peek(3); err == nil && string(b) == "\uFEFF" {
		br.Discard(3)
	}
	return br
}

// detectDelimiter counts ; , and tab outside quotes in the header line; the
// most frequent wins, ';' on a tie.
func detectDelimiter(line string) rune {
	counts := map[rune]int{}
	quoted := false
	for _, c := range line {
		switch {
		case c == '"':
			quoted = !quoted
		case !quoted && (c == ';' || c == ',' || c == '\t'):
			counts[c]++
		}
	}
	best := ';'
	for _, c := range []rune{',', '\t'} {
		if counts[c] > counts[best] {
			best = c
		}
	}
	return best
}

// csvRows reads records, skipping blank lines, with the line each starts on.
type csvRows struct{ r *csv.Reader }

func (c *csvRows) next() (int, []string, error) {
	for {
		rec, err := c.r.Read()
		if err != nil {
			if pe, ok := err.(*csv.ParseError); ok {
				return 0, nil, fmt.Errorf("line %d: %w", pe.StartLine, pe.Err)
			}
			return 0, nil, err
		}
		line, _ := c.r.FieldPos(0)
		blank := true
		for _, v := range rec {
			if strings.TrimSpace(v) != "" {
				blank = false
				break
			}
		}
		if blank {
			continue
		}
		return line, append([]string(nil), rec...), nil
	}
}
