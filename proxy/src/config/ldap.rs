//! `[identity.ldap]`: the LDAP directory section and its semantic checks.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// `[identity.ldap]`: proxy credentials checked by a simple bind against an
/// LDAP directory (after the users file), and groups looked up there.
///
/// The user's DN comes either from `bind_dn_template` or from a search
/// (`search_base` + `search_filter`, optionally as a service account).
/// Every user-supplied value is escaped: RFC 4514 in DNs, RFC 4515 in filters.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LdapSection {
    /// Directory URL: `ldaps://host:port` (default port 636), or `ldap://host:port`
    /// with `starttls = true`. Plain `ldap://` without StartTLS is refused
    /// unless `allow_plaintext = true`. Required.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS before binding. Default false.
    pub starttls: bool,
    /// Permit `ldap://` without StartTLS: passwords cross the network in the
    /// clear. Default false.
    pub allow_plaintext: bool,
    /// PEM trust anchors for the directory's certificate. When unset, the
    /// Mozilla roots compiled in and the system store are trusted.
    pub ca_file: Option<PathBuf>,
    /// DN bound directly, `{user}` replaced by the RFC 4514-escaped user name,
    /// e.g. `uid={user},ou=people,dc=example,dc=org`. Exclusive with `search_base`.
    pub bind_dn_template: Option<String>,
    /// Base of the subtree searched for the user's entry (search mode).
    pub search_base: Option<String>,
    /// Filter finding the user's entry, `{user}` replaced by the RFC
    /// 4515-escaped user name; exactly one entry must match. Default `(uid={user})`.
    pub search_filter: String,
    /// DN of the account that searches (users and groups). Default: anonymous
    /// searches (search mode) or searches as the user (template mode).
    pub service_bind_dn: Option<String>,
    /// File holding the service account's password (first line), so no secret
    /// sits in the configuration. Required with `service_bind_dn`.
    pub service_password_file: Option<PathBuf>,
    /// Attribute of the user's entry that names the user in the identity
    /// (records, policy `user:` conditions): its value equal to the name
    /// typed, ignoring case, or else its first value. Directories compare
    /// names without case, so `ALICE` is recorded as `alice`. An entry
    /// without it fails authentication. Default `uid`.
    pub user_attribute: String,
    /// Base of the subtree searched for the user's groups. Default: no group lookup.
    pub group_base: Option<String>,
    /// Filter finding the user's groups: `{dn}` is the user's DN and `{user}`
    /// the user name as `user_attribute` spells it (for `memberUid`), both
    /// RFC 4515-escaped. Default `(member={dn})`.
    pub group_filter: String,
    /// Attribute of a group entry holding the group name. Default `cn`.
    pub group_attribute: String,
    /// Bound on one whole authentication (connect, TLS, binds, searches);
    /// exceeding it is a failure. Default 5 s.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for LdapSection {
    fn default() -> Self {
        Self {
            url: String::new(),
            starttls: false,
            allow_plaintext: false,
            ca_file: None,
            bind_dn_template: None,
            search_base: None,
            search_filter: "(uid={user})".into(),
            service_bind_dn: None,
            service_password_file: None,
            user_attribute: "uid".into(),
            group_base: None,
            group_filter: "(member={dn})".into(),
            group_attribute: "cn".into(),
            timeout: Duration::from_secs(5),
        }
    }
}

/// How the proxy talks to the directory, as decided by `url` and `starttls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LdapTransport {
    /// TLS from the first byte (`ldaps://`).
    Ldaps,
    /// `ldap://` upgraded with the StartTLS extended operation before any bind.
    StartTls,
    /// `ldap://` in the clear (only with `allow_plaintext`).
    Plain,
}

impl LdapSection {
    /// The transport `url` and `starttls` ask for, or why they are unusable.
    /// Refuses plain LDAP unless `allow_plaintext` is set.
    pub fn transport(&self) -> Result<LdapTransport, String> {
        let uri: http::Uri = self
            .url
            .parse()
            .map_err(|e| format!("{:?} is not a URL: {e}", self.url))?;
        if uri.host().is_none_or(str::is_empty) {
            return Err(format!("{:?} names no host", self.url));
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(format!(
                "{:?}: only `scheme://host:port` is supported (no DN, attributes or filter)",
                self.url
            ));
        }
        match (uri.scheme_str(), self.starttls) {
            (Some("ldaps"), false) => Ok(LdapTransport::Ldaps),
            (Some("ldaps"), true) => {
                Err("`starttls` applies to ldap:// URLs; ldaps:// is TLS already".into())
            }
            (Some("ldap"), true) => Ok(LdapTransport::StartTls),
            (Some("ldap"), false) if self.allow_plaintext => Ok(LdapTransport::Plain),
            (Some("ldap"), false) => Err(
                "plain ldap:// would send passwords in the clear: use ldaps://, set \
                 `starttls = true`, or set `allow_plaintext = true` to accept that"
                    .into(),
            ),
            _ => Err(format!(
                "{:?}: the scheme must be ldaps:// or ldap://",
                self.url
            )),
        }
    }
}

