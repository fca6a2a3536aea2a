package registration

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/authn"
	"github.com/canonid/canonid/flows/flowstest"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/notify"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

// testPassword is the password people choose in the tests.
const testPassword = "Correct-Horse-42"

// memberIn returns the member of a listing.
func memberIn(t *testing.T, res response, accountID string) map[string]any {
	t.Helper()
	list, _ := res.Body["members"].([]any)
	for _, m := range list {
		if mm, ok := m.(map[string]any); ok && mm["account_id"] == accountID {
			return mm
		}
	}
	t.Fatalf("%s not listed: %s", accountID, res.Raw)
	return nil
}

// TestSeedStory is seed 003 end to end: a health professional registers
// into their CPTS, confirms their address, shows orange to the
// coordinator, is validated, shows green and may log in.
func TestSeedStory(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)

		// The registration form, then its POST.
		if res := e.do("GET", PathRegister+"?org=cpts-x", "", nil, nil); res.Status != 200 {
			t.Fatalf("GET register: %d %s", res.Status, res.Raw)
		}
		got, err := e.mails(func(ctx context.Context) error {
			return e.svc.Register(ctx, "cpts-x", " Marie.Curie@Example.ORG ", "Marie", "Curie", "06 12 34 56 78", "fr")
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Template != notify.TemplateEmailVerification || got[0].To != "marie.curie@example.org" {
			t.Fatalf("mails: %+v", got)
		}
		a := e.accountOf("marie.curie@example.org")
		if a.Status != identity.StatusPendingValidation || a.GivenName != "Marie" || a.Phone != "06 12 34 56 78" {
			t.Fatalf("account: %+v", a)
		}
		if m := e.membership("cpts-x", a.ID); m.State != identity.MembershipPending || m.Role != identity.RoleMember {
			t.Fatalf("membership: %+v", m)
		}
		exp, _ := time.Parse(time.RFC3339, got[0].Data["expires_at"])
		if want := e.Clock.Now().Add(30 * time.Minute); !exp.Equal(want) {
			t.Fatalf("expires_at %s, want %s", exp, want)
		}

		// The coordinator sees the member orange, address not verified,
		// never logged in.
		res := e.do("GET", "/api/v1/orgs/cpts-x/members", "admin-x", nil, nil)
		if res.Status != 200 {
			t.Fatalf("members: %d %s", res.Status, res.Raw)
		}
		m := memberIn(t, res, a.ID)
		if m["status"] != StatusOrange || m["email_verified"] != false || m["last_login_at"] != nil {
			t.Fatalf("member before: %v", m)
		}

		// The link: GET shows and does nothing; POST confirms.
		token := tokenOf(t, got[0])
		for range 2 {
			if res := e.do("GET", confirmURL(token), "", nil, nil); res.Status != 200 {
				t.Fatalf("GET confirm: %d %s", res.Status, res.Raw)
			}
		}
		// A refused password shows the form again and keeps the link.
		for _, pw := range [][2]string{{"short", "short"}, {testPassword, testPassword + "x"}} {
			res := e.do("POST", PathConfirm, "", nil, url.Values{fieldToken: {token}, fieldPassword: {pw[0]}, fieldPasswordAgain: {pw[1]}})
			if data, _ := res.Body["data"].(map[string]any); res.Status != 400 || data["Error"] == "" || data["Token"] != token {
				t.Fatalf("refused password %q: %d %s", pw, res.Status, res.Raw)
			}
		}
		got, err = e.mails(func(ctx context.Context) error {
			res := e.do("POST", PathConfirm, "", nil, url.Values{fieldToken: {token}, fieldPassword: {testPassword}, fieldPasswordAgain: {testPassword}})
			if res.Status != 200 {
				t.Fatalf("POST confirm: %d %s", res.Status, res.Raw)
			}
			return nil
		})
		_ = got // the HTTP request's context is not the test's: read the account instead
		if err != nil {
			t.Fatal(err)
		}
		a = e.accountOf("marie.curie@example.org")
		if a.Status != identity.StatusPendingValidation {
			t.Fatalf("status after confirm: %s", a.Status)
		}
		if ok, err := authn.CheckPassword(a.PasswordHash, testPassword); !ok || err != nil {
			t.Fatalf("password after confirm: %v, %v", ok, err)
		}
		m = memberIn(t, e.do("GET", "/api/v1/orgs/cpts-x/members", "admin-x", nil, nil), a.ID)
		if m["status"] != StatusOrange || m["email_verified"] != true {
			t.Fatalf("member after confirm: %v", m)
		}

		// The coordinator validates: green, member_validated queued.
		var validated Member
		got, err = e.mails(func(ctx context.Context) error {
			var err error
			validated, err = e.svc.Validate(ctx, "cpts-x", a.ID, "token:admin-x")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if validated.Status != StatusGreen {
			t.Fatalf("validated: %+v", validated)
		}
		if len(got) != 1 || got[0].Template != notify.TemplateMemberValidated || got[0].To != "marie.curie@example.org" ||
			got[0].Data["org"] != "CPTS X" || got[0].Data["link"] != e.Server.URL+"/login" {
			t.Fatalf("mails of the validation: %+v", got)
		}
		a = e.accountOf("marie.curie@example.org")
		mm := e.membership("cpts-x", a.ID)
		if a.Status != identity.StatusActive || mm.State != identity.MembershipValidated || mm.ValidatedBy != "token:admin-x" {
			t.Fatalf("after validation: %s, %+v", a.Status, mm)
		}
		// The member logs in with their address and password.
		if id, _, err := authn.New(st, nil, flowstest.DiscardLogger()).Authenticate(t.Context(), "Marie.Curie@example.org", testPassword); err != nil || id != a.ID {
			t.Fatalf("Authenticate: %q, %v", id, err)
		}
		m = memberIn(t, e.do("GET", "/api/v1/orgs/cpts-x/members", "admin-x", nil, nil), a.ID)
		if m["status"] != StatusGreen || m["validated_by"] != "token:admin-x" {
			t.Fatalf("member after validation: %v", m)
		}
		// Validating again is a conflict.
		if res := e.do("POST", "/api/v1/orgs/cpts-x/members/"+a.ID+"/validate", "admin-x", nil, nil); res.Status != 409 {
			t.Fatalf("validate again: %d %s", res.Status, res.Raw)
		}

		types := e.AuditTypes(a.ID)
		for _, want := range []string{identity.EventAccountCreated, identity.EventMembershipAdded, EventSubmitted,
			EventEmailVerified, identity.EventMembershipValid, identity.EventAccountActivated, notify.EventMailQueued} {
			if !slices.Contains(types, want) {
				t.Errorf("audit %v lacks %s", types, want)
			}
		}
		storetest.CheckInvariants(t, st)
	})
}

// TestValidateBeforeConfirm: validated first, the account becomes active
// when the address is confirmed, and member_validated goes out then.
func TestValidateBeforeConfirm(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		got := e.register("cpts-x", "paul@example.org", "Paul", "Martin")
		a := e.accountOf("paul@example.org")
		mails, err := e.mails(func(ctx context.Context) error {
			_, err := e.svc.Validate(ctx, "cpts-x", a.ID, "token:support")
			return err
		})
		if err != nil || len(mails) != 0 {
			t.Fatalf("validate: %v, mails %+v", err, mails)
		}
		if a = e.accountOf("paul@example.org"); a.Status != identity.StatusPendingValidation {
			t.Fatalf("status: %s", a.Status)
		}
		var done Confirmed
		mails, err = e.mails(func(ctx context.Context) error {
			var err error
			done, err = e.svc.Confirm(ctx, tokenOf(t, got[0]), testPassword)
			return err
		})
		if err != nil || !done.Active {
			t.Fatalf("confirm: %+v, %v", done, err)
		}
		if len(mails) != 1 || mails[0].Template != notify.TemplateMemberValidated {
			t.Fatalf("mails: %+v", mails)
		}
		if a = e.accountOf("paul@example.org"); a.Status != identity.StatusActive {
			t.Fatalf("status: %s", a.Status)
		}
		storetest.CheckInvariants(t, st)
	})
}

