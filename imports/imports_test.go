package imports

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/canonid/canonid/connectors/csvimport"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/ingest"
	"github.com/canonid/canonid/mapping"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

var ctx = context.Background()

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// arsConnector is the connector of the DESIGN's example: an agency file.
func arsConnector(t testing.TB, correlate string) Connector {
	t.Helper()
	var spec mapping.Spec
	if err := yaml.Unmarshal([]byte(`{family_name: Nom, given_name: Prénom, birth_date: {from: ["Date de naissance"], required: true}, email: {from: [Mail], required: true}}`), &spec); err != nil {
		t.Fatal(err)
	}
	m, err := mapping.Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	var cfg ingest.Config
	if err := yaml.Unmarshal([]byte(correlate), &cfg); err != nil {
		t.Fatal(err)
	}
	no := false
	cfg.EmailVerified = &no
	return Connector{Name: "ars-occitanie", Mapping: m, Ingest: cfg, File: csvimport.Config{KeyColumns: []string{"Mail"}}}
}

// campus creates an account as a campus sync would: verified university
// address, recovery address, link.
func campus(t testing.TB, st store.Store, i int, given, family, birth, recovery string) string {
	t.Helper()
	a := identity.Account{Status: identity.StatusActive, Login: fmt.Sprintf("u%03d", i), GivenName: given, FamilyName: family, BirthDate: birth,
		Attributes: map[string][]string{}, Provenance: map[string]string{"given_name": "ldap:campus", "family_name": "ldap:campus"}}
	if recovery != "" {
		a.Attributes["recovery_email"] = []string{recovery}
	}
	if err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.Accounts().Create(ctx, &a); err != nil {
			return err
		}
		if err := tx.Emails().Add(ctx, &identity.Email{AccountID: a.ID, Address: fmt.Sprintf("u%03d@univ-test.fr", i), Verified: true, Primary: true, Source: "ldap:campus"}); err != nil {
			return err
		}
		if err := tx.Links().Create(ctx, &identity.Link{Source: "ldap:campus", ExternalID: fmt.Sprintf("uuid-%03d", i), AccountID: a.ID}); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: identity.EventAccountCreated, Actor: "test", AccountID: a.ID})
	}); err != nil {
		t.Fatal(err)
	}
	return a.ID
}

func run(t *testing.T, svc *Service, name string, data []byte, dry, strict bool) (Report, error) {
	t.Helper()
	return svc.Run(ctx, Request{Connector: "ars-occitanie", FileName: name, File: bytes.NewReader(data), Size: int64(len(data)),
		DryRun: dry, Strict: strict, Actor: "test", Owner: "test"})
}

