//! Who may ask: the `Host` allow-list and the same-origin rule for `POST`.
//!
//! The server listens on loopback by default, but a browser will still carry requests to it
//! from anywhere: a web page can `POST` to `http://127.0.0.1:8080/predict` (a cross-site
//! request), and a page on a name the attacker controls can re-point that name at 127.0.0.1
//! (DNS rebinding) and then read the answers as its own origin. Two checks close both:
//!
//! * **The `Host` must name this server**: the bound address, `localhost`, `127.0.0.1` or
//!   `[::1]` (any port), or a name given with `--allow-host`. A rebound name arrives as its own
//!   `Host` and is answered 421 Misdirected Request.
//! * **A `POST` from a browser must come from the app's own origin**: a request carrying an
//!   `Origin` header (browsers send it on every cross-origin request and on every `POST`) must
//!   name `http://` + its own `Host`, or it is answered 403. Clients that are not browsers send
//!   no `Origin` and are not affected.

use warp::http::header::{HOST, ORIGIN};
use warp::http::{Method, StatusCode};

/// The host names a request may use (lower case, IPv6 addresses in brackets).
pub(super) struct Guard {
    names: Vec<String>,
}

impl Guard {
    /// `localhost`, `127.0.0.1`, `[::1]`, the bound address and each of `extra`.
    pub(super) fn new(bound: std::net::SocketAddr, extra: &[String]) -> Guard {
        let bound = match bound.ip() {
            std::net::IpAddr::V4(ip) => ip.to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        };
        let mut names: Vec<String> = ["localhost", "127.0.0.1", "[::1]"].iter().map(|s| s.to_string()).collect();
        names.extend(std::iter::once(bound).chain(extra.iter().cloned()).map(|n| n.to_ascii_lowercase()));
        names.dedup();
        Guard { names }
    }

    /// `Ok` if the request may reach the app; otherwise the status and the JSON error.
    pub(super) fn check<B>(&self, request: &warp::http::Request<B>) -> Result<(), (StatusCode, String)> {
        let headers = request.headers();
        let host = headers.get(HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
        if !self.names.iter().any(|name| *name == host_name(host).to_ascii_lowercase()) {
            let message = format!(
                "Host '{host}' is not this server: expected one of {} (with any port); \
                 start the server with --allow-host NAME to serve another name",
                self.names.join(", ")
            );
            return Err((StatusCode::MISDIRECTED_REQUEST, super::routes::error_json(&message)));
        }
        let reads = request.method() == Method::GET || request.method() == Method::HEAD;
        if let Some(origin) = headers.get(ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            if !reads && !origin.eq_ignore_ascii_case(&format!("http://{host}")) {
                let message = format!(
                    "cross-origin {} refused: Origin '{origin}' is not this app's (http://{host})",
                    request.method()
                );
                return Err((StatusCode::FORBIDDEN, super::routes::error_json(&message)));
            }
        }
        Ok(())
    }
}

/// The name part of a `Host` header: `[::1]:8080` → `[::1]`, `localhost:8080` → `localhost`.
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}