// TestConfirmQueuesRegistrationReceived: confirming before validation
// tells the person their registration waits.
func TestConfirmQueuesRegistrationReceived(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		got := e.register("cpts-x", "lea@example.org", "Léa", "Durand")
		mails, err := e.mails(func(ctx context.Context) error {
			_, err := e.svc.Confirm(ctx, tokenOf(t, got[0]), testPassword)
			return err
		})
		if err != nil || len(mails) != 1 || mails[0].Template != notify.TemplateRegistrationReceived || mails[0].Data["org"] != "CPTS X" {
			t.Fatalf("confirm: %v, %+v", err, mails)
		}
	})
}

// TestOrgScope: an org-admin acts on its org only; support everywhere.
func TestOrgScope(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		e.register("cpts-y", "yann@example.org", "Yann", "Le Goff")
		a := e.accountOf("yann@example.org")
		for _, c := range []struct {
			method, path, token string
			body                any
			want                int
		}{
			{"GET", "/api/v1/orgs/cpts-y/members", "admin-x", nil, 403},
			{"POST", "/api/v1/orgs/cpts-y/members/" + a.ID + "/validate", "admin-x", nil, 403},
			{"POST", "/api/v1/orgs/cpts-y/mail", "admin-x", map[string]any{"account_ids": []string{a.ID}, "subject": "s", "body": "b"}, 403},
			{"GET", "/api/v1/orgs/cpts-y/members", "admin-no", nil, 403},
			{"GET", "/api/v1/orgs/cpts-y/members", "scim-hr", nil, 403},
			{"GET", "/api/v1/orgs/cpts-y/members", "", nil, 401},
			// An org-admin of X asking to validate Y's member in X: not a member.
			{"POST", "/api/v1/orgs/cpts-x/members/" + a.ID + "/validate", "admin-x", nil, 404},
			{"GET", "/api/v1/orgs/cpts-y/members", "admin-y", nil, 200},
			{"GET", "/api/v1/orgs/cpts-y/members", "support", nil, 200},
			{"GET", "/api/v1/orgs/nowhere/members", "support", nil, 404},
			{"POST", "/api/v1/orgs/cpts-y/members/" + a.ID + "/validate", "support", nil, 200},
		} {
			if res := e.do(c.method, c.path, c.token, c.body, nil); res.Status != c.want {
				t.Errorf("%s %s as %q: %d %s, want %d", c.method, c.path, c.token, res.Status, res.Raw, c.want)
			}
		}
		if m := e.membership("cpts-y", a.ID); m.State != identity.MembershipValidated || m.ValidatedBy != "token:support" {
			t.Fatalf("membership: %+v", m)
		}
		storetest.CheckInvariants(t, st)
	})
}

