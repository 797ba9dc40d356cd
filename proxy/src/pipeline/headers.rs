//! Header rewriting between hops: hop-by-hop fields (RFC 9110 §7.6.1), the
//! proxy's own credentials, and the authority check against the tunnel.

use http::header::{self, HeaderMap, HeaderName};
use http::Request;

/// Fields that describe one connection and are never forwarded.
const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("proxy-connection"),
    HeaderName::from_static("keep-alive"),
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
    header::PROXY_AUTHENTICATE,
];

/// Removes hop-by-hop fields, and every field the `Connection` header names.
/// `TE: trailers` survives (it is meaningful to the next hop, and the only
/// value HTTP/2 allows). With `keep_upgrade`, `Connection: upgrade` and
/// `Upgrade` are kept for a protocol switch the proxy relays.
pub fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    // One pass over the names first: most messages carry none of these
    // fields, and each removal below is a hashed lookup.
    if !headers
        .keys()
        .any(|name| name == header::TE || HOP_BY_HOP.contains(name))
    {
        return;
    }
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    let upgrade = keep_upgrade
        .then(|| headers.get(header::UPGRADE).cloned())
        .flatten();
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
    let te_trailers = headers
        .get(header::TE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("trailers"))
        });
    headers.remove(header::TE);
    if te_trailers {
        headers.insert(header::TE, http::HeaderValue::from_static("trailers"));
    }
    if let Some(upgrade) = upgrade {
        headers.insert(
            header::CONNECTION,
            http::HeaderValue::from_static("upgrade"),
        );
        headers.insert(header::UPGRADE, upgrade);
    }
}

/// True when `req` asks to switch to WebSocket (HTTP/1.1 `Upgrade: websocket`).
pub fn is_websocket<B>(req: &Request<B>) -> bool {
    req.version() <= http::Version::HTTP_11
        && req
            .headers()
            .get(header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// The authority a request names: the URI's (HTTP/2, absolute form) or the `Host` field's.
pub fn request_authority<B>(req: &Request<B>) -> Option<String> {
    if let Some(a) = req.uri().authority() {
        return Some(a.as_str().to_owned());
    }
    req.headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Splits `authority` into host and optional port (IPv6 literals in brackets).
pub fn split_authority(authority: &str) -> Option<(&str, Option<u16>)> {
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after.strip_prefix(':') {
            Some(p) => Some((host, Some(p.parse().ok()?))),
            None if after.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host, Some(port.parse().ok()?))),
        None => Some((authority, None)),
    }
}

/// True when the request's authority names the tunnel's host and port
/// (the port may be omitted when it is 443). Anything else is domain fronting.
pub fn authority_matches<B>(req: &Request<B>, host: &str, port: u16) -> bool {
    let Some(authority) = request_authority(req) else {
        return false;
    };
    let Some((h, p)) = split_authority(&authority) else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    h.trim_end_matches('.')
        .eq_ignore_ascii_case(host.trim_end_matches('.'))
        && p.unwrap_or(443) == port
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_hop_by_hop_and_connection_named_fields() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            "keep-alive, x-secret-hop".parse().unwrap(),
        );
        h.insert("x-secret-hop", "1".parse().unwrap());
        h.insert("keep-alive", "timeout=5".parse().unwrap());
        h.insert(header::TE, "trailers, deflate".parse().unwrap());
        h.insert(header::PROXY_AUTHORIZATION, "Basic xx".parse().unwrap());
        h.insert("x-end-to-end", "1".parse().unwrap());
        strip_hop_by_hop(&mut h, false);
        let names: Vec<_> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert_eq!(h[header::TE], "trailers");
        assert!(h.contains_key("x-end-to-end"));

        // Each hop-by-hop field alone is found and removed.
        for name in HOP_BY_HOP.iter().chain([&header::TE]) {
            let mut h = HeaderMap::new();
            h.insert(name.clone(), "x".parse().unwrap());
            h.insert("x-end-to-end", "1".parse().unwrap());
            strip_hop_by_hop(&mut h, false);
            assert!(!h.contains_key(name), "{name}");
            assert_eq!(h.len(), 1, "{name}");
        }
        // Nothing to strip: nothing changes.
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "a.example".parse().unwrap());
        h.insert("x-end-to-end", "1".parse().unwrap());
        let before = h.clone();
        strip_hop_by_hop(&mut h, true);
        assert_eq!(h, before);
    }

    #[test]
    fn authorities() {
        let req = |auth: &str| Request::builder().header("host", auth).body(()).unwrap();
        assert!(authority_matches(&req("A.example"), "a.example", 443));
        assert!(authority_matches(&req("a.example:443"), "a.example", 443));
        assert!(!authority_matches(&req("a.example:8443"), "a.example", 443));
        assert!(!authority_matches(&req("b.example"), "a.example", 443));
        assert!(authority_matches(&req("[::1]:8443"), "::1", 8443));
        assert_eq!(split_authority("u@h:1"), Some(("h", Some(1))));
        assert_eq!(split_authority("h:x"), None);
    }
}
