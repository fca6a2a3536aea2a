package identity

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// Side is one account of a merge with everything it owns, as read in the
// transaction that plans and applies the merge (or its undo).
type Side struct {
	Account     Account
	Links       []Link
	Emails      []Email
	Memberships []Membership
}

// Changes are the writes that perform a merge or its undo. The executor
// applies them in one transaction, in this order, which the store's unique
// indexes (one verified row per address, one primary per account, one row
// per account and address) require: DeleteEmails, DeleteMemberships,
// AddEmails, UpdateEmails, Links, PutMemberships, Accounts.
type Changes struct {
	// Accounts are written with Accounts().Update; their Version is the
	// version read, for the optimistic check.
	Accounts []Account `json:"accounts,omitempty"`
	// DeleteEmails are (account, address) rows to delete, first of all.
	DeleteEmails []Email `json:"delete_emails,omitempty"`
	// AddEmails are rows to insert (Emails().Add); UpdateEmails are
	// existing rows whose flags change (Emails().Update).
	AddEmails    []Email `json:"add_emails,omitempty"`
	UpdateEmails []Email `json:"update_emails,omitempty"`
	// Links are links whose owner changes (Links().Update).
	Links []Link `json:"links,omitempty"`
	// DeleteMemberships are (org, account) rows to delete;
	// PutMemberships are upserted (Memberships().Put).
	DeleteMemberships []Membership `json:"delete_memberships,omitempty"`
	PutMemberships    []Membership `json:"put_memberships,omitempty"`
}

// Whose value survives, in FieldChoice.From.
const (
	FromSurvivor = "survivor"
	FromRetired  = "retired"
)

// FieldChoice is one line of a merge preview: a field, its value and source
// on each side, and the value that survives.
type FieldChoice struct {
	Field          string `json:"field"`
	Survivor       string `json:"survivor"`
	Retired        string `json:"retired"`
	SurvivorSource string `json:"survivor_source,omitempty"`
	RetiredSource  string `json:"retired_source,omitempty"`
	// Value and Source are what the survivor holds after the merge;
	// From is FromSurvivor or FromRetired. Multi-valued attributes are
	// shown joined with ", ".
	Value  string `json:"value"`
	Source string `json:"source,omitempty"`
	From   string `json:"from"`
}

// Plan is a planned merge: the preview a person or an administrator
// confirms, the changes that perform it and what its merge record stores.
type Plan struct {
	SurvivorID string `json:"survivor_id"`
	RetiredID  string `json:"retired_id"`
	// Fields has one entry per field where either side has a value, in
	// the order given_name, family_name, display_name, birth_date, phone,
	// then the Attributes keys sorted.
	Fields []FieldChoice `json:"fields"`
	// Changes perform the merge. The executor adds the merge record, the
	// events and the revocation of the retired account's tokens.
	Changes Changes `json:"changes"`
	// Moved is what the merge record stores for PlanUndo.
	Moved Moved `json:"moved"`
}

// MovedEmailDetail completes a MovedEmail with what undo needs to re-create
// the retired account's row as it was.
type MovedEmailDetail struct {
	Address    string    `json:"address"`
	Source     string    `json:"source,omitempty"`
	CreatedAt  time.Time `json:"created_at,omitzero"`
	VerifiedAt time.Time `json:"verified_at,omitzero"`
}

// MovedMembership is a membership as a merge found or left it.
type MovedMembership struct {
	OrgID       string          `json:"org_id"`
	Role        Role            `json:"role"`
	State       MembershipState `json:"state"`
	ValidatedBy string          `json:"validated_by,omitempty"`
	ValidatedAt time.Time       `json:"validated_at,omitzero"`
	CreatedAt   time.Time       `json:"created_at,omitzero"`
}

// FieldValue is the value of one canonical field with its source: Value for
// the fields that are columns of Account, Values for Attributes.
type FieldValue struct {
	Value  string   `json:"value,omitempty"`
	Values []string `json:"values,omitempty"`
	Source string   `json:"source,omitempty"`
}

// UndoConflict says why a merge cannot be undone: later changes that undo
// would overwrite or that make its restoration impossible.
type UndoConflict struct {
	MergeID string
	Reasons []string
}