// TestKnownAddress: registering with an address an account holds answers
// the same (nil, the same page) and sends nothing; registering again while
// the address waits sends a new link to the same account.
func TestKnownAddress(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		acc := accounts.New(st, accounts.DefaultConfig(), flowstest.DiscardLogger())
		known, err := acc.Create(t.Context(), accounts.NewAccount{GivenName: "Known", FamilyName: "Person",
			Emails: []accounts.NewEmail{{Address: "known@example.org", Verified: true}}}, "test")
		if err != nil {
			t.Fatal(err)
		}
		if got := e.register("cpts-x", "KNOWN@example.org", "Other", "Person"); len(got) != 0 {
			t.Fatalf("mails for a known address: %+v", got)
		}
		if a := e.accountOf("known@example.org"); a.ID != known.ID {
			t.Fatalf("another account holds the address: %+v", a)
		}
		if err := st.View(t.Context(), func(tx store.Tx) error {
			_, err := tx.Memberships().Get(t.Context(), "cpts-x", known.ID)
			return err
		}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("membership of the known account: %v", err)
		}

		// The pages answer the same for a known and an unknown address.
		form := func(addr string) url.Values {
			return url.Values{fieldOrg: {"cpts-x"}, fieldEmail: {addr}, fieldGivenName: {"A"}, fieldFamilyName: {"B"}}
		}
		r1 := e.do("POST", PathRegister, "", nil, form("known@example.org"))
		r2 := e.do("POST", PathRegister, "", nil, form("new-person@example.org"))
		if r1.Status != 200 || r1.Raw != r2.Raw {
			t.Fatalf("answers differ:\n%d %s\n%d %s", r1.Status, r1.Raw, r2.Status, r2.Raw)
		}

		// Again while pending: one account, a new link, the old one void.
		first := e.register("cpts-x", "again@example.org", "Anne", "Gain")
		second := e.register("cpts-x", "again@example.org", "Anne", "Gain")
		if len(first) != 1 || len(second) != 1 {
			t.Fatalf("mails: %+v / %+v", first, second)
		}
		a := e.accountOf("again@example.org") // fails if two accounts hold it
		if _, err := e.svc.Confirm(t.Context(), tokenOf(t, first[0]), testPassword); !errors.Is(err, ErrInvalidLink) {
			t.Fatalf("voided link: %v", err)
		}
		if done, err := e.svc.Confirm(t.Context(), tokenOf(t, second[0]), testPassword); err != nil || done.OrgID != "cpts-x" {
			t.Fatalf("new link: %+v, %v", done, err)
		}
		if !slices.Contains(e.AuditTypes(a.ID), EventLinkResent) {
			t.Fatalf("no %s", EventLinkResent)
		}
		storetest.CheckInvariants(t, st)
	})
}

