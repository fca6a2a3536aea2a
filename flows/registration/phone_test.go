package registration

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/store/storetest"
)

// TestPhoneCode: a code sent by SMS verifies the phone once; the member
// list shows it.
func TestPhoneCode(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		link := tokenOf(t, e.register("cpts-x", "tel@example.org", "Tel", "Phone")[0])
		a := e.accountOf("tel@example.org")

		if err := e.svc.VerifyPhone(t.Context(), link, "123456"); !errors.Is(err, ErrNoCode) {
			t.Fatalf("before any code: %v", err)
		}
		if err := e.svc.SendPhoneCode(t.Context(), link, "fr"); err != nil {
			t.Fatal(err)
		}
		if len(e.sms.sent) != 1 || e.sms.sent[0][0] != a.Phone || !strings.Contains(e.sms.sent[0][1], "10 minutes") {
			t.Fatalf("sms: %v", e.sms.sent)
		}
		code := e.sms.lastCode(t)
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		if err := e.svc.VerifyPhone(t.Context(), link, wrong); !errors.Is(err, ErrWrongCode) {
			t.Fatalf("wrong code: %v", err)
		}
		if err := e.svc.VerifyPhone(t.Context(), link, code); err != nil {
			t.Fatalf("right code: %v", err)
		}
		if err := e.svc.VerifyPhone(t.Context(), link, code); !errors.Is(err, ErrNoCode) {
			t.Fatalf("code reused: %v", err)
		}
		m := memberIn(t, e.do("GET", "/api/v1/orgs/cpts-x/members", "admin-x", nil, nil), a.ID)
		if m["phone_verified"] != true {
			t.Fatalf("member: %v", m)
		}
		storetest.CheckInvariants(t, st)
	})
}

// TestPhoneCodeLimits: 10 minutes, 5 attempts, 3 codes an hour.
func TestPhoneCodeLimits(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		link := tokenOf(t, e.register("cpts-x", "lim@example.org", "Lim", "Its")[0])

		// Expired after 10 minutes.
		if err := e.svc.SendPhoneCode(t.Context(), link, "en"); err != nil {
			t.Fatal(err)
		}
		code := e.sms.lastCode(t)
		e.Clock.Advance(PhoneCodeTTL)
		if err := e.svc.VerifyPhone(t.Context(), link, code); !errors.Is(err, ErrNoCode) {
			t.Fatalf("expired code: %v", err)
		}

		// The 5th wrong attempt voids the code, even for the right one.
		if err := e.svc.SendPhoneCode(t.Context(), link, "en"); err != nil {
			t.Fatal(err)
		}
		code = e.sms.lastCode(t)
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		for i := range PhoneCodeAttempts {
			if err := e.svc.VerifyPhone(t.Context(), link, wrong); !errors.Is(err, ErrWrongCode) {
				t.Fatalf("attempt %d: %v", i+1, err)
			}
		}
		if err := e.svc.VerifyPhone(t.Context(), link, code); !errors.Is(err, ErrNoCode) {
			t.Fatalf("after %d attempts: %v", PhoneCodeAttempts, err)
		}

		// A third code within the hour, then no more.
		if err := e.svc.SendPhoneCode(t.Context(), link, "en"); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.SendPhoneCode(t.Context(), link, "en"); !errors.Is(err, ErrTooManyCodes) {
			t.Fatalf("4th code: %v", err)
		}
		// A new code voids the older one.
		e.Clock.Advance(time.Hour)
		old := e.sms.lastCode(t)
		link2 := tokenOf(t, e.register("cpts-x", "lim@example.org", "Lim", "Its")[0]) // the first link expired
		if err := e.svc.SendPhoneCode(t.Context(), link2, "en"); err != nil {
			t.Fatal(err)
		}
		if fresh := e.sms.lastCode(t); fresh != old {
			if err := e.svc.VerifyPhone(t.Context(), link2, old); !errors.Is(err, ErrWrongCode) {
				t.Fatalf("old code after a new one: %v", err)
			}
		}
		if err := e.svc.SendPhoneCode(t.Context(), "forged", "en"); !errors.Is(err, ErrInvalidLink) {
			t.Fatalf("forged link: %v", err)
		}
		storetest.CheckInvariants(t, st)
	})
}

// TestPhonePage: the confirmation page's phone forms.
func TestPhonePage(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t))
	link := tokenOf(t, e.register("cpts-x", "pp@example.org", "P", "P")[0])
	post := func(action, code string) response {
		return e.do("POST", PathPhone, "", nil, url.Values{fieldToken: {link}, "action": {action}, "code": {code}})
	}
	if res := post("send", ""); res.Status != 200 || res.Body["data"].(map[string]any)["Notice"] == "" {
		t.Fatalf("send: %d %s", res.Status, res.Raw)
	}
	code := e.sms.lastCode(t)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	if res := post("verify", wrong); res.Status != 400 {
		t.Fatalf("wrong: %d %s", res.Status, res.Raw)
	}
	res := post("verify", code)
	if data, _ := res.Body["data"].(map[string]any); res.Status != 200 || data["Phone"] != nil {
		t.Fatalf("verify: %d %s", res.Status, res.Raw)
	}
	if res := e.do("POST", PathPhone, "", nil, url.Values{fieldToken: {"forged"}, "action": {"send"}}); res.Status != 400 {
		t.Fatalf("forged: %d %s", res.Status, res.Raw)
	}
}
