#!/bin/sh
# seed.sh — the entrypoint of the compose stack's campus directory: an
# OpenLDAP slapd for dc=univ-test,dc=fr with the SupAnn, eduPerson and SCHAC
# schemas and a few demo people, set up the way canonid's own tests set up
# theirs (connectors/ldap/slapdtest).
#
# On the first start (no configuration in $LDAP_HOME yet) it writes the
# cn=config tree with slapadd -n0, then loads the suffix, a service account
# for canonid and the people with slapadd -n1. Every start then runs slapd
# in the foreground. Nothing here is for production: there is no TLS, and the
# passwords come from the environment.
#
# Environment:
#   LDAP_ADMIN_PASSWORD    password of cn=admin,dc=univ-test,dc=fr (root DN)
#   LDAP_CANONID_PASSWORD  password of cn=canonid,ou=services,dc=univ-test,dc=fr,
#                          the account canonid binds with (reads the people,
#                          changes their passwords)
#   LDAP_HOME              configuration and database (default /var/lib/canonid-ldap)
#   LDAP_SEED              schema/*.ldif and people.ldif (default /seed)
#   LDAP_URLS              what slapd listens on (default ldap://:1389/)
#   LDAP_SYSTEM_SCHEMA     core, cosine, inetorgperson LDIFs (default /etc/ldap/schema)
#   LDAP_MODULE_PATH       where back_mdb.so is (default /usr/lib/ldap)
#   LDAP_DEBUG             slapd -d level (default stats: connections and
#                          operations on stderr; 0 for quiet)
set -eu

: "${LDAP_ADMIN_PASSWORD:?set LDAP_ADMIN_PASSWORD}"
: "${LDAP_CANONID_PASSWORD:?set LDAP_CANONID_PASSWORD}"
home=${LDAP_HOME:-/var/lib/canonid-ldap}
seed=${LDAP_SEED:-/seed}
urls=${LDAP_URLS:-ldap://:1389/}
system_schema=${LDAP_SYSTEM_SCHEMA:-/etc/ldap/schema}
module_path=${LDAP_MODULE_PATH:-/usr/lib/ldap}

suffix=dc=univ-test,dc=fr
admin_dn=cn=admin,$suffix
canonid_dn=cn=canonid,ou=services,$suffix
conf=$home/slapd.d
data=$home/data

if [ ! -e "$conf/cn=config.ldif" ]; then
	echo "seed: first start, loading $suffix from $seed" >&2
	rm -rf "$conf" "$data"
	mkdir -p "$conf" "$data"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT

	{
		cat <<EOF
dn: cn=config
objectClass: olcGlobal
cn: config
olcLogLevel: stats

EOF
		if [ -e "$module_path/back_mdb.so" ]; then
			cat <<EOF
dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: $module_path
olcModuleLoad: back_mdb

EOF
		fi
		printf 'dn: cn=schema,cn=config\nobjectClass: olcSchemaConfig\ncn: schema\n\n'
		for f in "$system_schema/core.ldif" "$system_schema/cosine.ldif" "$system_schema/inetorgperson.ldif" \
			"$seed/schema/eduperson.ldif" "$seed/schema/schac.ldif" "$seed/schema/supann.ldif"; do
			cat "$f"
			printf '\n\n'
		done
		cat <<EOF
dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: $suffix
olcRootDN: $admin_dn
olcRootPW: $(slappasswd -h '{SSHA}' -s "$LDAP_ADMIN_PASSWORD")
olcDbDirectory: $data
olcDbMaxSize: 1073741824
olcDbIndex: objectClass eq
olcDbIndex: entryUUID eq
olcDbIndex: entryCSN eq
olcDbIndex: modifyTimestamp eq
olcDbIndex: uid eq
olcDbIndex: mail eq
olcAccess: {0}to attrs=userPassword by self write by dn.exact="$canonid_dn" write by anonymous auth by * none
olcAccess: {1}to * by dn.exact="$canonid_dn" read by self read by * none

EOF
	} >"$tmp/config.ldif"
	slapadd -n0 -F "$conf" -l "$tmp/config.ldif"

	{
		cat <<EOF
dn: $suffix
objectClass: dcObject
objectClass: organization
dc: univ-test
o: Universite de Test

dn: ou=people,$suffix
objectClass: organizationalUnit
ou: people

dn: ou=services,$suffix
objectClass: organizationalUnit
ou: services

dn: $canonid_dn
objectClass: applicationProcess
objectClass: simpleSecurityObject
cn: canonid
description: canonid reads the people and changes their passwords
userPassword: $(slappasswd -h '{SSHA}' -s "$LDAP_CANONID_PASSWORD")

EOF
		cat "$seed/people.ldif"
		printf '\n'
	} >"$tmp/data.ldif"
	# -q: no consistency checks (a fast bulk load).
	slapadd -q -n1 -F "$conf" -l "$tmp/data.ldif"
	rm -rf "$tmp"
	trap - EXIT
	echo "seed: done" >&2
fi

# -d keeps slapd in the foreground (the container's main process) and writes
# its log to stderr.
exec slapd -d "${LDAP_DEBUG:-stats}" -h "$urls" -F "$conf"
