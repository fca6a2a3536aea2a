package csvimport

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/transform"
)

// The encodings a CSV file may be in, as File.Encoding names them.
const (
	encUTF8        = "utf-8"
	encWindows1252 = "windows-1252"
	encLatin1      = "iso-8859-1"
)

// sniffSize is how much of a CSV file the detection of its encoding and
// delimiter reads.
const sniffSize = 64 << 10

// bufSize is the size of the buffer CSV files are read through.
const bufSize = 64 << 10

// errRecordTooLong stops a CSV file whose record grows past maxRecord.
var errRecordTooLong = errors.New("a record longer than 1 MiB: a quote left open?")

// openCSV detects the encoding and delimiter of a CSV file from its start
// and prepares its reading.
func (f *File) openCSV(r io.ReaderAt, size int64, cfg Config) error {
	head := make([]byte, min(size, sniffSize))
	n, err := r.ReadAt(head, 0)
	if n < len(head) && err != nil && err != io.EOF {
		return fmt.Errorf("read: %w", err)
	}
	head = head[:n]
	if err := checkText(head); err != nil {
		return err
	}
	var start int64
	enc, _ := parseEncoding(cfg.Encoding)
	if bytes.HasPrefix(head, []byte("\xEF\xBB\xBF")) {
		enc, start, head = encUTF8, 3, head[3:]
	}
	if enc == "" {
		enc = encWindows1252
		if validUTF8Prefix(head, int64(n) < size) {
			enc = encUTF8
		}
	}
	d, _ := parseDelimiter(cfg.Delimiter)
	if d == 0 {
		d = detectDelimiter(head)
	}
	// Classic Mac OS ends lines with CR alone; encoding/csv does not.
	crOnly := bytes.IndexByte(head, '\n') < 0 && bytes.IndexByte(head, '\r') >= 0
	f.encoding, f.delim = enc, d
	f.open = func() (rowSource, error) {
		var in io.Reader = io.NewSectionReader(r, start, size-start)
		if crOnly {
			in = crToLF{in}
		}
		switch enc {
		case encWindows1252:
			in = transform.NewReader(in, charmap.Windows1252.NewDecoder())
		case encLatin1:
			in = transform.NewReader(in, charmap.ISO8859_1.NewDecoder())
		}
		g := &guard{r: in, max: maxRecord}
		cr := csv.NewReader(bufio.NewReaderSize(g, bufSize))
		cr.Comma = d
		cr.FieldsPerRecord = -1
		cr.LazyQuotes = true
		cr.ReuseRecord = true
		return &csvSource{r: cr, guard: g, checkUTF8: enc == encUTF8}, nil
	}
	return nil
}

// checkText refuses the start of a file that is no text file.
func checkText(head []byte) error {
	switch {
	case bytes.HasPrefix(head, []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1")):
		return errors.New("not a CSV file but an Excel 97-2003 workbook (.xls): save it as .xlsx or as CSV")
	case bytes.HasPrefix(head, []byte("\xFF\xFE")), bytes.HasPrefix(head, []byte("\xFE\xFF")):
		return errors.New("a UTF-16 text file: save it as CSV in UTF-8 or Windows-1252")
	case bytes.IndexByte(head, 0) >= 0:
		return errors.New("not a CSV file: it holds binary data (NUL bytes)")
	}
	return nil
}

// validUTF8Prefix reports whether b is valid UTF-8, overlooking a
// multi-byte sequence cut at its end when the file goes on.
func validUTF8Prefix(b []byte, truncated bool) bool {
	if truncated {
		// Drop an incomplete sequence at the end: its first byte is at
		// most UTFMax-1 bytes from the end.
		for i := 1; i < utf8.UTFMax && i <= len(b); i++ {
			c := b[len(b)-i]
			if c < utf8.RuneSelf {
				break
			}
			if utf8.RuneStart(c) {
				if !utf8.FullRune(b[len(b)-i:]) {
					b = b[:len(b)-i]
				}
				break
			}
		}
	}
	return utf8.Valid(b)
}

// detectDelimiter returns the most frequent of ';', ',' and tab outside
// quotes in the first non-blank line of head, ';' on a tie.
func detectDelimiter(head []byte) rune {
	var semi, comma, tab int
	quoted, blank := false, true
scan:
	for _, c := range head {
		switch {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '\n' || c == '\r':
			if !blank {
				break scan
			}
			continue
		case c == ' ':
			continue
		case c == ';':
			semi++
		case c == ',':
			comma++
		case c == '\t':
			tab++
		}
		blank = false
	}
	switch {
	case semi >= comma && semi >= tab:
		return ';'
	case comma >= tab:
		return ','
	}
	return '\t'
}

// crToLF turns every CR into LF.
type crToLF struct{ r io.Reader }

func (c crToLF) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for i, b := range p[:n] {
		if b == '\r' {
			p[i] = '\n'
		}
	}
	return n, err
}

// guard fails a read once more than max bytes went through since n was
// last reset: the CSV reader would otherwise grow a record without bound.
type guard struct {
	r      io.Reader
	n, max int
}

func (g *guard) Read(p []byte) (int, error) {
	if g.n > g.max {
		return 0, errRecordTooLong
	}
	n, err := g.r.Read(p)
	g.n += n
	return n, err
}

// csvSource reads the records of a CSV file.
type csvSource struct {
	r         *csv.Reader
	guard     *guard
	checkUTF8 bool // replace invalid UTF-8
	cells     []string
	line      int // the last line returned
}

func (s *csvSource) next() (int, []string, error) {
	for {
		s.guard.n = 0
		rec, err := s.r.Read()
		if err == io.EOF {
			return 0, nil, io.EOF
		}
		if err != nil {
			var pe *csv.ParseError
			switch {
			case errors.As(err, &pe):
				return 0, nil, fmt.Errorf("line %d: %w", pe.StartLine, pe.Err)
			case errors.Is(err, errRecordTooLong):
				return 0, nil, fmt.Errorf("after line %d: %w", s.line, err)
			}
			return 0, nil, fmt.Errorf("read: %w", err)
		}
		cells := s.cells[:0]
		blank := true
		for _, v := range rec {
			v = strings.TrimSpace(v)
			if v != "" {
				blank = false
				if s.checkUTF8 && !utf8.ValidString(v) {
					v = validUTF8(v)
				}
			}
			cells = append(cells, v)
		}
		s.cells = cells
		if blank {
			continue
		}
		s.line, _ = s.r.FieldPos(0)
		return s.line, cells, nil
	}
}

func (s *csvSource) close() error { return nil }

// validUTF8 returns s with each byte that is not part of valid UTF-8
// replaced by U+FFFD.
func validUTF8(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}