// TestLinkRefused: an expired, reused, forged or foreign link is refused
// with one and the same answer.
func TestLinkRefused(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		used := tokenOf(t, e.register("cpts-x", "used@example.org", "U", "Sed")[0])
		if _, err := e.svc.Confirm(t.Context(), used, testPassword); err != nil {
			t.Fatal(err)
		}
		expired := tokenOf(t, e.register("cpts-x", "late@example.org", "L", "Ate")[0])
		e.Clock.Advance(30*time.Minute + time.Second)

		var answers []string
		for _, token := range []string{used, expired, "forged", ""} {
			if _, err := e.svc.Inspect(t.Context(), token); !errors.Is(err, ErrInvalidLink) {
				t.Errorf("Inspect %q: %v", token, err)
			}
			if _, err := e.svc.Confirm(t.Context(), token, testPassword); !errors.Is(err, ErrInvalidLink) {
				t.Errorf("Confirm %q: %v", token, err)
			}
			for _, res := range []response{
				e.do("GET", confirmURL(token), "", nil, nil),
				e.do("POST", PathConfirm, "", nil, url.Values{fieldToken: {token}, fieldPassword: {testPassword}, fieldPasswordAgain: {testPassword}}),
			} {
				if res.Status != 400 {
					t.Errorf("%q: %d %s", token, res.Status, res.Raw)
				}
				answers = append(answers, res.Body["title"].(string)+"|"+res.Raw[len(`{"data":`):])
			}
		}
		for _, a := range answers[1:] {
			if a != answers[0] {
				t.Errorf("answers differ:\n%s\n%s", answers[0], a)
			}
		}
		if a := e.accountOf("late@example.org"); a.Status != identity.StatusPendingValidation {
			t.Fatalf("status: %s", a.Status)
		}
		storetest.CheckInvariants(t, st)
	})
}

