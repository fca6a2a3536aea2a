package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/canonid/canonid/authn"
	"github.com/canonid/canonid/flows/activation"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/store"
)

// demoActor is the audit actor of the demo data.
const demoActor = "system:demo"

// demoMarkerOrg is the org whose presence means the demo is already seeded.
const demoMarkerOrg = "univ-test"

// demoNamespace is the URL from which the demo's uuids are derived.
const demoNamespace = "https://canonid.example/demo"

// demoOrgs returns the organisations of the four seed stories.
func demoOrgs() []identity.Org {
	return []identity.Org{
		{ID: "univ-test", Name: "Université de Test", Kind: "university"},
		{ID: "ars-occitanie", Name: "ARS Occitanie", Kind: "agency"},
		{ID: "ecole-emile-zola", Name: "École Émile Zola", Kind: "school"},
		{ID: "cpts-sud", Name: "CPTS Sud", Kind: "cpts"},
	}
}

// demoPerson is one demo account and what hangs off it.
type demoPerson struct {
	key     string // unique, derives the ids
	role    string // who this is, for the summary
	hint    string // what to try with it, for the summary
	source  string // provenance of every field
	account identity.Account
	emails  []identity.Email // AccountID and Source are filled in
	// linkExternal is the external id of the account's link at source,
	// empty for none. "uuid" derives a uuid.
	linkExternal string
	linkAttrs    map[string][]string
	memberships  []identity.Membership // AccountID is filled in
}

// demoPeople follows the seed stories (see shared/seeds): every address is
// under .example or .test.
func demoPeople() []demoPerson {
	validated := func(org string) identity.Membership {
		return identity.Membership{OrgID: org, Role: identity.RoleMember, State: identity.MembershipValidated, ValidatedBy: demoActor}
	}
	return []demoPerson{
		{ // seed 000: the intern's university account...
			key: "camille.martin", role: "000 intern, university account", source: "ldap:campus",
			hint: "log in here and add cam.martin97@mail.example to merge the agency account",
			account: identity.Account{
				Status: identity.StatusActive, Login: "camille.martin",
				GivenName: "Camille", FamilyName: "MARTIN", DisplayName: "Camille MARTIN", BirthDate: "1997-03-14",
				Attributes: map[string][]string{identity.FieldAffiliation: {"student"}},
			},
			emails:       []identity.Email{{Address: "camille.martin@univ-test.fr", Verified: true, Primary: true}},
			linkExternal: "uuid",
			linkAttrs:    map[string][]string{"uid": {"camille.martin"}, "sn": {"MARTIN"}, "givenName": {"Camille"}, "mail": {"camille.martin@univ-test.fr"}},
			memberships:  []identity.Membership{validated("univ-test")},
		},
		{ // ...and the account the regional agency created with her personal address.
			key: "ars-occitanie/DES-2024-0173", role: "000 intern, agency account", source: "csv:ars-occitanie",
			hint: "the duplicate: no login, personal address only",
			account: identity.Account{
				Status:    identity.StatusActive,
				GivenName: "Camille", FamilyName: "MARTIN", DisplayName: "MARTIN Camille", BirthDate: "1997-03-14",
			},
			emails:       []identity.Email{{Address: "cam.martin97@mail.example", Verified: true, Primary: true}},
			linkExternal: "DES-2024-0173",
			linkAttrs:    map[string][]string{"Nom": {"MARTIN"}, "Prénom": {"Camille"}, "Date de naissance": {"14/03/1997"}, "Mail": {"cam.martin97@mail.example"}},
		},
		{ // seed 001: HR created the staff member's account; she has not activated it.
			key: "jdupont", role: "001 staff, created by HR", source: "ldap:campus",
			hint: "activation goes to the recovery address julie.dupont@perso.example",
			account: identity.Account{
				Status: identity.StatusPendingActivation, Login: "jdupont",
				GivenName: "Julie", FamilyName: "DUPONT", DisplayName: "Julie DUPONT",
				Attributes: map[string][]string{
					identity.FieldRecoveryEmail: {"julie.dupont@perso.example"},
					identity.FieldAffiliation:   {"staff", "employee"},
				},
			},
			linkExternal: "uuid",
			linkAttrs:    map[string][]string{"uid": {"jdupont"}, "sn": {"DUPONT"}, "givenName": {"Julie"}, "supannMailPerso": {"julie.dupont@perso.example"}},
			memberships:  []identity.Membership{validated("univ-test")},
		},
		{ // seed 002: the parent's account to keep...
			key: "franck.cavel", role: "002 parent, account to keep", source: "self",
			hint: "log in here and paste the merge key of franck.cavel3",
			account: identity.Account{
				Status: identity.StatusActive, Login: "franck.cavel",
				GivenName: "Franck", FamilyName: "CAVEL", DisplayName: "Franck CAVEL", BirthDate: "1978-06-01",
			},
			emails:      []identity.Email{{Address: "franck.cavel@laposte.example", Verified: true, Primary: true}},
			memberships: []identity.Membership{validated("ecole-emile-zola")},
		},
		{ // ...and the one to drop. The seed really shows another birth date.
			key: "franck.cavel3", role: "002 parent, account to drop", source: "self",
			hint: "log in here and generate a merge key",
			account: identity.Account{
				Status: identity.StatusActive, Login: "franck.cavel3",
				GivenName: "FRANCK", FamilyName: "CAVEL", DisplayName: "FRANCK CAVEL", BirthDate: "1984-10-17",
				Phone: "182635151",
			},
			emails:      []identity.Email{{Address: "romain.gentef@ode.example", Verified: true, Primary: true}},
			memberships: []identity.Membership{validated("ecole-emile-zola")},
		},
		{ // seed 003: a nurse registered herself; a CPTS coordinator must validate her.
			key: "sophie.leroy@infirmiere.example", role: "003 nurse, self-registered", source: "self",
			hint: "waits for a cpts-sud coordinator; logs in with her address",
			account: identity.Account{
				Status:    identity.StatusPendingValidation,
				GivenName: "Sophie", FamilyName: "LEROY", DisplayName: "Sophie LEROY",
				Phone:      "+33600000003",
				Attributes: map[string][]string{"profession": {"nurse"}},
			},
			emails:      []identity.Email{{Address: "sophie.leroy@infirmiere.example", Verified: true, Primary: true}},
			memberships: []identity.Membership{{OrgID: "cpts-sud", Role: identity.RoleMember, State: identity.MembershipPending}},
		},
		{ // ...and the coordinator of her CPTS, who validates her in the console.
			key: "claire.moreau", role: "003 coordinator (org-admin)", source: "self",
			hint: "log in here, then open /console/orgs/cpts-sud/members and validate sophie.leroy",
			account: identity.Account{
				Status: identity.StatusActive, Login: "claire.moreau",
				GivenName: "Claire", FamilyName: "MOREAU", DisplayName: "Claire MOREAU",
			},
			emails: []identity.Email{{Address: "coordination@cpts-sud.example", Verified: true, Primary: true}},
			memberships: []identity.Membership{{OrgID: "cpts-sud", Role: identity.RoleOrgAdmin, State: identity.MembershipValidated,
				ValidatedBy: demoActor}},
		},
		{ // The help desk, with the support console (login.admins).
			key: "support.demo", role: "support staff (admin console)", source: "admin",
			hint: "log in here, then open /admin: accounts, duplicates, merges, imports, propagation, audit",
			account: identity.Account{
				Status: identity.StatusActive, Login: "support.demo",
				GivenName: "Support", FamilyName: "DÉMO", DisplayName: "Support DÉMO",
			},
			emails: []identity.Email{{Address: "support@univ-test.example", Verified: true, Primary: true}},
		},
	}
}

