//! Tenant restrictions: request headers that make a SaaS provider accept
//! only the organisation's own tenants, workspaces or accounts.
//!
//! Each restriction knows its headers and the hosts it must be sent to;
//! a [`crate::Decision`] carries only the headers that apply to the
//! request's host.

use std::sync::Arc;

use serde::Serialize;

use crate::rules::condition::has_suffix;

/// A request header to inject.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Header {
    /// Header name.
    pub name: Arc<str>,
    /// Header value.
    pub value: Arc<str>,
}

impl Header {
    /// A header from name and value.
    pub fn new(name: &str, value: &str) -> Self {
        Self {
            name: Arc::from(name),
            value: Arc::from(value),
        }
    }
}

/// YouTube restricted-mode level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum YoutubeMode {
    /// `YouTube-Restrict: Strict`.
    Strict,
    /// `YouTube-Restrict: Moderate`.
    Moderate,
}

/// A tenant restriction and its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantRestriction {
    /// Microsoft Entra tenant restrictions: v1 (`Restrict-Access-To-Tenants`
    /// with `Restrict-Access-Context`) and/or v2
    /// (`sec-Restrict-Tenant-Access-Policy: <tenant-id>:<policy-id>`).
    Microsoft {
        /// Allowed tenant domains or ids (v1).
        tenants: Vec<String>,
        /// Directory id of the tenant setting the restriction (v1).
        context: Option<String>,
        /// `<tenant-id>:<policy-id>` (v2).
        policy: Option<String>,
    },
    /// Google Workspace: `X-GooGApps-Allowed-Domains`.
    Google {
        /// Allowed account domains.
        domains: Vec<String>,
    },
    /// Slack: `X-Slack-Allowed-Workspaces-Requester` and `X-Slack-Allowed-Workspaces`.
    Slack {
        /// Allowed workspace or org ids.
        workspaces: Vec<String>,
        /// The workspace or org id making the restriction.
        requester: String,
    },
    /// Dropbox: `X-Dropbox-allowed-Team-Ids`.
    Dropbox {
        /// Allowed team ids.
        teams: Vec<String>,
    },
    /// ChatGPT: `ChatGPT-Allowed-Workspace-Id`.
    Chatgpt {
        /// The allowed workspace id.
        workspace: String,
    },
    /// YouTube restricted mode: `YouTube-Restrict`.
    Youtube {
        /// The level.
        mode: YoutubeMode,
    },
}

const MICROSOFT_HOSTS: &[&str] = &[
    "login.microsoftonline.com",
    "login.microsoft.com",
    "login.windows.net",
];
const YOUTUBE_HOSTS: &[&str] = &[
    "www.youtube.com",
    "m.youtube.com",
    "youtube.com",
    "youtubei.googleapis.com",
    "youtube.googleapis.com",
    "www.youtube-nocookie.com",
];

impl TenantRestriction {
    /// Whether the headers must be sent to `host` (lower case).
    pub fn applies_to(&self, host: &str) -> bool {
        match self {
            Self::Microsoft { .. } => MICROSOFT_HOSTS.contains(&host),
            Self::Google { .. } => has_suffix(host, "google.com"),
            Self::Slack { .. } => has_suffix(host, "slack.com"),
            Self::Dropbox { .. } => {
                has_suffix(host, "dropbox.com") || has_suffix(host, "dropboxapi.com")
            }
            Self::Chatgpt { .. } => {
                has_suffix(host, "chatgpt.com") || has_suffix(host, "openai.com")
            }
            Self::Youtube { .. } => YOUTUBE_HOSTS.contains(&host),
        }
    }

    /// The headers this restriction injects.
    pub fn headers(&self) -> Vec<Header> {
        match self {
            Self::Microsoft {
                tenants,
                context,
                policy,
            } => {
                let mut out = Vec::new();
                if !tenants.is_empty() {
                    out.push(Header::new(
                        "Restrict-Access-To-Tenants",
                        &tenants.join(","),
                    ));
                }
                if let Some(c) = context {
                    out.push(Header::new("Restrict-Access-Context", c));
                }
                if let Some(p) = policy {
                    out.push(Header::new("sec-Restrict-Tenant-Access-Policy", p));
                }
                out
            }
            Self::Google { domains } => vec![Header::new(
                "X-GooGApps-Allowed-Domains",
                &domains.join(","),
            )],
            Self::Slack {
                workspaces,
                requester,
            } => vec![
                Header::new("X-Slack-Allowed-Workspaces-Requester", requester),
                Header::new("X-Slack-Allowed-Workspaces", &workspaces.join(",")),
            ],
            Self::Dropbox { teams } => {
                vec![Header::new("X-Dropbox-allowed-Team-Ids", &teams.join(","))]
            }
            Self::Chatgpt { workspace } => {
                vec![Header::new("ChatGPT-Allowed-Workspace-Id", workspace)]
            }
            Self::Youtube { mode } => vec![Header::new(
                "YouTube-Restrict",
                match mode {
                    YoutubeMode::Strict => "Strict",
                    YoutubeMode::Moderate => "Moderate",
                },
            )],
        }
    }

