package push

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/canonid/canonid/mapping"
	"github.com/canonid/canonid/propagate"
)

// SCIM schema and message URNs (RFC 7643 §8.7, RFC 7644 §3).
const (
	userURN       = "urn:ietf:params:scim:schemas:core:2.0:User"
	enterpriseURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	patchURN      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

// user is a SCIM User as this package writes and reads it: the attributes
// it maps, and nothing else.
type user struct {
	Schemas      []string     `json:"schemas,omitempty"`
	ID           string       `json:"id,omitempty"`
	ExternalID   string       `json:"externalId,omitempty"`
	UserName     string       `json:"userName"`
	Name         *personName  `json:"name,omitempty"`
	DisplayName  string       `json:"displayName,omitempty"`
	Emails       []multiValue `json:"emails,omitempty"`
	PhoneNumbers []multiValue `json:"phoneNumbers,omitempty"`
	Active       flexBool     `json:"active"`
	Enterprise   *enterprise  `json:"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User,omitempty"`
}

type personName struct {
	GivenName  string `json:"givenName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
}

type multiValue struct {
	Value   string   `json:"value"`
	Type    string   `json:"type,omitempty"`
	Primary flexBool `json:"primary,omitempty"`
}

type enterprise struct {
	EmployeeNumber string `json:"employeeNumber,omitempty"`
}

// flexBool is a SCIM boolean; it reads the strings "true" and "false" in
// any case too (Entra ID, and servers built for it, answer "True").
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case nil:
		*b = false
	case bool:
		*b = flexBool(v)
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true":
			*b = true
		case "false", "":
			*b = false
		default:
			return fmt.Errorf("%q is not a boolean", v)
		}
	default:
		return fmt.Errorf("%s is not a boolean", data)
	}
	return nil
}

// Tombstone is the userName a retired account's User takes downstream, so
// that its login is free for the survivor: unique (it holds the canonical
// id), recognisable, and a syntactically valid address under the reserved
// .invalid top-level domain (RFC 6761), for providers that insist on an
// address as userName.
func Tombstone(accountID string) string { return "merged-" + accountID + "@merged.invalid" }

// userResource is the User an account should be downstream. It is the one
// place the mapping lives:
//
//   - userName: the login, or without one the primary address, or without
//     one the canonical id; Tombstone(id) for a retired account;
//   - externalId: the canonical account id;
//   - name.givenName, name.familyName, displayName;
//   - emails: the verified addresses, type "work", the primary one first
//     and flagged; none for a retired account;
//   - phoneNumbers: the phone, type "work", primary;
//   - active: the state is StateActive;
//   - enterprise employeeNumber: the supann_emp_id attribute, if any.
func userResource(a propagate.Account) user {
	u := user{
		Schemas:     []string{userURN},
		ExternalID:  a.ID,
		UserName:    a.Login,
		DisplayName: a.DisplayName,
		Active:      a.State == propagate.StateActive,
	}
	if a.GivenName != "" || a.FamilyName != "" {
		u.Name = &personName{GivenName: a.GivenName, FamilyName: a.FamilyName}
	}
	primary := slices.IndexFunc(a.Emails, func(e propagate.Email) bool { return e.Primary })
	if primary < 0 && len(a.Emails) > 0 {
		primary = 0
	}
	if primary >= 0 {
		u.Emails = append(u.Emails, multiValue{Value: a.Emails[primary].Address, Type: "work", Primary: true})
	}
	for i, e := range a.Emails {
		if i != primary {
			u.Emails = append(u.Emails, multiValue{Value: e.Address, Type: "work"})
		}
	}
	if u.UserName == "" && len(u.Emails) > 0 {
		u.UserName = u.Emails[0].Value
	}
	if u.UserName == "" {
		u.UserName = a.ID
	}
	if a.Phone != "" {
		u.PhoneNumbers = []multiValue{{Value: a.Phone, Type: "work", Primary: true}}
	}
	if ids := a.Attributes[mapping.FieldSupannEmpID]; len(ids) > 0 && ids[0] != "" {
		u.Enterprise = &enterprise{EmployeeNumber: ids[0]}
		u.Schemas = append(u.Schemas, enterpriseURN)
	}
	if a.State == propagate.StateRetired {
		u.UserName = Tombstone(a.ID)
		u.Emails = nil
		u.Active = false
	}
	return u
}

// patchOp is one PATCH operation (RFC 7644 §3.5.2).
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// patchRequest is a PatchOp message.
type patchRequest struct {
	Schemas    []string  `json:"schemas"`
	Operations []patchOp `json:"Operations"`
}

// patchOps are the operations that make a User u: a replace for every
// attribute with a value, a remove for every mapped attribute without one,
// so that the result does not depend on what the User held before. The
// enterprise employeeNumber is replaced when set and never removed (a
// provider without the extension would refuse the path).
func patchOps(u user) patchRequest {
	var ops []patchOp
	set := func(path string, has bool, v any) {
		if has {
			ops = append(ops, patchOp{Op: "replace", Path: path, Value: v})
		} else {
			ops = append(ops, patchOp{Op: "remove", Path: path})
		}
	}
	ops = append(ops,
		patchOp{Op: "replace", Path: "externalId", Value: u.ExternalID},
		patchOp{Op: "replace", Path: "userName", Value: u.UserName},
	)
	var n personName
	if u.Name != nil {
		n = *u.Name
	}
	set("name.givenName", n.GivenName != "", n.GivenName)
	set("name.familyName", n.FamilyName != "", n.FamilyName)
	set("displayName", u.DisplayName != "", u.DisplayName)
	set("emails", len(u.Emails) > 0, u.Emails)
	set("phoneNumbers", len(u.PhoneNumbers) > 0, u.PhoneNumbers)
	if u.Enterprise != nil && u.Enterprise.EmployeeNumber != "" {
		ops = append(ops, patchOp{Op: "replace", Path: enterpriseURN + ":employeeNumber", Value: u.Enterprise.EmployeeNumber})
	}
	ops = append(ops, patchOp{Op: "replace", Path: "active", Value: bool(u.Active)})
	return patchRequest{Schemas: []string{patchURN}, Operations: ops}
}

// drift names the attributes of the remote User got that differ from the
// wanted User want. userName and addresses compare case-insensitively (RFC
// 7643 §4.1.1 and §4.1.2: they are not case-exact); the order of
// addresses and phones does not matter, which address is primary does.
func drift(want, got user) []string {
	var out []string
	if want.ExternalID != got.ExternalID {
		out = append(out, "externalId")
	}
	if !strings.EqualFold(want.UserName, got.UserName) {
		out = append(out, "userName")
	}
	var wn, gn personName
	if want.Name != nil {
		wn = *want.Name
	}
	if got.Name != nil {
		gn = *got.Name
	}
	if wn.GivenName != gn.GivenName {
		out = append(out, "name.givenName")
	}
	if wn.FamilyName != gn.FamilyName {
		out = append(out, "name.familyName")
	}
	if want.DisplayName != got.DisplayName {
		out = append(out, "displayName")
	}
	if !sameValues(want.Emails, got.Emails, true) {
		out = append(out, "emails")
	}
	if !sameValues(want.PhoneNumbers, got.PhoneNumbers, false) {
		out = append(out, "phoneNumbers")
	}
	if want.Active != got.Active {
		out = append(out, "active")
	}
	if want.Enterprise != nil && want.Enterprise.EmployeeNumber != "" &&
		(got.Enterprise == nil || got.Enterprise.EmployeeNumber != want.Enterprise.EmployeeNumber) {
		out = append(out, enterpriseURN+":employeeNumber")
	}
	return out
}

// sameValues compares multi-valued attributes as sets of values, and
// which value is primary.
func sameValues(want, got []multiValue, fold bool) bool {
	key := func(s string) string {
		s = strings.TrimSpace(s)
		if fold {
			return strings.ToLower(s)
		}
		return s
	}
	values := func(list []multiValue) (vs []string, primary string) {
		for _, m := range list {
			vs = append(vs, key(m.Value))
			if m.Primary {
				primary = key(m.Value)
			}
		}
		slices.Sort(vs)
		return slices.Compact(vs), primary
	}
	wv, wp := values(want)
	gv, gp := values(got)
	if len(want) == 1 && gp == "" {
		// One value: a provider that does not keep the flag holds it
		// all the same.
		gp = wp
	}
	return slices.Equal(wv, gv) && wp == gp
}