type Invalid = (Vec<&'static str>, String);

/// Semantic checks of `[identity.ldap]`; failures name the field path.
pub(super) fn validate(l: &LdapSection) -> Result<(), Invalid> {
    let fail = |field: &'static str, msg: String| Err((vec!["identity", "ldap", field], msg));
    if l.url.is_empty() {
        return Err((
            vec!["identity", "ldap"],
            "`url` must be set (ldaps://host:port, or ldap://host:port with starttls)".into(),
        ));
    }
    if let Err(msg) = l.transport() {
        let field = if l.starttls && l.url.starts_with("ldaps:") {
            "starttls"
        } else {
            "url"
        };
        return fail(field, msg);
    }
    if let Some(ca) = &l.ca_file {
        if !ca.is_file() {
            return fail("ca_file", format!("{}: no such file", ca.display()));
        }
    }
    match (&l.bind_dn_template, &l.search_base) {
        (Some(_), Some(_)) => {
            return fail(
                "bind_dn_template",
                "set either `bind_dn_template` or `search_base`, not both".into(),
            )
        }
        (None, None) => {
            return Err((
                vec!["identity", "ldap"],
                "set `bind_dn_template` (direct bind) or `search_base` (search, then bind)".into(),
            ))
        }
        (Some(template), None) if !template.contains("{user}") => {
            return fail("bind_dn_template", "must contain `{user}`".into())
        }
        _ => {}
    }
    if l.search_base.is_some() {
        if !l.search_filter.contains("{user}") {
            return fail("search_filter", "must contain `{user}`".into());
        }
        if ldap3::parse_filter(l.search_filter.replace("{user}", "x")).is_err() {
            return fail("search_filter", "not an RFC 4515 filter".into());
        }
    }
    if l.group_base.is_some()
        && ldap3::parse_filter(l.group_filter.replace("{user}", "x").replace("{dn}", "x")).is_err()
    {
        return fail("group_filter", "not an RFC 4515 filter".into());
    }
    for (field, attribute) in [
        ("user_attribute", &l.user_attribute),
        ("group_attribute", &l.group_attribute),
    ] {
        if attribute.is_empty() {
            return fail(field, "must name an attribute".into());
        }
    }
    match (&l.service_bind_dn, &l.service_password_file) {
        (Some(_), None) => return fail("service_bind_dn", "needs `service_password_file`".into()),
        (None, Some(_)) => return fail("service_password_file", "needs `service_bind_dn`".into()),
        (Some(_), Some(file)) => {
            if let Err(e) = read_service_password(file) {
                return fail("service_password_file", e);
            }
        }
        (None, None) => {}
    }
    if l.timeout.is_zero() {
        return fail("timeout", "must be more than 0s".into());
    }
    Ok(())
}

/// The service account's password: the first line of `file`, which must not
/// be empty (an empty simple bind is an unauthenticated bind).
pub fn read_service_password(file: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let password = text.lines().next().unwrap_or_default();
    if password.is_empty() {
        return Err(format!("{}: the first line is empty", file.display()));
    }
    Ok(password.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(url: &str, starttls: bool, plain: bool) -> LdapSection {
        LdapSection {
            url: url.into(),
            starttls,
            allow_plaintext: plain,
            bind_dn_template: Some("uid={user},dc=example,dc=org".into()),
            ..Default::default()
        }
    }

    #[test]
    fn transports() {
        let cases = [
            (
                "ldaps://ldap.example.org",
                false,
                false,
                Some(LdapTransport::Ldaps),
            ),
            (
                "ldaps://127.0.0.1:6360/",
                false,
                false,
                Some(LdapTransport::Ldaps),
            ),
            (
                "ldap://ldap.example.org:389",
                true,
                false,
                Some(LdapTransport::StartTls),
            ),
            (
                "ldap://ldap.example.org",
                false,
                true,
                Some(LdapTransport::Plain),
            ),
            ("ldap://ldap.example.org", false, false, None),
            ("ldaps://ldap.example.org", true, false, None),
            ("http://ldap.example.org", false, false, None),
            ("ldaps://ldap.example.org/dc=x??sub", false, false, None),
            ("ldaps://", false, false, None),
        ];
        for (url, starttls, plain, expected) in cases {
            assert_eq!(
                section(url, starttls, plain).transport().ok(),
                expected,
                "{url}"
            );
        }
    }
}