// TestRegisterInvalid: malformed fields and unknown orgs are refused
// before anything is written.
func TestRegisterInvalid(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		for _, c := range []struct {
			org, email, given, family, phone, locale string
			want                                     error
		}{
			{"cpts-x", "not-an-address", "A", "B", "", "", ErrInvalid},
			{"cpts-x", "a@example.org", "", "B", "", "", ErrInvalid},
			{"cpts-x", "a@example.org", "A", "B", "call me", "", ErrInvalid},
			{"cpts-x", "a@example.org", "A", "B", "", "de", ErrInvalid},
			{"nowhere", "a@example.org", "A", "B", "", "", ErrUnknownOrg},
		} {
			if err := e.svc.Register(t.Context(), c.org, c.email, c.given, c.family, c.phone, c.locale); !errors.Is(err, c.want) {
				t.Errorf("%+v: %v", c, err)
			}
		}
		if res := e.do("GET", PathRegister+"?org=nowhere", "", nil, nil); res.Status != 404 {
			t.Errorf("GET register of an unknown org: %d", res.Status)
		}
	})
}

// TestOrgMessage: the mail goes to the members selected, of that org
// only, with a verified address.
func TestOrgMessage(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		x1 := e.register("cpts-x", "x1@example.org", "X", "One")
		e.register("cpts-x", "x2@example.org", "X", "Two")
		e.register("cpts-y", "y1@example.org", "Y", "One")
		if _, err := e.svc.Confirm(t.Context(), tokenOf(t, x1[0]), testPassword); err != nil {
			t.Fatal(err)
		}
		a1, a2, b1 := e.accountOf("x1@example.org"), e.accountOf("x2@example.org"), e.accountOf("y1@example.org")

		var sent Sent
		mails, err := e.mails(func(ctx context.Context) error {
			var err error
			sent, err = e.svc.SendMessage(ctx, "cpts-x", Message{AccountIDs: []string{a1.ID, a2.ID, a1.ID},
				Subject: "Réunion", Body: "Rendez-vous <jeudi>\n à 20 h."}, "token:admin-x")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(sent.Queued, []string{a1.ID}) || !slices.Equal(sent.Skipped, []string{a2.ID}) {
			t.Fatalf("sent: %+v", sent)
		}
		if len(mails) != 1 || mails[0].Template != notify.TemplateOrgMessage || mails[0].To != "x1@example.org" ||
			mails[0].Data["subject"] != "Réunion" || mails[0].OrgID != "cpts-x" {
			t.Fatalf("mails: %+v", mails)
		}

		for _, c := range []struct {
			token string
			body  map[string]any
			want  int
		}{
			{"admin-x", map[string]any{"account_ids": []string{a1.ID}, "subject": "s", "body": "b"}, 202},
			{"admin-x", map[string]any{"account_ids": []string{a1.ID, b1.ID}, "subject": "s", "body": "b"}, 400},
			{"admin-x", map[string]any{"account_ids": []string{"ghost"}, "subject": "s", "body": "b"}, 400},
			{"admin-x", map[string]any{"account_ids": []string{}, "subject": "s", "body": "b"}, 400},
			{"admin-x", map[string]any{"account_ids": []string{a1.ID}, "subject": "", "body": "b"}, 400},
			{"admin-x", map[string]any{"account_ids": []string{a1.ID}, "subject": "s", "body": "b", "cc": "x"}, 400},
			{"support", map[string]any{"account_ids": []string{a1.ID}, "subject": "s", "body": "b"}, 202},
		} {
			if res := e.do("POST", "/api/v1/orgs/cpts-x/mail", c.token, c.body, nil); res.Status != c.want {
				t.Errorf("%s %v: %d %s, want %d", c.token, c.body, res.Status, res.Raw, c.want)
			}
		}
		storetest.CheckInvariants(t, st)
	})
}

func TestConfigValidate(t *testing.T) {
	err := Config{PublicURL: "ftp://x", LoginPath: "login", IPLimit: Limit{Events: 1}}.Validate()
	for _, key := range []string{"public_url", "login_path", "ip_limit"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("Validate lacks %s: %v", key, err)
		}
	}
	if err := (Config{PublicURL: "https://id.example"}).Validate(); err != nil {
		t.Fatal(err)
	}
}