// TestInterns imports 200 interns of whom 150 have a campus account with
// their personal address as recovery address (linked), 20 share a name and
// birth date with another campus account (created, suggested), and 30 are
// unknown (created).
func TestInterns(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		var b strings.Builder
		b.WriteString("Nom;Prénom;Date de naissance;Mail;Spécialité;Faculté\n")
		campusIDs := map[string]string{}
		for i := range 200 {
			family, given := fmt.Sprintf("Interne%03d", i), "Élodie"
			birth := fmt.Sprintf("%02d/%02d/1998", i%28+1, i%12+1)
			iso := fmt.Sprintf("1998-%02d-%02d", i%12+1, i%28+1)
			mail := fmt.Sprintf("interne%03d@perso.example", i)
			switch {
			case i < 150:
				campusIDs[mail] = campus(t, st, i, given, family, iso, strings.ToUpper(mail))
			case i < 170:
				campusIDs[mail] = campus(t, st, i, given, family, iso, "") // a namesake as far as the file can tell
			}
			fmt.Fprintf(&b, "%s;%s;%s;%s;Médecine générale;Montpellier\n", family, given, birth, mail)
		}
		file := []byte(b.String())
		svc := New(st, []Connector{arsConnector(t, `correlate: [email, {key: recovery_email, auto: true}, ine, name_birth_date]`)},
			identity.DefaultPrecedence(), discard())

		head, _ := st.Outbox().Head(ctx)
		dry, err := run(t, svc, "interns.csv", file, true, false)
		if err != nil || dry.Linked != 150 || dry.Created != 50 || dry.ImportID != "" {
			t.Fatalf("dry run: %+v, %v", dry.Summary, err)
		}
		if h, _ := st.Outbox().Head(ctx); h != head {
			t.Fatal("a dry run wrote events")
		}

		rep, err := run(t, svc, "interns.csv", file, false, false)
		if err != nil || rep.Status != StatusCompleted || rep.Rows != 200 || rep.Linked != 150 || rep.Created != 50 || len(rep.Errors) != 0 {
			t.Fatalf("import: %+v, %v", rep, err)
		}
		if len(rep.Suggestions) != 20 {
			t.Fatalf("%d suggestions, want 20: %+v", len(rep.Suggestions), rep.Suggestions)
		}
		for _, s := range rep.Suggestions {
			if len(s.Candidates) != 1 || s.Candidates[0].By != identity.LookupNameBirthDate || s.Line < 152 {
				t.Fatalf("suggestion %+v", s)
			}
		}
		// Linked rows joined the campus account; their address is pending.
		if err := st.View(ctx, func(tx store.Tx) error {
			l, err := tx.Links().Get(ctx, "csv:ars-occitanie", "interne007@perso.example")
			if err != nil {
				return err
			}
			if l.AccountID != campusIDs["interne007@perso.example"] {
				return fmt.Errorf("row 7 linked to %s", l.AccountID)
			}
			e, err := tx.Emails().Get(ctx, l.AccountID, "interne007@perso.example")
			if err != nil || e.Verified || e.Primary {
				return fmt.Errorf("row 7's address on the campus account: %+v %v", e, err)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		storetest.CheckInvariants(t, st)

		// The same file again changes nothing.
		head, _ = st.Outbox().Head(ctx)
		again, err := run(t, svc, "interns.csv", file, false, false)
		if err != nil || again.Unchanged != 200 || again.Created+again.Linked+again.Updated != 0 {
			t.Fatalf("second import: %+v, %v", again.Summary, err)
		}
		if h, _ := st.Outbox().Head(ctx); h != head+1 { // the import record's event only
			t.Fatalf("the second import wrote %d events", h-head)
		}
		recs, err := svc.List(ctx, "ars-occitanie", 0)
		if err != nil || len(recs) != 2 || recs[0].ID != again.ImportID {
			t.Fatalf("import records: %v %v", recs, err)
		}
	})
}

func TestRowErrorsAndStrict(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		svc := New(st, []Connector{arsConnector(t, `correlate: [email]`)}, identity.DefaultPrecedence(), discard())
		file := []byte("Nom;Prénom;Date de naissance;Mail\n" +
			"Martin;Camille;12/04/1999;camille@perso.example\n" +
			"Petit;Léa;31/02/2000;lea@perso.example\n" + // no such date
			"Martin;Camille;12/04/1999;camille@perso.example\n" + // the same key again
			"Roux;Hugo;01/01/2001;hugo@perso.example\n")
		head, _ := st.Outbox().Head(ctx)
		rep, err := run(t, svc, "bad.csv", file, false, true)
		var rejected *RejectedError
		if !errors.As(err, &rejected) || rep.Status != StatusRejected || len(rep.Errors) != 2 {
			t.Fatalf("strict import: %+v, %v", rep, err)
		}
		if h, _ := st.Outbox().Head(ctx); h != head+1 { // the import record's event only
			t.Fatalf("a rejected import wrote %d events", h-head)
		}
		rep, err = run(t, svc, "bad.csv", file, false, false)
		if err != nil || rep.Created != 2 || len(rep.Errors) != 2 {
			t.Fatalf("lenient import: %+v, %v", rep, err)
		}
		date, dup := rep.Errors[0], rep.Errors[1]
		if date.Line != 3 || date.Column != "Date de naissance" || date.Value != "31/02/2000" || date.Field != "birth_date" {
			t.Errorf("date error = %+v", date)
		}
		if dup.Line != 4 || !strings.Contains(dup.Reason, "line 2") {
			t.Errorf("duplicate row error = %+v", dup)
		}

		// A missing required column: nothing written but the record.
		head, _ = st.Outbox().Head(ctx)
		rep, err = run(t, svc, "nomail.csv", []byte("Nom;Prénom;Date de naissance\nMartin;Jean;01/01/1990\n"), false, false)
		if !errors.As(err, &rejected) || !strings.Contains(err.Error(), "missing required column Mail") || rep.Created != 0 {
			t.Fatalf("missing column: %+v, %v", rep, err)
		}
		if h, _ := st.Outbox().Head(ctx); h != head+1 {
			t.Fatalf("a refused file wrote %d events", h-head)
		}
	})
}

func TestSnapshotAndXLSX(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		conn := arsConnector(t, `correlate: [email]`)
		conn.Snapshot = true
		one := 1.0
		conn.Ingest.MaxGone = &one
		svc := New(st, []Connector{conn}, identity.DefaultPrecedence(), discard())
		full := []byte("Nom;Prénom;Date de naissance;Mail\nMartin;Camille;12/04/1999;camille@perso.example\nRoux;Hugo;01/01/2001;hugo@perso.example\n")
		if rep, err := run(t, svc, "v1.csv", full, false, false); err != nil || rep.Created != 2 {
			t.Fatalf("first file: %+v %v", rep.Summary, err)
		}
		// The newer file lacks Hugo: with snapshot, his link is gone.
		rep, err := run(t, svc, "v2.csv", full[:bytes.LastIndex(full[:len(full)-1], []byte("\n"))+1], false, false)
		if err != nil || rep.Gone != 1 || rep.Unchanged != 1 {
			t.Fatalf("snapshot file: %+v %v", rep.Summary, err)
		}
		if err := st.View(ctx, func(tx store.Tx) error {
			l, err := tx.Links().Get(ctx, "csv:ars-occitanie", "hugo@perso.example")
			if err == nil && l.Status != identity.LinkGone {
				err = fmt.Errorf("link %s", l.Status)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}

		// The same people in a workbook: dates read from date cells.
		data, err := os.ReadFile("testdata/two_interns.xlsx")
		if err != nil {
			t.Fatal(err)
		}
		conn.Snapshot, conn.File.KeyColumns = false, []string{"Mail"}
		svc = New(st, []Connector{conn}, identity.DefaultPrecedence(), discard())
		rep, err = run(t, svc, "interns.xlsx", data, false, false)
		if err != nil || rep.Format != "xlsx" || rep.Created != 2 || len(rep.Errors) != 0 {
			t.Fatalf("xlsx: %+v %v", rep, err)
		}
		if err := st.View(ctx, func(tx store.Tx) error {
			l, err := tx.Links().Get(ctx, "csv:ars-occitanie", "helene@perso.example")
			if err != nil {
				return err
			}
			a, err := tx.Accounts().Get(ctx, l.AccountID)
			if err == nil && (a.BirthDate != "1999-01-03" || a.GivenName != "Hélène") {
				err = fmt.Errorf("account from the workbook: %+v", a)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	})
}
