package admin

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canonid/canonid/accounts"
	"github.com/canonid/canonid/identity"
	"github.com/canonid/canonid/imports"
	"github.com/canonid/canonid/propagate"
	"github.com/canonid/canonid/store"
	"github.com/canonid/canonid/web"
)

// getPages are the console's pages, for the access tests.
func getPages(accountID string) []string {
	return []string{PathAdmin, PathAccounts, accountPath(accountID), mergesPath(accountID), PathDuplicates,
		PathMerge + "?survivor=" + accountID + "&retired=" + accountID, PathImports, PathConnectors, PathPropagation, PathAudit}
}

// postActions are the console's actions, for the access and CSRF tests.
func postActions(mergeID string) []string {
	return []string{PathMerges + "/" + mergeID + "/undo", PathDuplicates + "/dismiss", PathMerge, PathImports,
		PathConnectors + "/campus/run", PathConnectors + "/campus/dry-run", PathPropagation + "/targets/lms/retry"}
}

func TestAccess(t *testing.T) {
	s := newSite(t, 50)
	_, user, franck, _ := s.people()

	t.Run("not logged in", func(t *testing.T) {
		v := s.visitor()
		// The login page leads back to the page asked for (a GET), or
		// to the console's entry.
		for _, p := range getPages(franck.ID) {
			wantRedirect(t, v.get(p), web.LoginURL(p))
		}
		for _, p := range postActions("m1") {
			wantRedirect(t, v.post(p, url.Values{}), "/login?next=%2Fadmin")
		}
	})
	t.Run("not an admin", func(t *testing.T) {
		v := s.visitor()
		v.login(user.Login)
		for _, p := range getPages(franck.ID) {
			a := v.get(p)
			wantStatus(t, a, http.StatusForbidden)
			wantIn(t, a, "Accès réservé au support")
			wantNotIn(t, a, "Franck", "franck.cavel", `class="admin-nav"`)
		}
		tok := v.csrf(v.get(web.PathLogin))
		for _, p := range postActions("m1") {
			wantStatus(t, v.post(p, url.Values{web.CSRFField: {tok}}), http.StatusForbidden)
		}
	})
	t.Run("admin", func(t *testing.T) {
		v := s.visitor()
		v.login("sophie@support.example") // by address: the login is what is listed
		wantRedirect(t, v.get(PathAdmin), PathAccounts)
		for _, p := range getPages(franck.ID)[1:] {
			if p == getPages(franck.ID)[5] {
				continue // a merge of an account into itself: 400
			}
			a := v.get(p)
			wantStatus(t, a, http.StatusOK)
			wantIn(t, a, `class="admin-nav"`, "Connecté·e : sophie.support")
			if h := a.Header.Get("Content-Security-Policy"); !strings.Contains(h, "default-src 'none'") {
				t.Errorf("%s: CSP %q", p, h)
			}
		}
		wantStatus(t, v.get(getPages(franck.ID)[5]), http.StatusBadRequest)

		// An admin whose account is suspended is one no more.
		s.update(func(ctx context.Context, tx store.Tx) error {
			a, err := tx.Accounts().GetByLogin(ctx, adminLogin)
			if err != nil {
				return err
			}
			a.Status = identity.StatusSuspended
			if err := tx.Accounts().Update(ctx, &a); err != nil {
				return err
			}
			return tx.Record(ctx, store.Event{Type: identity.EventAccountSuspended, Actor: "test", AccountID: a.ID})
		})
		wantStatus(t, v.get(PathAccounts), http.StatusForbidden)
	})
}

// TestLoginReturns follows the login page's return to the console page
// asked for.
func TestLoginReturns(t *testing.T) {
	s := newSite(t, 50)
	s.people()
	v := s.visitor()
	to := v.get(PathAccounts + "?q=cavel")
	wantRedirect(t, to, "/login?next=%2Fadmin%2Faccounts%3Fq%3Dcavel")
	page := v.get(to.Header.Get("Location"))
	res := v.post(web.PathLogin, url.Values{web.CSRFField: {v.csrf(page)}, "identifier": {adminLogin}, "password": {testPassword},
		web.ParamNext: {PathAccounts + "?q=cavel"}})
	wantRedirect(t, res, PathAccounts+"?q=cavel")
	wantIn(t, v.get(res.Header.Get("Location")), "franck.cavel3")

	// A console with its own login page.
	s.h.deps.LoginURL = func(back string) string { return "/sso?back=" + url.QueryEscape(back) }
	wantRedirect(t, s.visitor().get(PathAudit), "/sso?back=%2Fadmin%2Faudit")
}

