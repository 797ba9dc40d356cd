//! The captive portal of the transparent gateway: a sign-in page served by
//! the proxy itself at [`LOGIN_PATH`] on whatever host an unidentified
//! client asked for over plain HTTP. The form's POST is answered by the
//! proxy and never forwarded; a correct user name and password (users file
//! or LDAP, as for proxy authentication) bind the client address to the user
//! for `transparent.portal.ttl`.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use crate::auth::{Admission, Identity};
use crate::error_page::escape;
use crate::pipeline::body::{full, ProxyBody};
use crate::pipeline::record::PendingRecord;
use crate::records::{AccessRecord, Listener, Mode};
use crate::state::ProxyState;

/// Where the sign-in page is served, on every plain-HTTP host.
pub const LOGIN_PATH: &str = "/.portcullis/login";

/// The largest sign-in form body accepted.
const MAX_FORM: usize = 8 * 1024;

/// Redirects an unidentified client's request to the sign-in page, keeping
/// where it was going so it can go on there afterwards.
pub(super) fn redirect_to_login(
    state: &Arc<ProxyState>,
    client: SocketAddr,
    host: &str,
    port: u16,
    req: &Request<Incoming>,
) -> Response<ProxyBody> {
    let pending = PendingRecord::new(state.clone(), record(client, host, port, req));
    let back = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("return", back)
        .finish();
    let location = format!("{LOGIN_PATH}?{query}");
    respond(pending, StatusCode::FOUND, Some(&location), None)
}

/// Serves [`LOGIN_PATH`]: the form (GET), or a sign-in attempt (POST).
pub(super) async fn serve(
    state: &Arc<ProxyState>,
    client: SocketAddr,
    host: &str,
    port: u16,
    signed_in: Option<&Identity>,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    let pending = PendingRecord::new(state.clone(), record(client, host, port, &req));
    let back = req
        .uri()
        .query()
        .and_then(|q| field(q.as_bytes(), "return"))
        .unwrap_or_default();
    if let Some(identity) = signed_in {
        let page = page(&format!("Signed in as {}.", identity.user), &back, false);
        return respond(pending, StatusCode::OK, None, Some(page));
    }
    if req.method() != Method::POST {
        let page = page("Sign in to continue.", &back, false);
        return respond(pending, StatusCode::OK, None, Some(page));
    }
    let form = match Limited::new(req.into_body(), MAX_FORM).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let page = page("The sign-in form was too large.", &back, true);
            return respond(pending, StatusCode::PAYLOAD_TOO_LARGE, None, Some(page));
        }
    };
    let user = field(&form, "user").unwrap_or_default();
    let password = field(&form, "password").unwrap_or_default();
    let back = field(&form, "return").unwrap_or(back);
    match state.auth.sign_in(client.ip(), &user, &password).await {
        Admission::Admit(Some(identity)) => {
            let bound = Arc::new(Identity {
                user: identity.user.clone(),
                groups: identity.groups.clone(),
                method: "portal",
            });
            tracing::info!(client = %client.ip(), user = %bound.user, "portal sign-in");
            state.transparent_identity.bind(client.ip(), bound);
            let mut pending = pending;
            pending.record_mut().user = Some(identity.user.clone());
            respond(pending, StatusCode::FOUND, Some(&safe_return(&back)), None)
        }
        Admission::Throttled => {
            let page = page("Too many failed attempts: wait a minute.", &back, true);
            respond(pending, StatusCode::TOO_MANY_REQUESTS, None, Some(page))
        }
        _ => {
            let page = page("Wrong user name or password.", &back, true);
            respond(pending, StatusCode::UNAUTHORIZED, None, Some(page))
        }
    }
}

/// The access record of a portal exchange (the request never leaves the
/// proxy; the query string is not recorded).
fn record(client: SocketAddr, host: &str, port: u16, req: &Request<Incoming>) -> AccessRecord {
    let mut record = AccessRecord::start(
        client,
        req.method().as_str(),
        "http",
        host,
        port,
        req.uri().path(),
        Mode::Plain,
    );
    record.listener = Listener::Transparent;
    record.action = Some("portal");
    record
}

fn respond(
    mut pending: PendingRecord,
    status: StatusCode,
    location: Option<&str>,
    html: Option<String>,
) -> Response<ProxyBody> {
    pending.set_status(status.as_u16());
    pending.complete();
    let mut response = Response::new(full(Bytes::from(html.unwrap_or_default())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(v) = location.and_then(|l| HeaderValue::from_str(l).ok()) {
        headers.insert(header::LOCATION, v);
    }
    response
}

/// The sign-in page.
fn page(message: &str, back: &str, error: bool) -> String {
    let class = if error { " style=\"color:#b00\"" } else { "" };
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Sign in</title></head><body>\
         <h1>Sign in</h1><p{class}>{message}</p>\
         <form method=\"post\" action=\"{LOGIN_PATH}\">\
         <input type=\"hidden\" name=\"return\" value=\"{back}\">\
         <p><label>User <input name=\"user\" autocomplete=\"username\"></label></p>\
         <p><label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\"></label></p>\
         <p><button type=\"submit\">Sign in</button></p></form>\
         <p><small>Portcullis: your organisation's web gateway.</small></p></body></html>\n",
        message = escape(message),
        back = escape(back),
    )
}

/// The value of `name` in a URL-encoded form or query.
fn field(form: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(form)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Where to go after signing in: a path on the same host only (never
/// another site: `//host` and `/\host` are refused), else `/`.
fn safe_return(back: &str) -> String {
    let same_site = back.starts_with('/')
        && !back.starts_with("//")
        && !back.starts_with("/\\")
        && !back.starts_with(LOGIN_PATH)
        && back.parse::<http::uri::PathAndQuery>().is_ok();
    if same_site {
        back.to_owned()
    } else {
        "/".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_stays_on_the_site() {
        for (back, want) in [
            ("/page?q=1", "/page?q=1"),
            ("//evil.test/", "/"),
            ("/\\evil.test", "/"),
            ("https://evil.test/", "/"),
            ("", "/"),
            ("/.portcullis/login", "/"),
        ] {
            assert_eq!(safe_return(back), want, "{back}");
        }
    }

    #[test]
    fn form_fields_are_decoded_and_the_page_escaped() {
        let form = b"user=al%20ice&password=p%26w&return=%2Fx";
        assert_eq!(field(form, "user").as_deref(), Some("al ice"));
        assert_eq!(field(form, "password").as_deref(), Some("p&w"));
        assert_eq!(field(form, "missing"), None);
        let html = page("hi", "\"><script>", false);
        assert!(!html.contains("<script>"));
    }
}
