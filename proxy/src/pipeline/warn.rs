//! The warn action: the user sees a page explaining the policy and must
//! acknowledge it; the acknowledgement is remembered per user (or client
//! address) and app for the rule's TTL.
//!
//! The page links to [`ACK_PATH`] on the same host with a single-use random
//! token. That request is answered by the proxy itself (never forwarded):
//! the token must have been offered to the same user, and the redirect
//! target must be a local path (no open redirect).

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use moka::sync::Cache;
use policy::WarnKey;

use super::body::{full, ProxyBody};
use crate::error_page::escape;

/// The path the acknowledgement link points to.
pub const ACK_PATH: &str = "/.portcullis/acknowledge";

/// Offered tokens and remembered acknowledgements.
pub struct Acknowledgements {
    acks: Cache<WarnKey, Instant>,
    offers: Cache<String, (WarnKey, Duration)>,
}

impl Default for Acknowledgements {
    fn default() -> Self {
        Self {
            acks: Cache::builder().max_capacity(1_000_000).build(),
            offers: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(600))
                .build(),
        }
    }
}

impl std::fmt::Debug for Acknowledgements {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acknowledgements").finish_non_exhaustive()
    }
}

impl Acknowledgements {
    /// True while an acknowledgement for `key` is in force.
    pub fn is_acknowledged(&self, key: &WarnKey) -> bool {
        self.acks
            .get(key)
            .is_some_and(|until| until > Instant::now())
    }

    /// A single-use token to acknowledge `key` for `ttl`.
    pub fn offer(&self, key: WarnKey, ttl: Duration) -> String {
        let token = format!("{:032x}", rand::random::<u128>());
        self.offers.insert(token.clone(), (key, ttl));
        token
    }

    /// Redeems `token` for `user`; true when it was offered to that user.
    pub fn accept(&self, token: &str, user: &str) -> bool {
        match self.offers.remove(token) {
            Some((key, ttl)) if key.user == user => {
                self.acks.insert(key, Instant::now() + ttl);
                true
            }
            _ => false,
        }
    }
}

/// The query parameters of an acknowledgement request: token and next path.
pub fn parse_ack_query(query: &str) -> Option<(String, String)> {
    let mut token = None;
    let mut next = None;
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=')?;
        let v = percent_decode(v)?;
        match k {
            "token" => token = Some(v),
            "next" => next = Some(v),
            _ => {}
        }
    }
    let next = next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))?;
    Some((token?, next))
}

fn percent_decode(v: &str) -> Option<String> {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn percent_encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The warn page: the reason, the app, and the acknowledgement link.
pub fn page(
    reason: &str,
    app: &str,
    token: &str,
    next: &str,
    request_id: &str,
    html: bool,
) -> Response<ProxyBody> {
    let link = format!("{ACK_PATH}?token={token}&next={}", percent_encode(next));
    let (body, content_type) = if html {
        (
            format!(
                "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Before you continue</title></head>\
                 <body><h1>Before you continue</h1><p>{}</p><p>Application: {}</p>\
                 <p><a href=\"{}\">I understand, continue</a></p>\
                 <p><small>Portcullis reference: {}</small></p></body></html>\n",
                escape(reason),
                escape(app),
                escape(&link),
                escape(request_id)
            ),
            "text/html; charset=utf-8",
        )
    } else {
        let json = serde_json::json!({
            "error": "acknowledgement required",
            "detail": reason,
            "app": app,
            "acknowledge_url": link,
            "reference": request_id,
        });
        (format!("{json}\n"), "application/json")
    };
    let mut r = Response::new(full(Bytes::from(body)));
    *r.status_mut() = StatusCode::FORBIDDEN;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The answer to a redeemed acknowledgement: back to where the user was going.
pub fn redirect(next: &str) -> Response<ProxyBody> {
    let mut r = Response::new(super::body::empty());
    *r.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(next) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_single_use_and_bound_to_the_user() {
        let acks = Acknowledgements::default();
        let key = WarnKey {
            user: "alice".into(),
            app: "dropbox".into(),
        };
        let t = acks.offer(key.clone(), Duration::from_secs(60));
        assert!(!acks.accept(&t, "mallory"));
        let t = acks.offer(key.clone(), Duration::from_secs(60));
        assert!(!acks.is_acknowledged(&key));
        assert!(acks.accept(&t, "alice"));
        assert!(acks.is_acknowledged(&key));
        assert!(!acks.accept(&t, "alice"), "single use");
    }

    #[test]
    fn next_must_be_a_local_path() {
        assert_eq!(
            parse_ack_query("token=ab&next=%2Fdocs%3Fa%3D1"),
            Some(("ab".into(), "/docs?a=1".into()))
        );
        assert_eq!(parse_ack_query("token=ab&next=https://evil.example/"), None);
        assert_eq!(parse_ack_query("token=ab&next=//evil.example/"), None);
        assert_eq!(parse_ack_query("next=/x"), None);
    }
}
