package notify

import (
	"bytes"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
)

// Outgoing is a mail ready for a Driver: the envelope, the rendered parts
// (for drivers that show them) and the RFC 5322 message (for drivers that
// deliver it).
type Outgoing struct {
	// ID is the queued mail's id; it also makes the Message-ID, so that a
	// mail sent twice (a crash between sending and recording it) carries
	// the same one.
	ID string
	// From and To are the envelope's bare addresses.
	From string
	To   string
	// Subject, Text and HTML are the rendered parts.
	Subject string
	Text    string
	HTML    string
	// Message is the whole RFC 5322 message, CRLF line ends.
	Message []byte
}

// compose builds the message: RFC 5322 headers (a MIME-encoded Subject when
// it is not ASCII), and a multipart/alternative body with the text part
// first and the HTML part last, both UTF-8 in quoted-printable.
func compose(id string, from *mail.Address, to, locale string, r rendered, date time.Time) (*Outgoing, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, p := range []struct{ typ, content string }{{"text/plain", r.Text}, {"text/html", r.HTML}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.typ + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := qp.Write([]byte(p.content)); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}

	var msg bytes.Buffer
	header := func(name, value string) { fmt.Fprintf(&msg, "%s: %s\r\n", name, value) }
	header("From", from.String())
	header("To", (&mail.Address{Address: to}).String())
	header("Subject", fold("Subject", mime.QEncoding.Encode("utf-8", r.Subject)))
	header("Date", date.Format(time.RFC1123Z))
	header("Message-ID", "<"+id+"@"+domainOf(from.Address)+">")
	header("MIME-Version", "1.0")
	header("Content-Language", locale)
	// RFC 3834: no out-of-office replies to automatic mails.
	header("Auto-Submitted", "auto-generated")
	header("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	msg.WriteString("\r\n")
	msg.Write(body.Bytes())
	return &Outgoing{ID: id, From: from.Address, To: to, Subject: r.Subject, Text: r.Text, HTML: r.HTML, Message: msg.Bytes()}, nil
}

// domainOf is the domain of an address, "localhost" without one.
func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 && i < len(addr)-1 {
		return addr[i+1:]
	}
	return "localhost"
}

// fold breaks a header value at its spaces so that lines stay within 78
// characters where the words allow (RFC 5322 §2.2.3); a reader unfolds it
// to the same value. MIME encoded-words are at most 75 characters long.
func fold(name, value string) string {
	var b strings.Builder
	line := len(name) + 2
	for i, w := range strings.Split(value, " ") {
		if i > 0 {
			if line+1+len(w) > 78 {
				b.WriteString("\r\n")
				line = 0
			}
			b.WriteByte(' ')
			line++
		}
		b.WriteString(w)
		line += len(w)
	}
	return b.String()
}
