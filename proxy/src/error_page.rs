//! The proxy's own responses: error and block pages naming the reason and
//! the request id (the access record's reference), as HTML for browsers and
//! JSON for API clients.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};

use crate::pipeline::body::{full, ProxyBody};

/// Header carrying the short machine-readable reason of a proxy-made response.
pub const REASON_HEADER: &str = "x-portcullis-error";
/// Header carrying the request id of the access record.
pub const REQUEST_ID_HEADER: &str = "x-portcullis-request-id";

/// Builds an error response. `wants_html` picks HTML over plain text;
/// `detail` is shown to the user and must not contain secrets.
pub fn render(
    status: u16,
    reason: &str,
    detail: &str,
    request_id: &str,
    wants_html: bool,
) -> Response<ProxyBody> {
    render_block(status, reason, detail, None, request_id, wants_html)
}

/// Like [`render`], naming the app the request was for when known.
pub fn render_block(
    status: u16,
    reason: &str,
    detail: &str,
    app: Option<&str>,
    request_id: &str,
    wants_html: bool,
) -> Response<ProxyBody> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    let (body, content_type) = if wants_html {
        let app_line = app
            .filter(|a| *a != "unknown")
            .map(|a| format!("<p>Application: {}</p>", escape(a)))
            .unwrap_or_default();
        (
            format!(
                "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
                 <body><h1>{t}</h1><p>{r}</p>{app_line}<p>{d}</p>\
                 <p><small>Portcullis reference: {id}</small></p></body></html>\n",
                t = escape(&title),
                r = escape(reason),
                d = escape(detail),
                id = escape(request_id)
            ),
            "text/html; charset=utf-8",
        )
    } else {
        let json = serde_json::json!({
            "error": reason,
            "detail": detail,
            "status": status.as_u16(),
            "app": app,
            "reference": request_id,
        });
        (format!("{json}\n"), "application/json")
    };
    let mut response = Response::new(full(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(reason) {
        headers.insert(REASON_HEADER, v);
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID_HEADER, v);
    }
    response
}

/// True when the request's `Accept` prefers HTML (a browser navigation).
pub fn wants_html(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped_and_headers_set() {
        let r = render(502, "upstream certificate expired", "<x>", "abc", true);
        assert_eq!(r.status(), 502);
        assert_eq!(r.headers()[REASON_HEADER], "upstream certificate expired");
        assert_eq!(r.headers()[REQUEST_ID_HEADER], "abc");
        assert!(r.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
    }
}