// demoAdmin is the demo account that may use the support console.
const demoAdmin = "support.demo"

// accountCreatedData is the payload of the demo's account.created events.
type accountCreatedData struct {
	Login  string `json:"login,omitempty"`
	Status string `json:"status"`
	Source string `json:"source"`
}

// membershipAddedData is the payload of the demo's membership.added events.
type membershipAddedData struct {
	Role  string `json:"role"`
	State string `json:"state"`
}

// seedDemo writes the demo orgs and accounts of the four seed stories in one
// transaction, with their audit events. It does nothing and returns false
// when the org univ-test already exists.
// demoPassword is every demo account's password, printed with the demo
// summary: the demo is for trying canonid on one's own machine.
const demoPassword = "canonid-demo-password"

func seedDemo(ctx context.Context, st store.Store, now time.Time) (seeded bool, err error) {
	hash, err := authn.HashPassword(demoPassword)
	if err != nil {
		return false, err
	}
	err = st.Update(ctx, func(tx store.Tx) error {
		seeded = false // fn may be retried
		if _, err := tx.Orgs().Get(ctx, demoMarkerOrg); err == nil {
			return nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		for _, o := range demoOrgs() {
			o.CreatedAt = now
			if err := tx.Orgs().Put(ctx, &o); err != nil {
				return err
			}
			if err := tx.Record(ctx, store.Event{
				Type: identity.EventOrgUpserted, Actor: demoActor, OrgID: o.ID, At: now,
				Data: orgUpsertData{ID: o.ID, Name: o.Name, Kind: o.Kind, Created: true},
			}); err != nil {
				return err
			}
		}
		for _, p := range demoPeople() {
			p.account.PasswordHash = hash
			if err := seedPerson(ctx, tx, p, now); err != nil {
				return fmt.Errorf("%s: %w", p.key, err)
			}
		}
		seeded = true
		return nil
	})
	return seeded, err
}

// seedPerson writes one demo account with its e-mails, link, memberships
// and events.
func seedPerson(ctx context.Context, tx store.Tx, p demoPerson, now time.Time) error {
	a := p.account
	a.ID = demoID("account", p.key)
	a.CreatedAt, a.UpdatedAt = now, now
	a.Provenance = provenance(a, len(p.emails) > 0, p.source)
	if err := tx.Accounts().Create(ctx, &a); err != nil {
		return err
	}
	if err := tx.Record(ctx, store.Event{
		Type: identity.EventAccountCreated, Actor: demoActor, AccountID: a.ID, At: now,
		Data: accountCreatedData{Login: a.Login, Status: string(a.Status), Source: p.source},
	}); err != nil {
		return err
	}
	for _, e := range p.emails {
		e.AccountID, e.Source, e.CreatedAt = a.ID, p.source, now
		if e.Verified {
			e.VerifiedAt = now
		}
		if err := tx.Emails().Add(ctx, &e); err != nil {
			return err
		}
	}
	if p.linkExternal != "" {
		ext := p.linkExternal
		if ext == "uuid" {
			ext = demoID("link", p.source+"/"+p.key)
		}
		l := identity.Link{Source: p.source, ExternalID: ext, AccountID: a.ID, Status: identity.LinkActive,
			Attributes: p.linkAttrs, CreatedAt: now, UpdatedAt: now}
		if err := tx.Links().Create(ctx, &l); err != nil {
			return err
		}
	}
	for _, m := range p.memberships {
		m.AccountID, m.CreatedAt, m.UpdatedAt = a.ID, now, now
		if m.State == identity.MembershipValidated {
			m.ValidatedAt = now
		}
		if err := tx.Memberships().Put(ctx, &m); err != nil {
			return err
		}
		if err := tx.Record(ctx, store.Event{
			Type: identity.EventMembershipAdded, Actor: demoActor, AccountID: a.ID, OrgID: m.OrgID, At: now,
			Data: membershipAddedData{Role: string(m.Role), State: string(m.State)},
		}); err != nil {
			return err
		}
	}
	return nil
}

// demoID derives a stable uuid for a demo object, so that the demo data has
// the same ids in every database (scripts and docs can name them).
func demoID(kind, key string) string {
	ns := uuid.NewSHA1(uuid.NameSpaceURL, []byte(demoNamespace))
	return uuid.NewSHA1(ns, []byte(kind+":"+key)).String()
}

// provenance names source for every canonical field a holds.
func provenance(a identity.Account, hasEmail bool, source string) map[string]string {
	p := map[string]string{}
	set := func(field, v string) {
		if v != "" {
			p[field] = source
		}
	}
	set(identity.FieldLogin, a.Login)
	set(identity.FieldGivenName, a.GivenName)
	set(identity.FieldFamilyName, a.FamilyName)
	set(identity.FieldDisplayName, a.DisplayName)
	set(identity.FieldBirthDate, a.BirthDate)
	set(identity.FieldPhone, a.Phone)
	if hasEmail {
		p[identity.FieldEmail] = source
	}
	for field := range a.Attributes {
		p[field] = source
	}
	return p
}

// printDemoSummary tells who is who in the demo data, one line per account.
func printDemoSummary(w io.Writer, seeded bool) {
	state := "already present"
	if seeded {
		state = "seeded"
	}
	orgs := demoOrgs()
	ids := make([]string, len(orgs))
	for i, o := range orgs {
		ids[i] = o.ID
	}
	fmt.Fprintf(w, "demo data %s: orgs %s; accounts (password %q; log in at /login):\n", state, strings.Join(ids, ", "), demoPassword)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, p := range demoPeople() {
		who := p.account.Login
		if who == "" {
			who = "(no login)"
		}
		addr := ""
		if len(p.emails) > 0 {
			addr = p.emails[0].Address
		} else if r := p.account.Attributes[identity.FieldRecoveryEmail]; len(r) > 0 {
			addr = "recovery " + r[0]
		}
		fmt.Fprintf(tw, "  %s:\t%s\t%s\t%s, %s\t%s\n", p.role, who, addr, p.account.Status, p.source, p.hint)
	}
	tw.Flush()
}

// demoCharter is the charter of serve --demo when the configuration has no
// activation section.
func demoCharter() *activation.Config {
	return &activation.Config{
		CharterVersion: "demo-1",
		CharterText: "Charte de démonstration : ce compte est personnel ; vous ne communiquez votre mot de passe à personne ; " +
			"vous respectez les règles d'usage des services numériques de l'établissement.",
	}
}

// demoActivationLinks mails (to the log) an activation link to each demo
// account still pending activation that has none pending, so that a
// visitor can play seed 001 from the log.
func demoActivationLinks(ctx context.Context, st store.Store, act *activation.Service) error {
	for _, p := range demoPeople() {
		if p.account.Status != identity.StatusPendingActivation {
			continue
		}
		id := demoID("account", p.key)
		err := st.Update(ctx, func(tx store.Tx) error {
			a, err := tx.Accounts().Get(ctx, id)
			if err != nil || a.Status != identity.StatusPendingActivation {
				return err
			}
			pending, err := tx.Tokens().ListPending(ctx, id, time.Now())
			if err != nil {
				return err
			}
			for _, t := range pending {
				if t.Purpose == store.PurposeActivation {
					return nil
				}
			}
			return act.Start(ctx, tx, id, "fr")
		})
		if err != nil {
			return fmt.Errorf("%s: %w", p.key, err)
		}
	}
	return nil
}
