//! Building the policy [`Context`] of a connection and of each request.

use std::net::IpAddr;

use http::HeaderMap;
use policy::classify::{HeaderLookup, RequestInfo};
use policy::context::{DlpHit, DlpVerdict};
use policy::Context;

use super::Inspector;
use crate::auth::Identity;

/// Request headers as the classifier sees them.
pub struct Headers<'a>(pub &'a HeaderMap);

impl HeaderLookup for Headers<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Inspector {
    /// The host-level context of a connection: app facts for `host`, who,
    /// from where, to where, and when.
    pub fn connection_context(
        &self,
        host: &str,
        identity: Option<&Identity>,
        device: policy::context::Device,
        client: IpAddr,
        dest: Option<IpAddr>,
    ) -> Context {
        let mut ctx = self.classifier.context_for_host(host);
        ctx.device = device;
        if let Some(id) = identity {
            ctx.identity.user = Some(id.user.clone());
            ctx.identity.groups = id.groups.clone();
            ctx.identity.auth_method = Some(id.method.to_owned());
        }
        ctx.network.client_ip = Some(client);
        ctx.network.dest_ip = dest;
        self.geo.fill(&mut ctx.network);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        ctx.now_unix = Some(now);
        ctx.local_time = Some(self.zone.local_time(now as i64));
        ctx
    }

    /// Adds one request's facts (app, instance, activity) to a copy of the
    /// connection context.
    pub fn request_context(
        &self,
        connection: &Context,
        method: &str,
        host: &str,
        path: &str,
        headers: &HeaderMap,
    ) -> Context {
        let mut ctx = connection.clone();
        let headers = Headers(headers);
        self.classifier.fill_request(
            &mut ctx,
            &RequestInfo {
                method,
                host,
                path,
                headers: &headers,
            },
        );
        ctx
    }
}

/// The DLP verdict of a set of findings: counts per rule with categories.
pub fn verdict(findings: &[dlp::Finding]) -> DlpVerdict {
    let mut hits: Vec<DlpHit> = Vec::new();
    for f in findings {
        match hits.iter_mut().find(|h| *h.rule_id == *f.rule) {
            Some(h) => h.count += 1,
            None => hits.push(DlpHit {
                rule_id: f.rule.to_string(),
                category: f.category.as_str().to_owned(),
                count: 1,
            }),
        }
    }
    DlpVerdict { hits }
}