func TestSearch(t *testing.T) {
	s := newSite(t, 2)
	_, _, franck, franck2 := s.people()
	s.create(person{login: "fcavel.old", given: "François", family: "Cavel", status: identity.StatusSuspended})
	v := s.visitor()
	v.login(adminLogin)

	a := v.get(PathAccounts + "?q=cavel")
	wantStatus(t, a, http.StatusOK)
	// Two a page, by id: the next page's cursor is the last id shown.
	rows := regexp.MustCompile(`<tr id="account-([^"]+)"`).FindAllStringSubmatch(a.Body, -1)
	if len(rows) != 2 {
		t.Fatalf("first page: %d rows\n%s", len(rows), a.Body)
	}
	next := regexp.MustCompile(`<a href="([^"]+)" rel="next">`).FindStringSubmatch(a.Body)
	if next == nil {
		t.Fatalf("no next page link:\n%s", a.Body)
	}
	nextURL := strings.ReplaceAll(next[1], "&amp;", "&")
	if u, _ := url.Parse(nextURL); u.Query().Get("after") != rows[1][1] || u.Query().Get("q") != "cavel" {
		t.Errorf("next page %q, want after=%s", nextURL, rows[1][1])
	}
	b := v.get(nextURL)
	wantStatus(t, b, http.StatusOK)
	rows2 := regexp.MustCompile(`<tr id="account-([^"]+)"`).FindAllStringSubmatch(b.Body, -1)
	if len(rows2) != 1 || rows2[0][1] == rows[0][1] || rows2[0][1] == rows[1][1] {
		t.Errorf("second page rows %v after %v", rows2, rows)
	}
	wantIn(t, b, "Première page")
	wantNotIn(t, b, `rel="next"`)

	// The status filter.
	c := v.get(PathAccounts + "?q=cavel&status=suspended")
	wantIn(t, c, "fcavel.old", "Suspendu", `<option value="suspended" selected>`)
	wantNotIn(t, c, franck.ID, franck2.ID)
	// A search by address, in English.
	d := v.get(PathAccounts+"?q=perso.example", "Accept-Language", "en")
	wantIn(t, d, "franck.cavel3", "Find an account", `lang="en"`)
	wantNotIn(t, d, "account-"+franck.ID)
	wantStatus(t, v.get(PathAccounts+"?status=bogus"), http.StatusBadRequest)
}

func TestAccountPage(t *testing.T) {
	s := newSite(t, 50)
	_, _, franck, franck2 := s.people()
	v := s.visitor()
	v.login(adminLogin)
	s.update(func(ctx context.Context, tx store.Tx) error {
		l := identity.Link{Source: "ldap:campus", ExternalID: "uuid-franck", AccountID: franck.ID, Status: identity.LinkGone}
		if err := tx.Links().Update(ctx, &l); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: identity.EventLinkGone, Actor: "connector:campus", AccountID: franck.ID})
	})

	a := v.get(accountPath(franck.ID))
	wantStatus(t, a, http.StatusOK)
	wantIn(t, a, "<h1>Compte de Franck Cavel</h1>", franck.ID,
		// Fields with their source.
		`<tr id="field-given_name"><th scope="row">Prénom</th><td>Franck</td><td><span class="source">ldap:campus</span>`,
		`<tr id="field-affiliation"><th scope="row">Affiliation</th><td>student</td>`,
		// E-mails, links with their status, memberships.
		"franck.cavel@univ-test.fr", "confirmée", "principale",
		"uuid-franck", `status-red">Disparue de la source`,
		"Université Test", "Validée",
		// The timeline: its latest events.
		"link.gone", "connector:campus", "membership.added",
		withQuery(PathAudit, paramAuditAccount, franck.ID), mergesPath(franck.ID))

	// After a merge: the merge in on the survivor's page, and the
	// retired id shows the survivor.
	rec, err := s.svc.Merge(t.Context(), mergeRequest(franck.ID, franck2.ID))
	if err != nil {
		t.Fatal(err)
	}
	b := v.get(accountPath(franck.ID))
	wantIn(t, b, `id="merge-`+rec.ID+`"`, "franck.cavel3", "En vigueur", "Annuler la fusion", "account.merged")
	c := v.get(accountPath(franck2.ID))
	wantStatus(t, c, http.StatusOK)
	wantIn(t, c, "Compte de Franck Cavel", "Le compte demandé ("+franck2.ID+") a été fusionné dans celui-ci.")
	// The retired account's own merges page: the merge out.
	d := v.get(mergesPath(franck2.ID))
	wantIn(t, d, "Fusions de FRANCK CAVEL", "Fusionné", `id="merge-`+rec.ID+`"`)

	wantStatus(t, v.get(accountPath("no-such-account")), http.StatusNotFound)
}

