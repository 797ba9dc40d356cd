//! Closed vocabularies of the catalogue: app categories, review statuses and
//! request activities. Policies name these; unknown names are errors.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name used in YAML and JSON.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(
                        "unknown {} `{other}`; expected one of: {}",
                        stringify!($name).to_lowercase(),
                        [$($text),+].join(", ")
                    )),
                }
            }
        }
    };
}

vocabulary! {
    /// What kind of service an app is.
    Category {
        /// Consumer and business file transfer and sharing (WeTransfer, Box…).
        FileSharing => "file_sharing",
        /// Cloud storage and backup (Google Drive, OneDrive, MEGA…).
        Storage => "storage",
        /// Team collaboration suites and wikis (Notion, Confluence, Miro…).
        Collaboration => "collaboration",
        /// Office suites and document editors.
        Productivity => "productivity",
        /// Web mail and mail services.
        Email => "email",
        /// Chat and instant messaging.
        Messaging => "messaging",
        /// Video and voice meetings.
        VideoConferencing => "video_conferencing",
        /// Customer relationship management.
        Crm => "crm",
        /// Human resources and payroll.
        Hr => "hr",
        /// Accounting, ERP, expenses and procurement.
        FinanceErp => "finance_erp",
        /// Developer tools, CI/CD, package registries, observability.
        DeveloperTools => "developer_tools",
        /// Source code hosting.
        CodeHosting => "code_hosting",
        /// Generative AI assistants and model APIs.
        GenerativeAi => "generative_ai",
        /// Social networks.
        Social => "social",
        /// Project and work management.
        ProjectManagement => "project_management",
        /// Marketing, advertising and analytics.
        Marketing => "marketing",
        /// Customer support and help desks.
        CustomerSupport => "customer_support",
        /// Design and whiteboarding.
        Design => "design",
        /// Electronic signature.
        ESignature => "e_signature",
        /// Password managers and identity providers.
        Identity => "identity",
        /// Security products.
        Security => "security",
        /// IT service management and remote access.
        ItManagement => "it_management",
        /// Cloud infrastructure and hosting platforms.
        CloudInfrastructure => "cloud_infrastructure",
        /// Video and audio streaming.
        Streaming => "streaming",
        /// Online translation.
        Translation => "translation",
        /// Education and e-learning.
        Education => "education",
        /// Shopping and marketplaces.
        Ecommerce => "ecommerce",
        /// Search engines and news.
        SearchNews => "search_news",
        /// Travel and expenses booking.
        Travel => "travel",
        /// Banks, brokers, payment and personal finance (privacy-sensitive).
        BankingFinance => "banking_finance",
        /// Health care and health insurance (privacy-sensitive).
        Health => "health",
        /// Government services (privacy-sensitive).
        Government => "government",
    }
}

impl Category {
    /// Categories whose traffic is commonly exempted from TLS inspection for
    /// privacy or legal reasons (banking and finance, health, government).
    pub fn is_privacy_sensitive(self) -> bool {
        matches!(self, Self::BankingFinance | Self::Health | Self::Government)
    }

    /// The category's contribution to the risk score (see [`crate::catalog::risk`]).
    pub fn base_risk(self) -> u32 {
        match self {
            Self::GenerativeAi | Self::FileSharing => 30,
            Self::Storage | Self::Social | Self::Messaging | Self::Translation => 25,
            Self::Email | Self::CodeHosting | Self::Collaboration | Self::Streaming => 20,
            Self::Ecommerce | Self::SearchNews | Self::Travel | Self::Education => 15,
            Self::BankingFinance | Self::Health | Self::Government => 10,
            _ => 15,
        }
    }
}

vocabulary! {
    /// The administrator's verdict on an app.
    AppStatus {
        /// Approved for corporate use.
        Sanctioned => "sanctioned",
        /// Not approved but allowed.
        Tolerated => "tolerated",
        /// Not allowed.
        Unsanctioned => "unsanctioned",
        /// Nobody has looked yet (the default).
        Unreviewed => "unreviewed",
    }
}

#[allow(clippy::derivable_impls)] // the enum is macro-generated
impl Default for AppStatus {
    fn default() -> Self {
        Self::Unreviewed
    }
}

vocabulary! {
    /// What a request does inside an app.
    Activity {
        /// Signing in.
        Login => "login",
        /// Sending a file or document to the app.
        Upload => "upload",
        /// Fetching a file from the app.
        Download => "download",
        /// Sharing an item with someone (link or invitation).
        Share => "share",
        /// Posting a message, prompt or comment.
        Post => "post",
        /// Deleting an item.
        Delete => "delete",
        /// Editing an item in place.
        Edit => "edit",
    }
}