func (e *UndoConflict) Error() string {
	return fmt.Sprintf("merge %s cannot be undone: %s", e.MergeID, strings.Join(e.Reasons, "; "))
}

// typedFields are the merged fields that are columns of Account, in preview
// order. Login is never merged: the retired account keeps its own.
var typedFields = []string{FieldGivenName, FieldFamilyName, FieldDisplayName, FieldBirthDate, FieldPhone}

// PlanMerge plans the merge of retired into survivor.
//
//   - Every link of the retired account moves to the survivor.
//   - Every e-mail row of the retired account moves. When the survivor
//     already has the address, its row becomes verified if the retired one
//     was (the retired row is deleted, so an address is never verified
//     twice). The survivor keeps its primary address; it takes the retired
//     primary only when it has none.
//   - Every membership moves. When the survivor is already in the org, its
//     membership keeps the better state (validated > pending > rejected)
//     and the better role (org-admin > member).
//   - For given_name, family_name, display_name, birth_date, phone and
//     every Attributes key, a non-empty value beats an empty one; between
//     two values the one whose source (Account.Provenance) ranks better by
//     p survives; ties keep the survivor's. The survivor's provenance
//     follows the surviving value.
//   - The survivor keeps its login and its status. The retired account
//     becomes merged into the survivor, its own fields untouched.
//
// It returns an error when the two sides are the same account, when either
// is not live, or when a side's rows belong to another account.
func PlanMerge(survivor, retired Side, p Precedence) (Plan, error) {
	if err := checkMergePair(survivor, retired); err != nil {
		return Plan{}, err
	}
	s, r := survivor.Account, retired.Account
	plan := Plan{SurvivorID: s.ID, RetiredID: r.ID, Fields: []FieldChoice{}}
	moved, ch := &plan.Moved, &plan.Changes

	// Fields.
	na := cloneAccount(s)
	for _, f := range mergeFields(s, r) {
		sv, rv := getField(s, f), getField(r, f)
		if sv.empty() && rv.empty() {
			continue
		}
		from := FromSurvivor
		switch {
		case sv.empty():
			from = FromRetired
		case rv.empty():
		case p.Rank(f, rv.Source) < p.Rank(f, sv.Source):
			from = FromRetired
		}
		if from == FromRetired && sameValue(sv, rv) && sv.Source == rv.Source {
			from = FromSurvivor // nothing would change
		}
		win := sv
		if from == FromRetired {
			win = rv
			if moved.FieldsBefore == nil {
				moved.FieldsBefore, moved.FieldsAfter = map[string]FieldValue{}, map[string]FieldValue{}
			}
			moved.FieldsBefore[f], moved.FieldsAfter[f] = sv, rv
			setField(&na, f, rv)
		}
		if win.Source != "" {
			if moved.Attributes == nil {
				moved.Attributes = map[string]string{}
			}
			moved.Attributes[f] = win.Source
		}
		plan.Fields = append(plan.Fields, FieldChoice{
			Field: f, Survivor: sv.String(), Retired: rv.String(), SurvivorSource: sv.Source, RetiredSource: rv.Source,
			Value: win.String(), Source: win.Source, From: from,
		})
	}

	// Consents: the latest charter acceptance survives, and of two
	// directory choices the more private one.
	if c := mergeConsents(s.Consents, r.Consents); !sameConsents(c, s.Consents) {
		before, after := s.Consents, c
		moved.ConsentsBefore, moved.ConsentsAfter = &before, &after
		na.Consents = c
	}

	// Links.
	for _, l := range sortedLinks(retired.Links) {
		moved.Links = append(moved.Links, LinkKey{l.Source, l.ExternalID})
		l.AccountID = s.ID
		l.Attributes = maps.Clone(l.Attributes)
		ch.Links = append(ch.Links, l)
	}

	// E-mails.
	survEmails := map[string]Email{}
	hasPrimary := false
	for _, e := range survivor.Emails {
		survEmails[e.Address] = e
		hasPrimary = hasPrimary || e.Primary
	}
	for _, re := range sortedEmails(retired.Emails) {
		moved.Emails = append(moved.Emails, MovedEmail{Address: re.Address, Verified: re.Verified, Primary: re.Primary})
		moved.EmailDetails = append(moved.EmailDetails, MovedEmailDetail{Address: re.Address, Source: re.Source,
			CreatedAt: re.CreatedAt, VerifiedAt: re.VerifiedAt})
		ch.DeleteEmails = append(ch.DeleteEmails, re)
		promote := re.Primary && !hasPrimary
		hasPrimary = hasPrimary || promote
		var after Email
		if se, ok := survEmails[re.Address]; ok {
			moved.SurvivorEmailsBefore = append(moved.SurvivorEmailsBefore, MovedEmail{se.Address, se.Verified, se.Primary})
			after = se
			if re.Verified && !se.Verified {
				after.Verified, after.VerifiedAt = true, re.VerifiedAt
			}
			after.Primary = se.Primary || promote
			if after.Verified != se.Verified || after.Primary != se.Primary {
				ch.UpdateEmails = append(ch.UpdateEmails, after)
			}
		} else {
			after = re
			after.AccountID, after.Primary = s.ID, promote
			ch.AddEmails = append(ch.AddEmails, after)
		}
		moved.SurvivorEmailsAfter = append(moved.SurvivorEmailsAfter, MovedEmail{after.Address, after.Verified, after.Primary})
	}

	// Memberships.
	survMembers := map[string]Membership{}
	for _, m := range survivor.Memberships {
		survMembers[m.OrgID] = m
	}
	for _, rm := range sortedMemberships(retired.Memberships) {
		moved.Memberships = append(moved.Memberships, rm.OrgID)
		moved.RetiredMemberships = append(moved.RetiredMemberships, movedMembership(rm))
		ch.DeleteMemberships = append(ch.DeleteMemberships, rm)
		after := rm
		after.AccountID = s.ID
		if sm, ok := survMembers[rm.OrgID]; ok {
			moved.MembershipsBefore = append(moved.MembershipsBefore, movedMembership(sm))
			after = sm
			if stateRank(rm.State) > stateRank(sm.State) {
				after.State, after.ValidatedBy, after.ValidatedAt = rm.State, rm.ValidatedBy, rm.ValidatedAt
			}
			if roleRank(rm.Role) > roleRank(sm.Role) {
				after.Role = rm.Role
			}
			if after.State == sm.State && after.Role == sm.Role {
				continue // the survivor's membership is at least as good
			}
		}
		ch.PutMemberships = append(ch.PutMemberships, after)
		moved.MembershipsAfter = append(moved.MembershipsAfter, movedMembership(after))
	}

	// Accounts: the survivor with the surviving values, the retired merged.
	nr := cloneAccount(r)
	nr.Status, nr.MergedInto = StatusMerged, s.ID
	ch.Accounts = []Account{na, nr}
	moved.Retired = &AccountState{Status: r.Status, Version: r.Version}
	return plan, nil
}

