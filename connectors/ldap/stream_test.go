package ldap

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/canonid/canonid/connectors"
)

func TestAppendInt(t *testing.T) {
	tests := []struct {
		v    int64
		want []byte
	}{
		{0, []byte{0x02, 1, 0x00}},
		{3, []byte{0x02, 1, 0x03}},
		{127, []byte{0x02, 1, 0x7f}},
		{128, []byte{0x02, 2, 0x00, 0x80}},
		{1000, []byte{0x02, 2, 0x03, 0xe8}},
		{-1, []byte{0x02, 1, 0xff}},
		{-129, []byte{0x02, 2, 0xff, 0x7f}},
		{1 << 40, []byte{0x02, 6, 0x01, 0, 0, 0, 0, 0}},
	}
	for _, tt := range tests {
		got := appendInt(nil, tagInteger, tt.v)
		if !slices.Equal(got, tt.want) {
			t.Errorf("appendInt(%d) = % x, want % x", tt.v, got, tt.want)
		}
		tag, content, rest, err := element(string(got))
		if err != nil || tag != tagInteger || rest != "" {
			t.Fatalf("element(appendInt(%d)) = %#x, %q, %v", tt.v, tag, rest, err)
		}
		if v, err := parseInt(content); err != nil || v != tt.v {
			t.Errorf("parseInt(appendInt(%d)) = %d, %v", tt.v, v, err)
		}
	}
}

func TestAppendTLVLengths(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 255, 256, 65535, 65536, 1 << 24} {
		content := strings.Repeat("x", n)
		b := appendTLV(nil, tagOctetString, []byte(content))
		tag, got, rest, err := element(string(b) + "tail")
		if err != nil || tag != tagOctetString || got != content || rest != "tail" {
			t.Errorf("element(appendTLV(%d bytes)) = %#x, %d bytes, rest %q, %v", n, tag, len(got), rest, err)
		}
		length, err := readLength(bufio.NewReader(strings.NewReader(string(b[1:]))))
		if err != nil || length != n {
			t.Errorf("readLength(%d) = %d, %v", n, length, err)
		}
	}
}

func TestElementRejectsMalformed(t *testing.T) {
	for _, in := range []string{
		"", "\x04", "\x04\x05abc", "\x04\x80", "\x04\x85\x00\x00\x00\x00\x01x", "\x04\x82\x01", "\x1f\x01x",
		"\x04\x84\xff\xff\xff\xffx",
	} {
		if tag, c, r, err := element(in); !errors.Is(err, errMalformed) {
			t.Errorf("element(%q) = %#x, %q, %q, %v; want errMalformed", in, tag, c, r, err)
		}
	}
}

// Messages as go-ldap and slapd encode them.
func searchEntryMessage(id int64, dn string, attrs map[string][]string, order []string) string {
	var list []byte
	for _, name := range order {
		var set []byte
		for _, v := range attrs[name] {
			set = appendTLV(set, tagOctetString, []byte(v))
		}
		attr := appendTLV(nil, tagOctetString, []byte(name))
		attr = appendTLV(attr, tagSet, set)
		list = appendTLV(list, tagSequence, attr)
	}
	op := appendTLV(nil, tagOctetString, []byte(dn))
	op = appendTLV(op, tagSequence, list)
	return string(appendTLV(appendInt(nil, tagInteger, id), tagSearchEntry, op))
}

func doneMessage(id int64, code int64, diag string, controls ...ldap.Control) string {
	op := appendInt(nil, tagEnumerated, code)
	op = appendTLV(op, tagOctetString, nil)
	op = appendTLV(op, tagOctetString, []byte(diag))
	body := appendTLV(appendInt(nil, tagInteger, id), tagSearchDone, op)
	if len(controls) > 0 {
		var cs []byte
		for _, c := range controls {
			cs = append(cs, c.Encode().Bytes()...)
		}
		body = appendTLV(body, tagControls, cs)
	}
	return string(body)
}