func mergeRequest(survivor, retired string) accounts.MergeRequest {
	return accounts.MergeRequest{SurvivorID: survivor, RetiredID: retired, Reason: identity.MergeByAdmin, Actor: "test"}
}

func TestDuplicatesMergeUndo(t *testing.T) {
	s := newSite(t, 50)
	admin, _, franck, franck2 := s.people()
	v := s.visitor()
	v.login(adminLogin)

	// The queue: the pair, its score and evidence, its buttons.
	q := v.get(PathDuplicates)
	wantStatus(t, q, http.StatusOK)
	if !regexp.MustCompile(`<li>Prénom : <span class="code">(FRANCK / Franck|Franck / FRANCK)</span></li>`).MatchString(q.Body) {
		t.Errorf("the evidence lacks the given names:\n%s", q.Body)
	}
	wantIn(t, q, "85 %", "<li>Nom : ", "<li>Date de naissance : <span class=\"code\">1990-05-12</span>",
		// The campus account ranks first: it is the suggested survivor.
		`href="/admin/merge?retired=`+franck2.ID+`&amp;survivor=`+franck.ID+`"`,
		`aria-label="Fusionner FRANCK CAVEL dans Franck Cavel : voir l&#39;aperçu"`,
		`aria-label="Franck Cavel et FRANCK CAVEL ne sont pas la même personne"`)

	// The preview, field by field.
	p := v.get(withQuery(PathMerge, paramSurvivor, franck.ID, paramRetired, franck2.ID))
	wantStatus(t, p, http.StatusOK)
	wantIn(t, p, "Fusionner FRANCK CAVEL dans Franck Cavel",
		`<td class="kept">Franck<br><span class="source">ldap:campus</span></td>`,
		`<td>FRANCK<br><span class="source">csv:ars-occitanie</span></td>`,
		"phone_pro", "0467000000", "valeur du compte fusionné",
		"csv:ars-occitanie franck.cavel@perso.example", // the link that moves
		`name="survivor_version" value="`+strconv.FormatInt(franck.Version, 10)+`"`)

	// Confirm.
	tok := v.csrf(p)
	form := url.Values{web.CSRFField: {tok}, paramSurvivor: {franck.ID}, paramRetired: {franck2.ID},
		fieldSurvivorVersion: {strconv.FormatInt(franck.Version, 10)}, fieldRetiredVersion: {strconv.FormatInt(franck2.Version, 10)}}
	m := v.post(PathMerge, form)
	wantStatus(t, m, http.StatusSeeOther)
	loc, _ := url.Parse(m.Header.Get("Location"))
	mergeID := loc.Query().Get(paramMerged)
	if loc.Path != mergesPath(franck.ID) || mergeID == "" {
		t.Fatalf("merge redirects to %s", loc)
	}
	if got := s.account(franck2.ID); got.Status != identity.StatusMerged || got.MergedInto != franck.ID {
		t.Fatalf("retired account after the merge: %s into %q", got.Status, got.MergedInto)
	}
	if ev := s.events(identity.EventAccountMerged); len(ev) != 1 || ev[0].Actor != "account:"+admin.ID || ev[0].AccountID != franck.ID {
		t.Fatalf("account.merged events: %+v", ev)
	}
	page := v.get(loc.RequestURI())
	wantIn(t, page, "Fusion effectuée : FRANCK CAVEL est fusionné dans Franck Cavel.",
		`aria-label="Annuler la fusion de FRANCK CAVEL dans Franck Cavel"`, "Annulable jusqu&#39;au")
	// The pair left the queue.
	wantNotIn(t, v.get(PathDuplicates), franck2.ID)

	// Merging again: the retired account is merged already.
	wantStatus(t, v.post(PathMerge, form), http.StatusConflict)

	// Undo.
	u := v.post(PathMerges+"/"+mergeID+"/undo", url.Values{web.CSRFField: {tok}, fieldAccount: {franck.ID}})
	wantRedirect(t, u, withQuery(mergesPath(franck.ID), paramUndone, mergeID))
	if got := s.account(franck2.ID); got.Status != identity.StatusActive {
		t.Fatalf("retired account after the undo: %s", got.Status)
	}
	if ev := s.events(identity.EventAccountUnmerged); len(ev) != 1 || ev[0].Actor != "account:"+admin.ID {
		t.Fatalf("account.unmerged events: %+v", ev)
	}
	after := v.get(withQuery(mergesPath(franck.ID), paramUndone, mergeID))
	wantIn(t, after, "Fusion annulée : FRANCK CAVEL est de nouveau distinct de Franck Cavel.", "Annulée")
	wantNotIn(t, after, `aria-label="Annuler la fusion`)

	// Undoing twice is refused, with the reason.
	again := v.post(PathMerges+"/"+mergeID+"/undo", url.Values{web.CSRFField: {tok}, fieldAccount: {franck.ID}})
	wantStatus(t, again, http.StatusConflict)
	wantIn(t, again, "La fusion ne peut pas être annulée", "was already undone")
}

