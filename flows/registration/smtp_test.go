package registration

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/canonid/canonid/flows/flowstest"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/notify"
	"github.com/canonid/canonid/store/storetest"
)

// TestSeedStoryOverSMTP is the seed story with its mails going through a
// real SMTP conversation (STARTTLS): the confirmation link is read from the
// mail the server received, and the validation notice arrives the same way.
func TestSeedStoryOverSMTP(t *testing.T) {
	st := storetest.OpenSQLite(t)
	e := newEnv(t, st)
	mail := flowstest.StartMail(t, st, mailConfig(notify.DriverSMTP), e.Clock.Now)
	srv := mail.Server
	ctx := context.Background()
	tick := mail.Deliver

	if err := e.svc.Register(ctx, "cpts-x", "marie.curie@example.org", "Marie", "Curie", "", "fr"); err != nil {
		t.Fatal(err)
	}
	tick(1)
	mails := srv.Received()
	if len(mails) != 1 || !mails[0].TLS || len(mails[0].To) != 1 || mails[0].To[0] != "marie.curie@example.org" {
		t.Fatalf("received %+v", mails)
	}
	// Undo quoted-printable soft breaks and "=3D" to find the link.
	body := strings.NewReplacer("=\r\n", "", "=3D", "=").Replace(string(mails[0].Data))
	m := regexp.MustCompile(`/register/confirm\?token=([A-Za-z0-9_-]+)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no link in the mail:\n%s", body)
	}
	res := e.do("POST", PathConfirm, "", nil, url.Values{fieldToken: {m[1]}, fieldPassword: {testPassword}, fieldPasswordAgain: {testPassword}})
	if res.Status != 200 {
		t.Fatalf("POST confirm: %d %s", res.Status, res.Raw)
	}
	tick(1) // registration_received
	a := e.accountOf("marie.curie@example.org")
	if res := e.do("POST", "/api/v1/orgs/cpts-x/members/"+a.ID+"/validate", "admin-x", nil, nil); res.Status != 200 {
		t.Fatalf("validate: %d %s", res.Status, res.Raw)
	}
	tick(1) // member_validated
	if n := len(srv.Received()); n != 3 {
		t.Errorf("%d mails received, want 3", n)
	}
	if a := e.accountOf("marie.curie@example.org"); a.Status != identity.StatusActive {
		t.Errorf("account %s after validation", a.Status)
	}
	storetest.CheckInvariants(t, st)
}
