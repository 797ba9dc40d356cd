//! Risk attributes of an app and the documented risk-score formula.
//!
//! # The formula
//!
//! `score = min(100, category_base + Σ attribute_penalty)` where
//!
//! | input | known good | known bad | unknown |
//! |---|---|---|---|
//! | category base ([`Category::base_risk`]) | 10 (privacy-sensitive) … 30 (generative AI, file sharing) | | |
//! | SOC 2 attestation | 0 | 15 | 8 |
//! | ISO/IEC 27001 certification | 0 | 10 | 5 |
//! | encryption at rest | 0 | 15 | 7 |
//! | SSO (SAML/OIDC) | 0 | 10 | 5 |
//! | MFA | 0 | 10 | 5 |
//! | admin audit logs | 0 | 10 | 5 |
//! | publicly known breaches | 0 (none known) | 10 each, at most 20 | 5 |
//!
//! Unknown attributes cost about half of a known failure: an app nobody has
//! assessed scores worse than one assessed as good and better than one
//! assessed as bad. Data-residency regions do not change the score; policies
//! can test them directly. An administrator can pin a score with
//! `risk_score:` in an override file.

use serde::{Deserialize, Serialize};

use super::category::Category;

/// A risk attribute whose value came from a named source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sourced<T> {
    /// The value.
    pub value: T,
    /// Where it came from: the vendor's trust/compliance page or a report.
    pub source: String,
}

/// What a cloud-app risk database records about an app. `None` means
/// unknown: the catalogue leaves attributes out rather than guess.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskAttributes {
    /// SOC 2 (Type II) attestation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soc2: Option<Sourced<bool>>,
    /// ISO/IEC 27001 certification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iso27001: Option<Sourced<bool>>,
    /// Regions where customer data can be kept (e.g. `us`, `eu`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_residency: Option<Sourced<Vec<String>>>,
    /// Customer data encrypted at rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_at_rest: Option<Sourced<bool>>,
    /// Single sign-on (SAML or OIDC) for business accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sso: Option<Sourced<bool>>,
    /// Multi-factor authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa: Option<Sourced<bool>>,
    /// Administrator audit logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_logs: Option<Sourced<bool>>,
    /// Publicly known breaches (short descriptions, e.g. `2012 credential leak`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breaches: Option<Sourced<Vec<String>>>,
}

fn penalty(attr: Option<&Sourced<bool>>, bad: u32, unknown: u32) -> u32 {
    match attr {
        Some(s) if s.value => 0,
        Some(_) => bad,
        None => unknown,
    }
}

impl RiskAttributes {
    /// Every non-null attribute with its name, for integrity checks.
    pub fn sources(&self) -> Vec<(&'static str, &str)> {
        let mut out = Vec::new();
        let bools = [
            ("soc2", &self.soc2),
            ("iso27001", &self.iso27001),
            ("encryption_at_rest", &self.encryption_at_rest),
            ("sso", &self.sso),
            ("mfa", &self.mfa),
            ("audit_logs", &self.audit_logs),
        ];
        for (name, attr) in bools {
            if let Some(s) = attr {
                out.push((name, s.source.as_str()));
            }
        }
        if let Some(s) = &self.data_residency {
            out.push(("data_residency", s.source.as_str()));
        }
        if let Some(s) = &self.breaches {
            out.push(("breaches", s.source.as_str()));
        }
        out
    }

    /// The risk score 0–100 of an app of `category` with these attributes
    /// (see the module documentation for the formula).
    pub fn score(&self, category: Category) -> u8 {
        let breaches = match &self.breaches {
            Some(s) => (10 * s.value.len() as u32).min(20),
            None => 5,
        };
        let total = category.base_risk()
            + penalty(self.soc2.as_ref(), 15, 8)
            + penalty(self.iso27001.as_ref(), 10, 5)
            + penalty(self.encryption_at_rest.as_ref(), 15, 7)
            + penalty(self.sso.as_ref(), 10, 5)
            + penalty(self.mfa.as_ref(), 10, 5)
            + penalty(self.audit_logs.as_ref(), 10, 5)
            + breaches;
        u8::try_from(total.min(100)).unwrap_or(100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yes() -> Option<Sourced<bool>> {
        Some(Sourced {
            value: true,
            source: "https://example.com/trust".into(),
        })
    }

    #[test]
    fn unknown_scores_between_good_and_bad() {
        let unknown = RiskAttributes::default().score(Category::Productivity);
        let good = RiskAttributes {
            soc2: yes(),
            iso27001: yes(),
            encryption_at_rest: yes(),
            sso: yes(),
            mfa: yes(),
            audit_logs: yes(),
            breaches: Some(Sourced {
                value: vec![],
                source: "x".into(),
            }),
            data_residency: None,
        };
        assert_eq!(good.score(Category::Productivity), 15);
        assert_eq!(unknown, 15 + 8 + 5 + 7 + 5 + 5 + 5 + 5);
        let mut bad = good.clone();
        bad.soc2 = Some(Sourced {
            value: false,
            source: "x".into(),
        });
        bad.breaches = Some(Sourced {
            value: vec!["a".into(), "b".into(), "c".into()],
            source: "x".into(),
        });
        assert_eq!(bad.score(Category::Productivity), 15 + 15 + 20);
        assert!(good.score(Category::Productivity) < unknown);
    }
}