func TestUndoRefusals(t *testing.T) {
	s := newSite(t, 50)
	_, _, franck, franck2 := s.people()
	v := s.visitor()
	v.login(adminLogin)
	tok := v.token()
	rec, err := s.svc.Merge(t.Context(), mergeRequest(franck.ID, franck2.ID))
	if err != nil {
		t.Fatal(err)
	}

	// A later change conflicts: the moved link left the survivor.
	s.update(func(ctx context.Context, tx store.Tx) error {
		if err := tx.Links().Delete(ctx, "csv:ars-occitanie", "franck.cavel@perso.example"); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: identity.EventLinkRemoved, Actor: "test", AccountID: franck.ID})
	})
	a := v.post(PathMerges+"/"+rec.ID+"/undo", url.Values{web.CSRFField: {tok}, fieldAccount: {franck.ID}})
	wantStatus(t, a, http.StatusConflict)
	wantIn(t, a, `<div class="error" role="alert"><p>La fusion ne peut pas être annulée :</p>`, `<ul class="reasons"><li>`,
		"franck.cavel@perso.example", "Fusions de Franck Cavel")
	if got := s.account(franck2.ID); got.Status != identity.StatusMerged {
		t.Fatalf("refused undo changed the retired account: %s", got.Status)
	}

	// Past the window: no button, and an undo is refused.
	s.now = func() time.Time { return time.Now().Add(31 * 24 * time.Hour) }
	s.svc.SetClock(s.now)
	b := v.get(mergesPath(franck.ID))
	wantIn(t, b, "Délai d&#39;annulation dépassé")
	wantNotIn(t, b, `aria-label="Annuler la fusion`)
	c := v.post(PathMerges+"/"+rec.ID+"/undo", url.Values{web.CSRFField: {tok}, fieldAccount: {franck.ID}})
	wantStatus(t, c, http.StatusConflict)
	wantIn(t, c, "could be undone until")
	wantStatus(t, v.post(PathMerges+"/no-such-merge/undo", url.Values{web.CSRFField: {tok}}), http.StatusNotFound)
}

func TestStalePreview(t *testing.T) {
	s := newSite(t, 50)
	_, _, franck, franck2 := s.people()
	v := s.visitor()
	v.login(adminLogin)
	p := v.get(withQuery(PathMerge, paramSurvivor, franck.ID, paramRetired, franck2.ID))
	// The retired account changes after the preview was shown.
	s.update(func(ctx context.Context, tx store.Tx) error {
		a, err := tx.Accounts().Get(ctx, franck2.ID)
		if err != nil {
			return err
		}
		a.Phone = "0600000000"
		if err := tx.Accounts().Update(ctx, &a); err != nil {
			return err
		}
		return tx.Record(ctx, store.Event{Type: identity.EventAccountUpdated, Actor: "test", AccountID: a.ID})
	})
	m := v.post(PathMerge, url.Values{web.CSRFField: {v.csrf(p)}, paramSurvivor: {franck.ID}, paramRetired: {franck2.ID},
		fieldSurvivorVersion: {strconv.FormatInt(franck.Version, 10)}, fieldRetiredVersion: {strconv.FormatInt(franck2.Version, 10)}})
	wantStatus(t, m, http.StatusConflict)
	wantIn(t, m, "Les comptes ont changé depuis l&#39;aperçu", "0600000000",
		`name="retired_version" value="`+strconv.FormatInt(franck2.Version+1, 10)+`"`)
	if got := s.account(franck2.ID); got.Status != identity.StatusActive {
		t.Fatalf("stale merge merged: %s", got.Status)
	}
}

func TestDismiss(t *testing.T) {
	s := newSite(t, 50)
	admin, _, franck, franck2 := s.people()
	v := s.visitor()
	v.login(adminLogin)
	q := v.get(PathDuplicates + "?account=" + franck.ID)
	wantIn(t, q, "Doublons possibles de", franck2.ID)
	d := v.post(PathDuplicates+"/dismiss", url.Values{web.CSRFField: {v.csrf(q)}, fieldA: {franck.ID}, fieldB: {franck2.ID},
		paramAccount: {franck.ID}, paramPage: {"1"}})
	wantRedirect(t, d, PathDuplicates+"?account="+franck.ID+"&dismissed=1&page=1")
	after := v.get(d.Header.Get("Location"))
	wantIn(t, after, "marquée « pas un doublon »", "Aucun doublon suggéré.")
	if ev := s.events("duplicate.dismissed"); len(ev) != 1 || ev[0].Actor != "account:"+admin.ID {
		t.Fatalf("duplicate.dismissed events: %+v", ev)
	}
	wantStatus(t, v.post(PathDuplicates+"/dismiss", url.Values{web.CSRFField: {v.csrf(q)}, fieldA: {franck.ID}}), http.StatusBadRequest)
}