    /// Checks the parameters: no empty lists, no separators or control
    /// characters inside values (they would corrupt the header).
    pub fn validate(&self) -> Result<(), String> {
        let check = |what: &str, values: &[String]| -> Result<(), String> {
            if values.is_empty() {
                return Err(format!("{what}: at least one value is required"));
            }
            for v in values {
                if v.is_empty()
                    || v.bytes()
                        .any(|b| b == b',' || b.is_ascii_control() || b == b' ')
                {
                    return Err(format!(
                        "{what}: `{v}` is empty or contains a comma, space or control character"
                    ));
                }
            }
            Ok(())
        };
        match self {
            Self::Microsoft {
                tenants,
                context,
                policy,
            } => {
                if tenants.is_empty() && policy.is_none() {
                    return Err("microsoft: give `tenants` (v1) and/or `policy` (v2)".into());
                }
                if !tenants.is_empty() {
                    check("microsoft.tenants", tenants)?;
                    if context.is_none() {
                        return Err(
                            "microsoft: `context` (the directory id) is required with `tenants`"
                                .into(),
                        );
                    }
                }
                if let Some(c) = context {
                    check("microsoft.context", std::slice::from_ref(c))?;
                }
                if let Some(p) = policy {
                    check("microsoft.policy", std::slice::from_ref(p))?;
                    if !p.contains(':') {
                        return Err("microsoft.policy: expected `<tenant-id>:<policy-id>`".into());
                    }
                }
                Ok(())
            }
            Self::Google { domains } => check("google.domains", domains),
            Self::Slack {
                workspaces,
                requester,
            } => {
                check("slack.workspaces", workspaces)?;
                check("slack.requester", std::slice::from_ref(requester))
            }
            Self::Dropbox { teams } => check("dropbox.teams", teams),
            Self::Chatgpt { workspace } => {
                check("chatgpt.workspace", std::slice::from_ref(workspace))
            }
            Self::Youtube { .. } => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(r: &TenantRestriction) -> Vec<(String, String)> {
        r.headers()
            .iter()
            .map(|h| (h.name.to_string(), h.value.to_string()))
            .collect()
    }

    #[test]
    fn headers_and_hosts() {
        let ms = TenantRestriction::Microsoft {
            tenants: vec!["contoso.com".into(), "contoso.onmicrosoft.com".into()],
            context: Some("72f988bf-86f1-41af-91ab-2d7cd011db47".into()),
            policy: Some(
                "72f988bf-86f1-41af-91ab-2d7cd011db47:0a8b2c5e-0000-4000-8000-000000000001".into(),
            ),
        };
        assert!(ms.validate().is_ok());
        assert_eq!(
            names(&ms)[0],
            (
                "Restrict-Access-To-Tenants".into(),
                "contoso.com,contoso.onmicrosoft.com".into()
            )
        );
        assert_eq!(names(&ms)[1].0, "Restrict-Access-Context");
        assert_eq!(names(&ms)[2].0, "sec-Restrict-Tenant-Access-Policy");
        assert!(ms.applies_to("login.microsoftonline.com") && !ms.applies_to("outlook.office.com"));

        type Case<'a> = (TenantRestriction, &'a str, Vec<(&'a str, &'a str)>);
        let cases: Vec<Case<'_>> = vec![
            (
                TenantRestriction::Google {
                    domains: vec!["a.com".into(), "b.com".into()],
                },
                "mail.google.com",
                vec![("X-GooGApps-Allowed-Domains", "a.com,b.com")],
            ),
            (
                TenantRestriction::Slack {
                    workspaces: vec!["T1".into(), "E2".into()],
                    requester: "T1".into(),
                },
                "app.slack.com",
                vec![
                    ("X-Slack-Allowed-Workspaces-Requester", "T1"),
                    ("X-Slack-Allowed-Workspaces", "T1,E2"),
                ],
            ),
            (
                TenantRestriction::Dropbox {
                    teams: vec!["dbtid:AAA".into()],
                },
                "www.dropbox.com",
                vec![("X-Dropbox-allowed-Team-Ids", "dbtid:AAA")],
            ),
            (
                TenantRestriction::Chatgpt {
                    workspace: "ws-123".into(),
                },
                "chatgpt.com",
                vec![("ChatGPT-Allowed-Workspace-Id", "ws-123")],
            ),
            (
                TenantRestriction::Youtube {
                    mode: YoutubeMode::Strict,
                },
                "www.youtube.com",
                vec![("YouTube-Restrict", "Strict")],
            ),
        ];
        for (r, host, want) in cases {
            assert!(r.validate().is_ok(), "{r:?}");
            assert!(r.applies_to(host), "{r:?} {host}");
            assert!(!r.applies_to("example.com"));
            let got = names(&r);
            let want: Vec<(String, String)> = want
                .into_iter()
                .map(|(a, b)| (a.into(), b.into()))
                .collect();
            assert_eq!(got, want);
        }
        assert!(TenantRestriction::Google {
            domains: vec!["a.com,b.com".into()]
        }
        .validate()
        .is_err());
        assert!(TenantRestriction::Microsoft {
            tenants: vec!["a.com".into()],
            context: None,
            policy: None
        }
        .validate()
        .is_err());
    }
}