func TestParseSearchMessages(t *testing.T) {
	attrs := map[string][]string{
		"uid":                  {"amartin"},
		"cn":                   {"Émilie Leroy"},
		"eduPersonAffiliation": {"student", "member"},
		"jpegPhoto":            {strings.Repeat("\x00\xff", 200)},
		"entryUUID":            {"8FAA6A6C-7A83-1041-916A-91FB778F200E"},
		"modifyTimestamp":      {"20240131235959Z"},
		"entryCSN":             {"20240131235959.123456Z#000000#000#000000"},
		"empty":                {},
	}
	order := []string{"uid", "cn", "eduPersonAffiliation", "jpegPhoto", "entryUUID", "modifyTimestamp", "entryCSN", "empty"}
	msg, err := parseMessage(searchEntryMessage(7, "uid=amartin,ou=people,dc=univ-test,dc=fr", attrs, order))
	if err != nil || msg.id != 7 || msg.tag != tagSearchEntry || msg.controls != "" {
		t.Fatalf("parseMessage(entry) = %+v, %v", msg, err)
	}
	dn, list, err := parseEntry(msg.op)
	if err != nil || dn != "uid=amartin,ou=people,dc=univ-test,dc=fr" {
		t.Fatalf("parseEntry() = %q, %v", dn, err)
	}
	var names []string
	got := map[string][]string{}
	if err := eachAttribute(list, func(name string, values []string) {
		names = append(names, name)
		got[name] = values
	}); err != nil {
		t.Fatalf("eachAttribute() = %v", err)
	}
	if !slices.Equal(names, order) {
		t.Errorf("attributes = %q, want %q", names, order)
	}
	for name, want := range attrs {
		if !slices.Equal(got[name], want) {
			t.Errorf("%s = %q, want %q", name, got[name], want)
		}
	}

	c := &Connector{log: slog.New(slog.DiscardHandler), keepCSN: true}
	entry, ok, err := c.rawEntry(dn, list)
	if err != nil || !ok {
		t.Fatalf("rawEntry() = %v, %v", ok, err)
	}
	want := connectors.Entry{
		ExternalID: "8faa6a6c-7a83-1041-916a-91fb778f200e",
		Name:       dn,
		ModifiedAt: time.Date(2024, 1, 31, 23, 59, 59, 0, time.UTC),
		CSN:        "20240131235959.123456Z#000000#000#000000",
	}
	if entry.ExternalID != want.ExternalID || entry.Name != want.Name || !entry.ModifiedAt.Equal(want.ModifiedAt) || entry.CSN != want.CSN {
		t.Errorf("rawEntry() = %+v, want %+v", entry, want)
	}
	if _, ok := entry.Attributes["entryUUID"]; ok {
		t.Errorf("rawEntry() kept entryUUID among the attributes")
	}
	if _, ok := entry.Attributes["entryCSN"]; !ok {
		t.Errorf("rawEntry() dropped entryCSN, which was asked for")
	}

	paging := ldap.NewControlPaging(1000)
	paging.SetCookie([]byte("\x01\x02cookie"))
	tests := []struct {
		name       string
		msg        string
		wantCode   uint16 // 0: success
		wantCookie string
	}{
		{"success, no control", doneMessage(8, 0, ""), 0, ""},
		{"success, paging", doneMessage(8, 0, "", ldap.NewControlManageDsaIT(true), paging), 0, "\x01\x02cookie"},
		{"last page", doneMessage(8, 0, "", ldap.NewControlPaging(1000)), 0, ""},
		{"no such object", doneMessage(8, 32, "no such base"), 32, ""},
		{"size limit", doneMessage(8, 4, ""), 4, ""},
	}
	for _, tt := range tests {
		msg, err := parseMessage(tt.msg)
		if err != nil || msg.tag != tagSearchDone {
			t.Fatalf("%s: parseMessage() = %+v, %v", tt.name, msg, err)
		}
		err = parseResult(msg.op)
		if tt.wantCode == 0 && err != nil || tt.wantCode != 0 && !ldap.IsErrorWithCode(err, tt.wantCode) {
			t.Errorf("%s: parseResult() = %v, want code %d", tt.name, err, tt.wantCode)
		}
		if cookie, err := pagingCookie(msg.controls); err != nil || cookie != tt.wantCookie {
			t.Errorf("%s: pagingCookie() = %q, %v; want %q", tt.name, cookie, err, tt.wantCookie)
		}
	}
}

// FuzzParse feeds arbitrary messages to the decoder: it must return an
// error, never panic nor read out of bounds.
func FuzzParse(f *testing.F) {
	f.Add(searchEntryMessage(2, "uid=a,dc=fr", map[string][]string{"uid": {"a"}, "mail": {"a@b", "c@d"}}, []string{"uid", "mail"}))
	paging := ldap.NewControlPaging(10)
	paging.SetCookie([]byte("c"))
	f.Add(doneMessage(2, 0, "", paging))
	f.Add(doneMessage(2, 49, "bad"))
	f.Fuzz(func(t *testing.T, m string) {
		msg, err := parseMessage(m)
		if err != nil {
			return
		}
		_ = parseResult(msg.op)
		_, _ = pagingCookie(msg.controls)
		if _, list, err := parseEntry(msg.op); err == nil {
			_ = eachAttribute(list, func(string, []string) {})
		}
	})
}

// silentServer accepts one connection, reads the first request and never
// answers: it tells when that request has arrived.
func silentServer(t *testing.T) (url string, requested <-chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ch := make(chan struct{})
	go func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		br := bufio.NewReader(conn)
		if _, err := br.ReadByte(); err != nil {
			return
		}
		n, err := readLength(br)
		if err != nil {
			return
		}
		if _, err := io.ReadFull(br, make([]byte, n)); err != nil {
			return
		}
		close(ch)
		io.Copy(io.Discard, conn) // until the client closes
	}()
	return "ldap://" + l.Addr().String(), ch
}

func TestStreamTimeoutAndCancel(t *testing.T) {
	newSilent := func(t *testing.T, timeout time.Duration) (*Connector, <-chan struct{}) {
		url, requested := silentServer(t)
		c, err := New("silent", Config{URL: url, BindDN: "cn=admin,dc=fr", BindPassword: "pw", BaseDN: "dc=fr", Timeout: timeout}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c, requested
	}

	t.Run("timeout", func(t *testing.T) {
		c, _ := newSilent(t, 100*time.Millisecond)
		err := c.List(t.Context(), func(connectors.Entry) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "no answer within 100ms") {
			t.Fatalf("List() = %v, want a timeout", err)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		c, requested := newSilent(t, time.Hour)
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			<-requested
			cancel()
		}()
		err := c.List(ctx, func(connectors.Entry) error { return nil })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("List() = %v, want context.Canceled", err)
		}
	})
}
