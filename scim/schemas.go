package scim

import (
	"slices"

	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
)

// Schema URNs.
const (
	UserSchema       = "urn:ietf:params:scim:schemas:core:2.0:User"
	GroupSchema      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	EnterpriseSchema = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	// AccountSchema is canonid's extension of User: the account's status,
	// linked identities, merged ids and org memberships, all read-only.
	AccountSchema = "urn:canonid:params:scim:schemas:extension:2.0:Account"
	patchOpSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	listSchema    = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
)

// common returns the read-only common attributes (RFC 7643 §3.1) that the
// library leaves out of a schema, so that filters and PATCH paths may name
// id and meta.*. externalId is added by the library itself for bodies, and
// here for filters.
func common() []schema.CoreAttribute {
	ro := schema.AttributeMutabilityReadOnly()
	return []schema.CoreAttribute{
		schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
			CaseExact: true, Mutability: ro, Name: "id", Returned: schema.AttributeReturnedAlways(),
			Uniqueness:  schema.AttributeUniquenessServer(),
			Description: optional.NewString("The account's stable identifier, also its OpenID subject."),
		})),
		schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
			CaseExact: true, Name: "externalId",
			Description: optional.NewString("The calling client's identifier of the resource: the external id of its link to the account."),
		})),
		schema.ComplexCoreAttribute(schema.ComplexParams{
			Mutability: ro, Name: "meta",
			Description: optional.NewString("Resource metadata."),
			SubAttributes: []schema.SimpleParams{
				schema.SimpleStringParams(schema.StringParams{CaseExact: true, Mutability: ro, Name: "resourceType"}),
				schema.SimpleDateTimeParams(schema.DateTimeParams{Mutability: ro, Name: "created"}),
				schema.SimpleDateTimeParams(schema.DateTimeParams{Mutability: ro, Name: "lastModified"}),
				schema.SimpleReferenceParams(schema.ReferenceParams{Mutability: ro, Name: "location"}),
				schema.SimpleStringParams(schema.StringParams{CaseExact: true, Mutability: ro, Name: "version"}),
			},
		}),
	}
}

// userSchema and groupSchema clip their attribute slices: the library
// appends externalId to a schema's attributes on every write, and spare
// capacity would make concurrent writes share (and race on) one array.
func userSchema() schema.Schema {
	s := schema.CoreUserSchema()
	s.Attributes = slices.Clip(append(s.Attributes, common()...))
	return s
}

func groupSchema() schema.Schema {
	s := schema.CoreGroupSchema()
	s.Attributes = slices.Clip(append(s.Attributes, common()...))
	return s
}

func enterpriseSchema() schema.Schema { return schema.ExtensionEnterpriseUser() }

// accountSchema is canonid's extension: what only canonid knows about an
// account, read-only.
func accountSchema() schema.Schema {
	ro := schema.AttributeMutabilityReadOnly()
	str := func(name, desc string) schema.SimpleParams {
		return schema.SimpleStringParams(schema.StringParams{CaseExact: true, Mutability: ro, Name: name, Description: optional.NewString(desc)})
	}
	return schema.Schema{
		ID:          AccountSchema,
		Name:        optional.NewString("Account"),
		Description: optional.NewString("canonid's canonical account: status, linked identities, merged accounts and org memberships."),
		Attributes: []schema.CoreAttribute{
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
				CaseExact: true, Mutability: ro, Name: "status",
				CanonicalValues: []string{"pending_activation", "pending_validation", "active", "suspended"},
				Description:     optional.NewString("The account's life-cycle status."),
			})),
			schema.ComplexCoreAttribute(schema.ComplexParams{
				MultiValued: true, Mutability: ro, Name: "linkedIdentities",
				Description: optional.NewString("The identities at sources (directories, files, SCIM clients, upstream providers) linked to the account."),
				SubAttributes: []schema.SimpleParams{
					str("source", "The source, e.g. ldap:campus or scim:hr."),
					str("externalId", "The identity's id at the source."),
					str("status", "active, or gone when the source no longer reports it."),
				},
			}),
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
				CaseExact: true, MultiValued: true, Mutability: ro, Name: "mergedIds",
				Description: optional.NewString("Ids of the accounts merged into this one; they answer 404 and name this one."),
			})),
			schema.ComplexCoreAttribute(schema.ComplexParams{
				MultiValued: true, Mutability: ro, Name: "orgs",
				Description: optional.NewString("Org memberships, validated or not."),
				SubAttributes: []schema.SimpleParams{
					str("value", "The org id."),
					str("display", "The org's name."),
					str("role", "member or org-admin."),
					str("state", "pending, validated or rejected."),
				},
			}),
		},
	}
}
