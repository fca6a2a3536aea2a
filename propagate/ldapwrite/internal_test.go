package ldapwrite

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/canonid/canonid/propagate"
)

func TestFailClassifies(t *testing.T) {
	ldapErr := func(code uint16) error {
		return fmt.Errorf("modify uid=x,ou=canonid,dc=univ-test,dc=fr: %w", ldap.NewError(code, errors.New("diagnostic")))
	}
	tests := []struct {
		name        string
		err         error
		unavailable bool
	}{
		{"network", ldapErr(ldap.ErrorNetwork), true},
		{"busy", ldapErr(ldap.LDAPResultBusy), true},
		{"unavailable", ldapErr(ldap.LDAPResultUnavailable), true},
		{"server down", ldapErr(ldap.LDAPResultServerDown), true},
		{"connect error", ldapErr(ldap.LDAPResultConnectError), true},
		{"client timeout", ldapErr(ldap.LDAPResultTimeout), true},
		{"no connection", fmt.Errorf("add: %w", ldap.ErrNilConnection), true},
		{"connection lost", fmt.Errorf("%w: read x: unable to read LDAP response packet: EOF", errConnectionLost), true},
		{"net error", fmt.Errorf("connect: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}), true},
		{"invalid credentials", ldapErr(ldap.LDAPResultInvalidCredentials), true},
		{"unwilling to perform", ldapErr(ldap.LDAPResultUnwillingToPerform), false},
		{"object class violation", ldapErr(ldap.LDAPResultObjectClassViolation), false},
		{"already exists", ldapErr(ldap.LDAPResultEntryAlreadyExists), false},
		{"insufficient access", ldapErr(ldap.LDAPResultInsufficientAccessRights), false},
		{"plain", errors.New("add x: already exists, then not found"), false},
	}
	tg := &Target{cfg: Config{Name: "directory", URL: "ldap://127.0.0.1:10389"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tg.fail(context.Background(), tt.err)
			if got, _ := propagate.IsUnavailable(err); got != tt.unavailable {
				t.Errorf("fail(%v) = %v, unavailable %v, want %v", tt.err, err, got, tt.unavailable)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("fail(%v) = %v, does not wrap it", tt.err, err)
			}
			if !strings.Contains(err.Error(), `ldap target "directory" (ldap://127.0.0.1:10389): `+tt.err.Error()) {
				t.Errorf("fail() = %q, want the target and the cause", err)
			}
		})
	}

	t.Run("context ended", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := tg.fail(ctx, ldapErr(ldap.ErrorNetwork))
		if ok, _ := propagate.IsUnavailable(err); !ok || !errors.Is(err, context.Canceled) {
			t.Errorf("fail() = %v, want an unavailable error wrapping context.Canceled", err)
		}
		err = tg.fail(ctx, ctx.Err())
		if got := strings.Count(err.Error(), context.Canceled.Error()); got != 1 {
			t.Errorf("fail(ctx.Err()) = %q, names the cancellation %d times", err, got)
		}
	})
}

func TestSplitDN(t *testing.T) {
	tests := []struct{ dn, rdn, parent string }{
		{"uid=amartin,ou=canonid,dc=univ-test,dc=fr", "uid=amartin", "ou=canonid,dc=univ-test,dc=fr"},
		{"uid=" + ldap.EscapeDN("o,neil+x") + ",ou=canonid,dc=fr", `uid=o\,neil\+x`, "ou=canonid,dc=fr"},
		{`uid=back\\slash,dc=fr`, `uid=back\\slash`, "dc=fr"},
		{"dc=fr", "dc=fr", ""},
	}
	for _, tt := range tests {
		rdn, parent := splitDN(tt.dn)
		if rdn != tt.rdn || parent != tt.parent {
			t.Errorf("splitDN(%q) = %q, %q, want %q, %q", tt.dn, rdn, parent, tt.rdn, tt.parent)
		}
	}
}