func TestCSRF(t *testing.T) {
	s := newSite(t, 50)
	_, _, franck, franck2 := s.people()
	s.deadLetters("lms", franck.ID)
	s.dir.put("uuid-1", "amartin", "Alice", "Martin", "alice.martin@univ-test.fr")
	rec, err := s.svc.Merge(t.Context(), mergeRequest(franck.ID, franck2.ID))
	if err != nil {
		t.Fatal(err)
	}
	third := s.create(person{login: "franck.cavel9", given: "Franck", family: "Cavel", birth: "1990-05-12"})
	v := s.visitor()
	v.login(adminLogin)
	tok := v.token()
	forms := map[string]url.Values{
		PathMerges + "/" + rec.ID + "/undo":    {fieldAccount: {franck.ID}},
		PathDuplicates + "/dismiss":            {fieldA: {franck.ID}, fieldB: {third.ID}},
		PathMerge:                              {paramSurvivor: {franck.ID}, paramRetired: {third.ID}, fieldSurvivorVersion: {"1"}, fieldRetiredVersion: {"1"}},
		PathPropagation + "/targets/lms/retry": {},
		PathConnectors + "/campus/run":         {},
		PathConnectors + "/campus/dry-run":     {},
	}
	before := s.events("")
	for path, fields := range forms {
		// No token, a wrong one, and the right one from another site.
		for i, f := range []struct {
			token   string
			headers []string
		}{{"", nil}, {tok[:len(tok)-2] + "AA", nil}, {tok, []string{"Origin", "https://evil.example"}},
			{tok, []string{"Sec-Fetch-Site", "cross-site"}}} {
			form := url.Values{}
			for k, vs := range fields {
				form[k] = vs
			}
			if f.token != "" {
				form.Set(web.CSRFField, f.token)
			}
			a := v.post(path, form, f.headers...)
			if a.StatusCode != http.StatusForbidden {
				t.Errorf("forged POST %s (%d): %d\n%s", path, i, a.StatusCode, a.Body)
				continue
			}
			wantIn(t, a, "Le formulaire a expiré", "rien n&#39;a été fait")
		}
	}
	up := v.upload(PathImports, url.Values{fieldConnector: {"ars-occitanie"}}, "internes.csv", "Nom;Prénom;Date de naissance;Mail\nCurie;Marie;1990-01-01;m@example.org\n")
	wantStatus(t, up, http.StatusForbidden)
	if after := s.events(""); len(after) != len(before) {
		t.Errorf("forged POSTs recorded %d events", len(after)-len(before))
	}
	if got := s.account(franck2.ID); got.Status != identity.StatusMerged {
		t.Errorf("forged undo: %s", got.Status)
	}
	s.h.mu.Lock()
	jobs := len(s.h.jobs)
	s.h.mu.Unlock()
	if jobs != 0 {
		t.Errorf("forged run started %d syncs", jobs)
	}
}