// PlanUndo plans the undo of the merge rec, given the two accounts as they
// are now. Everything that moved goes back: links and e-mail rows to the
// retired account with the flags they had, the survivor's own rows of those
// addresses to the flags they had before, memberships back, the survivor's
// fields that the merge changed back to their former values and sources,
// and the retired account to its former status.
//
// It returns an *UndoConflict listing every later change that stands in the
// way: a moved link or address no longer on the survivor, an address no
// longer verified there, a field or membership the merge set that changed
// since, the survivor merged in turn. It returns a plain error when rec or
// the sides cannot be undone at all (already undone, sides of other
// accounts, retired account not merged into the survivor).
func PlanUndo(rec MergeRecord, survivor, retired Side) (Changes, error) {
	if rec.Undone() {
		return Changes{}, fmt.Errorf("merge %s was already undone", rec.ID)
	}
	if survivor.Account.ID != rec.SurvivorID || retired.Account.ID != rec.RetiredID {
		return Changes{}, fmt.Errorf("merge %s merged %s into %s, but the accounts given are %s (survivor) and %s (retired)",
			rec.ID, rec.RetiredID, rec.SurvivorID, survivor.Account.ID, retired.Account.ID)
	}
	var msgs []string
	msgs = append(msgs, checkSide("survivor", survivor)...)
	msgs = append(msgs, checkSide("retired", retired)...)
	if len(msgs) > 0 {
		return Changes{}, errors.New(strings.Join(msgs, "; "))
	}
	mv := rec.Moved
	if mv.Retired == nil || !mv.Retired.Status.Live() {
		return Changes{}, fmt.Errorf("merge %s does not record the live status the retired account had", rec.ID)
	}
	s, r := survivor.Account, retired.Account
	if r.Status != StatusMerged || r.MergedInto != s.ID {
		return Changes{}, fmt.Errorf("account %s is not merged into %s (status %s, merged_into %q)", r.ID, s.ID, r.Status, r.MergedInto)
	}

	var reasons []string
	conflict := func(format string, args ...any) { reasons = append(reasons, fmt.Sprintf(format, args...)) }
	var ch Changes
	if !s.Status.Live() {
		if s.Status == StatusMerged {
			conflict("survivor %s was merged into %s since the merge", s.ID, s.MergedInto)
		} else {
			conflict("survivor %s has unknown status %q", s.ID, s.Status)
		}
	}

	// Links.
	survLinks, retLinks := map[LinkKey]Link{}, map[LinkKey]Link{}
	for _, l := range survivor.Links {
		survLinks[LinkKey{l.Source, l.ExternalID}] = l
	}
	for _, l := range retired.Links {
		retLinks[LinkKey{l.Source, l.ExternalID}] = l
	}
	for _, k := range mv.Links {
		l, ok := survLinks[k]
		switch {
		case ok:
			l.AccountID = r.ID
			l.Attributes = maps.Clone(l.Attributes)
			ch.Links = append(ch.Links, l)
		case retLinks[k].AccountID != "":
			conflict("link %s/%s now belongs to account %s", k.Source, k.ExternalID, r.ID)
		default:
			conflict("link %s/%s no longer belongs to the survivor %s (moved or deleted since the merge)", k.Source, k.ExternalID, s.ID)
		}
	}

	// E-mails.
	survEmails, retEmails := map[string]Email{}, map[string]Email{}
	for _, e := range survivor.Emails {
		survEmails[e.Address] = e
	}
	retPrimary := ""
	for _, e := range retired.Emails {
		retEmails[e.Address] = e
		if e.Primary {
			retPrimary = e.Address
		}
	}
	details := map[string]MovedEmailDetail{}
	for _, d := range mv.EmailDetails {
		details[d.Address] = d
	}
	before, after := movedEmailsByAddress(mv.SurvivorEmailsBefore), movedEmailsByAddress(mv.SurvivorEmailsAfter)
	for _, m := range mv.Emails {
		cur, ok := survEmails[m.Address]
		if !ok {
			conflict("e-mail %s was deleted from the survivor since the merge", m.Address)
			continue
		}
		if m.Verified && !cur.Verified {
			conflict("e-mail %s is no longer verified on the survivor", m.Address)
			continue
		}
		b, existed := before[m.Address]
		if !existed && cur.Verified && !m.Verified {
			conflict("e-mail %s was verified on the survivor since the merge", m.Address)
			continue
		}
		if a, ok := after[m.Address]; ok && !existed && cur.Primary && !a.Primary {
			conflict("e-mail %s became the survivor's primary address since the merge", m.Address)
			continue
		}
		if _, ok := retEmails[m.Address]; ok {
			conflict("e-mail %s was added to the retired account %s since the merge", m.Address, r.ID)
			continue
		}
		if m.Primary && retPrimary != "" {
			conflict("e-mail %s cannot be the retired account's primary address again: %s became primary there since the merge", m.Address, retPrimary)
			continue
		}
		if !existed {
			ch.DeleteEmails = append(ch.DeleteEmails, cur)
		} else if a, ok := after[m.Address]; ok {
			// Restore the flags the merge changed; a row that loses its
			// verification is deleted and re-added, because the retired
			// row is re-added verified before updates run.
			n := cur
			if a.Verified != b.Verified {
				n.Verified = b.Verified
			}
			if a.Primary != b.Primary {
				n.Primary = b.Primary
			}
			if !n.Verified {
				n.VerifiedAt = time.Time{}
			}
			if n.Verified != cur.Verified || n.Primary != cur.Primary {
				ch.DeleteEmails = append(ch.DeleteEmails, cur)
				ch.AddEmails = append(ch.AddEmails, n)
			}
		}
		d := details[m.Address]
		back := Email{Address: m.Address, AccountID: r.ID, Verified: m.Verified, Primary: m.Primary,
			Source: d.Source, CreatedAt: d.CreatedAt}
		if m.Verified {
			back.VerifiedAt = d.VerifiedAt
		}
		ch.AddEmails = append(ch.AddEmails, back)
	}

	// Memberships.
	survMembers, retMembers := map[string]Membership{}, map[string]Membership{}
	for _, m := range survivor.Memberships {
		survMembers[m.OrgID] = m
	}
	for _, m := range retired.Memberships {
		retMembers[m.OrgID] = m
	}
	retiredRows := movedMembershipsByOrg(mv.RetiredMemberships)
	membersBefore, membersAfter := movedMembershipsByOrg(mv.MembershipsBefore), movedMembershipsByOrg(mv.MembershipsAfter)
	for _, org := range mv.Memberships {
		rm, ok := retiredRows[org]
		if !ok {
			return Changes{}, fmt.Errorf("merge %s moved the membership of org %s but does not record it", rec.ID, org)
		}
		if _, ok := retMembers[org]; ok {
			conflict("retired account %s joined org %s since the merge", r.ID, org)
			continue
		}
		if a, ok := membersAfter[org]; ok {
			cur, ok := survMembers[org]
			if !ok {
				conflict("survivor's membership of org %s was removed since the merge", org)
				continue
			}
			if cur.Role != a.Role || cur.State != a.State {
				conflict("survivor's membership of org %s changed since the merge (%s %s -> %s %s)", org, a.State, a.Role, cur.State, cur.Role)
				continue
			}
			if b, ok := membersBefore[org]; ok {
				ch.PutMemberships = append(ch.PutMemberships, b.membership(s.ID))
			} else {
				ch.DeleteMemberships = append(ch.DeleteMemberships, cur)
			}
		}
		ch.PutMemberships = append(ch.PutMemberships, rm.membership(r.ID))
	}

	// Fields.
	na := cloneAccount(s)
	for _, f := range sortedFields(mv.FieldsAfter) {
		a, cur := mv.FieldsAfter[f], getField(s, f)
		switch {
		case !sameValue(a, cur):
			conflict("survivor's %s changed since the merge (%q -> %q)", f, a.String(), cur.String())
		case a.Source != cur.Source:
			conflict("survivor's %s source changed since the merge (%q -> %q)", f, a.Source, cur.Source)
		default:
			setField(&na, f, mv.FieldsBefore[f])
		}
	}

	if mv.ConsentsAfter != nil && mv.ConsentsBefore != nil {
		if !sameConsents(*mv.ConsentsAfter, s.Consents) {
			conflict("survivor's consents (charter, directory) changed since the merge")
		} else {
			na.Consents = *mv.ConsentsBefore
		}
	}

	if len(reasons) > 0 {
		return Changes{}, &UndoConflict{MergeID: rec.ID, Reasons: reasons}
	}
	nr := cloneAccount(r)
	nr.Status, nr.MergedInto = mv.Retired.Status, ""
	ch.Accounts = []Account{na, nr}
	return ch, nil
}

