package notify

import (
	"bytes"
	"net/mail"
	"strings"
	"testing"
	"time"
)

// TestComposeLongSubject: a long subject (an administrator's) is folded
// within the line limits and reads back whole.
func TestComposeLongSubject(t *testing.T) {
	from := &mail.Address{Name: "Université de Test", Address: "noreply@univ-test.example"}
	for _, subject := range []string{
		strings.Repeat("Réunion plénière des équipes ", 12),
		strings.Repeat("Plenary meeting of the teams ", 12),
		"Court",
	} {
		subject = strings.TrimSpace(subject)
		out, err := compose("m1", from, "a@example.org", "fr", rendered{Subject: subject, Text: "x\n", HTML: "<p>x</p>"},
			time.Date(2026, 3, 29, 10, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		head, _, _ := bytes.Cut(out.Message, []byte("\r\n\r\n"))
		// RFC 5322: at most 998 characters a line; continuation lines
		// within 78 (the first holds the name and one encoded-word).
		lines := strings.Split(string(head), "\r\n")
		for _, line := range lines {
			if len(line) > 998 || strings.HasPrefix(line, " ") && len(line) > 78 {
				t.Errorf("header line of %d characters: %q", len(line), line)
			}
		}
		if len(subject) > 100 && len(lines) < 12 {
			t.Errorf("a subject of %d characters was not folded:\n%s", len(subject), head)
		}
		if p := parseMail(t, out.Message); p.Subject != subject {
			t.Errorf("subject read back as %q, want %q", p.Subject, subject)
		}
	}
}