func TestImports(t *testing.T) {
	s := newSite(t, 50)
	admin, _, franck, _ := s.people()
	v := s.visitor()
	v.login(adminLogin)
	page := v.get(PathImports)
	wantStatus(t, page, http.StatusOK)
	wantIn(t, page, `enctype="multipart/form-data"`, `<option value="ars-occitanie"`, "Aucun import.",
		`<input type="checkbox" id="import-dry-run" name="dry_run" value="true" checked`)
	tok := v.csrf(page)
	const file = "Nom;Prénom;Date de naissance;Mail\n" +
		"Curie;Marie;1990-01-01;marie.curie@example.org\n" +
		"Cavel;Franck;1990-05-12;franck.cavel@univ-test.fr\n" + // links to the campus account
		"Bad;Date;31/02/2000;bad@example.org\n"

	// A dry run: the report at once, nothing written.
	dry := v.upload(PathImports, url.Values{web.CSRFField: {tok}, fieldConnector: {"ars-occitanie"}, fieldDryRun: {"true"}}, "internes.csv", file)
	wantStatus(t, dry, http.StatusOK)
	wantIn(t, dry, "Rapport d&#39;import : internes.csv", "Essai à blanc : rien n&#39;a été écrit.",
		"<dt>Comptes créés</dt><dd>1</dd>", "<dt>Liés à un compte existant</dt><dd>1</dd>", "ligne 4", "31/02/2000")
	if ev := s.events(imports.EventImported); len(ev) != 0 {
		t.Fatalf("a dry run recorded %d imports", len(ev))
	}

	// The import itself: its recorded report.
	real := v.upload(PathImports, url.Values{web.CSRFField: {tok}, fieldConnector: {"ars-occitanie"}}, "internes.csv", file)
	wantStatus(t, real, http.StatusSeeOther)
	loc := real.Header.Get("Location")
	if !strings.HasPrefix(loc, PathImports+"/") {
		t.Fatalf("import redirects to %q", loc)
	}
	rep := v.get(loc)
	wantStatus(t, rep, http.StatusOK)
	wantIn(t, rep, "Terminé", "<dt>Comptes créés</dt><dd>1</dd>", "<dt>Erreurs</dt><dd>1</dd>", "not a date", "Import réel")
	ev := s.events(imports.EventImported)
	if len(ev) != 1 || ev[0].Actor != "account:"+admin.ID {
		t.Fatalf("import.recorded events: %+v", ev)
	}
	if d := s.svc; d != nil {
		det, err := d.Get(t.Context(), franck.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(det.Links) != 2 {
			t.Errorf("campus account after the import: links %+v", det.Links)
		}
	}

	// Strict with a row in error: rejected, recorded.
	strict := v.upload(PathImports, url.Values{web.CSRFField: {tok}, fieldConnector: {"ars-occitanie"}, fieldStrict: {"true"}}, "strict.csv", file)
	wantStatus(t, strict, http.StatusSeeOther)
	wantIn(t, v.get(strict.Header.Get("Location")), "Refusé, rien importé", "nothing imported (--strict)")
	// A file without a required column.
	bad := v.upload(PathImports, url.Values{web.CSRFField: {tok}, fieldConnector: {"ars-occitanie"}}, "sans-mail.csv", "Nom;Prénom;Date de naissance\nA;B;1990-01-01\n")
	wantStatus(t, bad, http.StatusSeeOther)
	wantIn(t, v.get(bad.Header.Get("Location")), "missing required column Mail")

	// The list: newest first.
	list := v.get(PathImports)
	files := regexp.MustCompile(`<th scope="row"><a href="/admin/imports/[^"]+">([^<]+)</a>`).FindAllStringSubmatch(list.Body, -1)
	if len(files) != 3 || files[0][1] != "sans-mail.csv" || files[2][1] != "internes.csv" {
		t.Errorf("imports listed: %v", files)
	}
	wantIn(t, list, "account:"+admin.ID)

	// Mistakes.
	wantStatus(t, v.upload(PathImports, url.Values{web.CSRFField: {tok}, fieldConnector: {"nope"}}, "x.csv", file), http.StatusBadRequest)
	noFile := v.post(PathImports, url.Values{web.CSRFField: {tok}, fieldConnector: {"ars-occitanie"}})
	wantStatus(t, noFile, http.StatusBadRequest)
	wantIn(t, noFile, "Choisissez le fichier à importer.")
	wantStatus(t, v.get(PathImports+"/no-such-import"), http.StatusNotFound)

	// A file too large: refused before anything is read into the import.
	s.h.uploadLimit = 1 << 10
	big := v.upload(PathImports, url.Values{web.CSRFField: {tok}, fieldConnector: {"ars-occitanie"}}, "big.csv", file+strings.Repeat("x", 2<<10))
	wantStatus(t, big, http.StatusRequestEntityTooLarge)
	wantIn(t, big, "Fichier trop volumineux")
}

func TestConnectors(t *testing.T) {
	s := newSite(t, 50)
	s.people()
	s.dir.put("uuid-franck", "franck.cavel", "Franck", "Cavel", "franck.cavel@univ-test.fr")
	s.dir.put("uuid-1", "amartin", "Alice", "Martin", "alice.martin@univ-test.fr")
	s.dir.put("uuid-2", "bdurand", "Bruno", "Durand", "bruno.durand@univ-test.fr")
	v := s.visitor()
	v.login(adminLogin)
	page := v.get(PathConnectors)
	wantStatus(t, page, http.StatusOK)
	wantIn(t, page, "<h2 id=\"connector-campus-title\">campus</h2>", "tous les 15 min ; complète tous les 24 h", "jamais", "au prochain démarrage du serveur",
		`aria-label="Synchroniser campus maintenant"`, `aria-label="Essai à blanc de campus"`)
	tok := v.csrf(page)

	// A dry run: the diff, nothing written.
	dry := v.post(PathConnectors+"/campus/dry-run", url.Values{web.CSRFField: {tok}})
	wantStatus(t, dry, http.StatusOK)
	wantIn(t, dry, "Essai à blanc de campus", "Rien n&#39;a été écrit", "Création", "uid=amartin,ou=people,dc=univ-test,dc=fr",
		"<strong>given_name</strong>", "<ins>Alice</ins>", "<dt>Comptes créés</dt><dd>2</dd>")
	var st store.SyncState
	s.view(func(ctx context.Context, tx store.Tx) error {
		var err error
		st, err = tx.SyncStates().Get(ctx, "campus")
		return err
	})
	if !st.LastRunAt.IsZero() || len(s.events(identity.EventConnectorSynced)) != 0 {
		t.Fatalf("a dry run wrote: %+v", st)
	}

	// Run now, in the background: the page follows it.
	s.dir.block, s.dir.reached = make(chan struct{}), make(chan struct{})
	run := v.post(PathConnectors+"/campus/run", url.Values{web.CSRFField: {tok}})
	wantRedirect(t, run, PathConnectors+"?started=campus")
	<-s.dir.reached
	running := v.get(run.Header.Get("Location"))
	wantIn(t, running, "Synchronisation de campus lancée", "Synchronisation en cours :", "lancée par sophie.support")
	// A second one waits for the first.
	wantRedirect(t, v.post(PathConnectors+"/campus/run", url.Values{web.CSRFField: {tok}}), PathConnectors+"?busy=campus")
	wantIn(t, v.get(PathConnectors+"?busy=campus"), "Une synchronisation de campus lancée depuis cette console est déjà en cours.")
	close(s.dir.block)
	s.wait("campus")
	done := v.get(PathConnectors)
	wantIn(t, done, "Synchronisation lancée ici terminée", "entrées lues : 3", "complète", "<dt>Comptes créés</dt><dd>2</dd>")
	wantNotIn(t, done, "au prochain démarrage")
	if ev := s.events(identity.EventConnectorSynced); len(ev) != 1 {
		t.Fatalf("connector.synced events: %d", len(ev))
	}
	wantStatus(t, v.post(PathConnectors+"/nope/run", url.Values{web.CSRFField: {tok}}), http.StatusNotFound)
}

func TestPropagation(t *testing.T) {
	s := newSite(t, 2)
	admin, user, franck, franck2 := s.people()
	s.deadLetters("lms", franck.ID, franck2.ID, user.ID)
	s.deadLetters("crm", franck.ID)
	v := s.visitor()
	v.login(adminLogin)
	page := v.get(PathPropagation)
	wantStatus(t, page, http.StatusOK)
	wantIn(t, page, `<tr id="target-lms">`, `<tr id="target-crm">`, "En erreur", "HTTP 400: userName is invalid",
		`aria-label="Réessayer tous les changements refusés par lms (3)"`)
	// Two dead letters a page, newest first.
	ids := regexp.MustCompile(`<tr id="dead-([0-9]+)">`).FindAllStringSubmatch(page.Body, -1)
	if len(ids) != 2 {
		t.Fatalf("dead letters shown: %v", ids)
	}
	wantIn(t, page, `rel="next"`)
	lms := v.get(PathPropagation + "?target=lms")
	lmsIDs := regexp.MustCompile(`<tr id="dead-([0-9]+)">`).FindAllStringSubmatch(lms.Body, -1)
	wantIn(t, lms, "Changements refusés par lms")
	tok := v.csrf(lms)

	// Retry one.
	one := v.post(retryPath("lms"), url.Values{web.CSRFField: {tok}, fieldID: {lmsIDs[0][1]}, paramTarget: {"lms"}})
	wantRedirect(t, one, PathPropagation+"?marked=1&target=lms")
	after := v.get(one.Header.Get("Location"))
	wantIn(t, after, "Nouvelle tentative demandée. Changements refusés concernés : 1.", "Nouvelle tentative demandée</span>")
	ev := s.events(propagate.EventRetryRequested)
	if len(ev) != 1 || ev[0].Actor != "account:"+admin.ID {
		t.Fatalf("propagation.retry_requested events: %+v", ev)
	}
	var data struct {
		Target string  `json:"target"`
		IDs    []int64 `json:"ids"`
		Count  int     `json:"count"`
	}
	if err := json.Unmarshal(ev[0].Data, &data); err != nil || data.Target != "lms" || data.Count != 1 || len(data.IDs) != 1 {
		t.Errorf("event data %s", ev[0].Data)
	}
	// Retry all of the target's.
	all := v.post(retryPath("lms"), url.Values{web.CSRFField: {tok}})
	wantRedirect(t, all, PathPropagation+"?marked=2") // the one marked already is not counted again
	var dead []store.DeadLetter
	s.view(func(ctx context.Context, tx store.Tx) error {
		var err error
		dead, err = tx.Propagation().DeadLetters(ctx, store.DeadLetterQuery{Target: "lms"})
		return err
	})
	for _, d := range dead {
		if !d.Retry {
			t.Errorf("dead letter %d not marked", d.ID)
		}
	}
	wantStatus(t, v.post(retryPath("nope"), url.Values{web.CSRFField: {tok}}), http.StatusNotFound)
	wantStatus(t, v.post(retryPath("lms"), url.Values{web.CSRFField: {tok}, fieldID: {"x"}}), http.StatusBadRequest)
	wantStatus(t, v.get(PathPropagation+"?target=nope"), http.StatusNotFound)
}

func TestAudit(t *testing.T) {
	s := newSite(t, 2)
	_, _, franck, _ := s.people()
	v := s.visitor()
	v.login(adminLogin)
	a := v.get(PathAudit + "?type=account.created")
	wantStatus(t, a, http.StatusOK)
	rows := regexp.MustCompile(`<tr id="event-([0-9]+)">`).FindAllStringSubmatch(a.Body, -1)
	if len(rows) != 2 {
		t.Fatalf("events shown: %v", rows)
	}
	wantNotIn(t, a, `<span class="code">session.created</span>`)
	next := regexp.MustCompile(`<a href="([^"]+)" rel="next">`).FindStringSubmatch(a.Body)
	if next == nil {
		t.Fatal("no next page")
	}
	nextURL := strings.ReplaceAll(next[1], "&amp;", "&")
	if u, _ := url.Parse(nextURL); u.Query().Get("before") != rows[1][1] || u.Query().Get("type") != "account.created" {
		t.Errorf("next page %s", nextURL)
	}
	b := v.get(nextURL)
	rows2 := regexp.MustCompile(`<tr id="event-([0-9]+)">`).FindAllStringSubmatch(b.Body, -1)
	last, _ := strconv.ParseInt(rows[1][1], 10, 64)
	for _, r := range rows2 {
		if id, _ := strconv.ParseInt(r[1], 10, 64); id >= last {
			t.Errorf("second page %v after %v", rows2, rows)
		}
	}
	if len(rows2) != 2 {
		t.Errorf("second page %v", rows2)
	}
	// By account and by org.
	c := v.get(PathAudit + "?account=" + franck.ID)
	wantIn(t, c, `<span class="code">account.created</span>`, `<span class="code">membership.added</span>`)
	wantNotIn(t, c, `<span class="code">session.created</span>`)
	d := v.get(PathAudit + "?org=univ-test")
	wantIn(t, d, "org.upserted", "membership.added")
	wantStatus(t, v.get(PathAudit+"?before=x"), http.StatusBadRequest)
}

// TestCatalogs checks that every message the templates and the code ask
// for is in both catalogs.
func TestCatalogs(t *testing.T) {
	cat, err := loadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	keyRE := regexp.MustCompile(`\.T "([a-z_.]+)"`)
	err = fs.WalkDir(templateFS, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templateFS, path)
		if err != nil {
			return err
		}
		for _, m := range keyRE.FindAllStringSubmatch(string(b), -1) {
			for _, lang := range []string{"fr", "en"} {
				if _, ok := cat.Catalog[lang][m[1]]; !ok {
					t.Errorf("%s: %s has no message %q", path, lang, m[1])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range allStatuses {
		for _, lang := range []string{"fr", "en"} {
			if _, ok := cat.Catalog[lang]["status."+string(s)]; !ok {
				t.Errorf("%s: no message for status %s", lang, s)
			}
		}
	}
}

// TestEnglish checks that the pages follow the language switch.
func TestEnglish(t *testing.T) {
	s := newSite(t, 50)
	_, _, franck, _ := s.people()
	v := s.visitor()
	v.login(adminLogin)
	// The switch link sets the language; the other pages keep it.
	for _, p := range []struct{ path, want string }{
		{PathAccounts + "?lang=en", "Find an account"}, {accountPath(franck.ID), "Fields and where they come from"},
		{PathDuplicates, "Suggested duplicates"}, {PathImports, "File imports"}, {PathConnectors, "Directories"},
		{PathPropagation, "Refused changes"}, {PathAudit, "Audit log"},
	} {
		a := v.get(p.path)
		wantStatus(t, a, http.StatusOK)
		wantIn(t, a, p.want, `<html lang="en">`)
		wantNotIn(t, a, "Connecté·e")
	}
}