// checkMergePair checks that survivor and retired can be merged.
func checkMergePair(survivor, retired Side) error {
	s, r := survivor.Account, retired.Account
	var msgs []string
	switch {
	case s.ID == "" || r.ID == "":
		msgs = append(msgs, "both accounts must have an id")
	case s.ID == r.ID:
		msgs = append(msgs, fmt.Sprintf("account %s cannot be merged into itself", s.ID))
	}
	for _, side := range []struct {
		name string
		a    Account
	}{{"survivor", s}, {"retired", r}} {
		switch {
		case side.a.Status == StatusMerged:
			msgs = append(msgs, fmt.Sprintf("%s account %s is already merged into %s", side.name, side.a.ID, side.a.MergedInto))
		case !side.a.Status.Live():
			msgs = append(msgs, fmt.Sprintf("%s account %s has unknown status %q", side.name, side.a.ID, side.a.Status))
		}
	}
	msgs = append(msgs, checkSide("survivor", survivor)...)
	msgs = append(msgs, checkSide("retired", retired)...)
	if len(msgs) > 0 {
		return errors.New(strings.Join(msgs, "; "))
	}
	return nil
}

// checkSide checks that the rows of a side belong to its account, once each,
// and that its attributes do not shadow typed fields.
func checkSide(name string, side Side) []string {
	var msgs []string
	id := side.Account.ID
	fail := func(format string, args ...any) {
		msgs = append(msgs, fmt.Sprintf("%s side: ", name)+fmt.Sprintf(format, args...))
	}
	links := map[LinkKey]bool{}
	for _, l := range side.Links {
		k := LinkKey{l.Source, l.ExternalID}
		if l.AccountID != id {
			fail("link %s/%s belongs to account %s, not %s", l.Source, l.ExternalID, l.AccountID, id)
		}
		if links[k] {
			fail("link %s/%s appears twice", l.Source, l.ExternalID)
		}
		links[k] = true
	}
	emails := map[string]bool{}
	for _, e := range side.Emails {
		if e.AccountID != id {
			fail("e-mail %s belongs to account %s, not %s", e.Address, e.AccountID, id)
		}
		if emails[e.Address] {
			fail("e-mail %s appears twice", e.Address)
		}
		emails[e.Address] = true
	}
	orgs := map[string]bool{}
	for _, m := range side.Memberships {
		if m.AccountID != id {
			fail("membership of org %s belongs to account %s, not %s", m.OrgID, m.AccountID, id)
		}
		if orgs[m.OrgID] {
			fail("membership of org %s appears twice", m.OrgID)
		}
		orgs[m.OrgID] = true
	}
	for _, k := range sortedKeys(side.Account.Attributes) {
		if k == FieldLogin || slices.Contains(typedFields, k) {
			fail("attribute %q shadows the account's own %s field", k, k)
		}
	}
	return msgs
}

// mergeFields lists the fields a merge of s and r considers, in preview
// order.
func mergeFields(s, r Account) []string {
	keys := map[string]bool{}
	for k := range s.Attributes {
		keys[k] = true
	}
	for k := range r.Attributes {
		keys[k] = true
	}
	return append(slices.Clone(typedFields), sortedKeys(keys)...)
}

// sortedFields returns the keys of m in preview order.
func sortedFields[V any](m map[string]V) []string {
	var typed, attrs []string
	for _, f := range typedFields {
		if _, ok := m[f]; ok {
			typed = append(typed, f)
		}
	}
	for _, k := range sortedKeys(m) {
		if !slices.Contains(typedFields, k) {
			attrs = append(attrs, k)
		}
	}
	return append(typed, attrs...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// stringField points at the Account column of a typed field, or is nil for
// a field kept in Attributes.
func stringField(a *Account, field string) *string {
	switch field {
	case FieldGivenName:
		return &a.GivenName
	case FieldFamilyName:
		return &a.FamilyName
	case FieldDisplayName:
		return &a.DisplayName
	case FieldBirthDate:
		return &a.BirthDate
	case FieldPhone:
		return &a.Phone
	}
	return nil
}

// getField returns the value and source of field on a.
func getField(a Account, field string) FieldValue {
	if p := stringField(&a, field); p != nil {
		return FieldValue{Value: *p, Source: a.Provenance[field]}
	}
	return FieldValue{Values: slices.Clone(a.Attributes[field]), Source: a.Provenance[field]}
}

// setField sets the value and source of field on a, whose maps must not be
// shared.
func setField(a *Account, field string, v FieldValue) {
	if p := stringField(a, field); p != nil {
		*p = v.Value
	} else if len(v.Values) == 0 {
		delete(a.Attributes, field)
	} else {
		if a.Attributes == nil {
			a.Attributes = map[string][]string{}
		}
		a.Attributes[field] = slices.Clone(v.Values)
	}
	if v.Source == "" {
		delete(a.Provenance, field)
		return
	}
	if a.Provenance == nil {
		a.Provenance = map[string]string{}
	}
	a.Provenance[field] = v.Source
}

func (v FieldValue) empty() bool { return v.Value == "" && len(v.Values) == 0 }

// String shows the value: Value, or Values joined with ", ".
func (v FieldValue) String() string {
	if v.Value != "" {
		return v.Value
	}
	return strings.Join(v.Values, ", ")
}

// sameValue compares two values, multi-valued ones as sets.
func sameValue(a, b FieldValue) bool {
	return a.Value == b.Value && slices.Equal(valueSet(a.Values), valueSet(b.Values))
}

func valueSet(vs []string) []string {
	s := slices.Clone(vs)
	slices.Sort(s)
	return slices.Compact(s)
}

// cloneAccount copies a with maps of its own.
func cloneAccount(a Account) Account {
	a.Provenance = maps.Clone(a.Provenance)
	if a.Attributes != nil {
		attrs := make(map[string][]string, len(a.Attributes))
		for k, v := range a.Attributes {
			attrs[k] = slices.Clone(v)
		}
		a.Attributes = attrs
	}
	return a
}

func sortedLinks(ls []Link) []Link {
	ls = slices.Clone(ls)
	slices.SortFunc(ls, func(a, b Link) int {
		if c := strings.Compare(a.Source, b.Source); c != 0 {
			return c
		}
		return strings.Compare(a.ExternalID, b.ExternalID)
	})
	return ls
}

func sortedEmails(es []Email) []Email {
	es = slices.Clone(es)
	slices.SortFunc(es, func(a, b Email) int { return strings.Compare(a.Address, b.Address) })
	return es
}

func sortedMemberships(ms []Membership) []Membership {
	ms = slices.Clone(ms)
	slices.SortFunc(ms, func(a, b Membership) int { return strings.Compare(a.OrgID, b.OrgID) })
	return ms
}

func movedEmailsByAddress(es []MovedEmail) map[string]MovedEmail {
	m := make(map[string]MovedEmail, len(es))
	for _, e := range es {
		m[e.Address] = e
	}
	return m
}

func movedMembership(m Membership) MovedMembership {
	return MovedMembership{OrgID: m.OrgID, Role: m.Role, State: m.State, ValidatedBy: m.ValidatedBy,
		ValidatedAt: m.ValidatedAt, CreatedAt: m.CreatedAt}
}

// membership is the row of m for an account.
func (m MovedMembership) membership(accountID string) Membership {
	return Membership{OrgID: m.OrgID, AccountID: accountID, Role: m.Role, State: m.State,
		ValidatedBy: m.ValidatedBy, ValidatedAt: m.ValidatedAt, CreatedAt: m.CreatedAt}
}

func movedMembershipsByOrg(ms []MovedMembership) map[string]MovedMembership {
	m := make(map[string]MovedMembership, len(ms))
	for _, x := range ms {
		m[x.OrgID] = x
	}
	return m
}

// stateRank orders membership states, better higher; unknown states rank
// lowest.
func stateRank(s MembershipState) int {
	switch s {
	case MembershipValidated:
		return 3
	case MembershipPending:
		return 2
	case MembershipRejected:
		return 1
	}
	return 0
}

// roleRank orders roles, more powerful higher.
func roleRank(r Role) int {
	switch r {
	case RoleOrgAdmin:
		return 2
	case RoleMember:
		return 1
	}
	return 0
}

// mergeConsents combines the consents of survivor s and retired r: the later
// charter acceptance, and the more private directory choice (a refusal on
// either side wins over an acceptance; a choice wins over none).
func mergeConsents(s, r Consents) Consents {
	out := s
	if r.CharterVersion != "" && (s.CharterVersion == "" || r.CharterAcceptedAt.After(s.CharterAcceptedAt)) {
		out.CharterVersion, out.CharterAcceptedAt = r.CharterVersion, r.CharterAcceptedAt
	}
	if r.DirectoryVisible != nil && (s.DirectoryVisible == nil || !*r.DirectoryVisible) {
		v := *r.DirectoryVisible
		out.DirectoryVisible = &v
	}
	return out
}

func sameConsents(a, b Consents) bool {
	sameChoice := (a.DirectoryVisible == nil) == (b.DirectoryVisible == nil) &&
		(a.DirectoryVisible == nil || *a.DirectoryVisible == *b.DirectoryVisible)
	return a.CharterVersion == b.CharterVersion && a.CharterAcceptedAt.Equal(b.CharterAcceptedAt) && sameChoice
}
