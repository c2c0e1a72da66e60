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

use super::routes::clipped;

/// The host names a request may use (lower case, IPv6 addresses in brackets).
pub(super) struct Guard {
    names: Vec<String>,
}

impl Guard {
    /// `localhost`, `127.0.0.1`, `[::1]`, the bound address and each of `extra`, each once, in
    /// that order (the 421 answer lists them).
    pub(super) fn new(bound: std::net::SocketAddr, extra: &[String]) -> Guard {
        let bound = match bound.ip() {
            std::net::IpAddr::V4(ip) => ip.to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        };
        let mut names: Vec<String> = Vec::new();
        let all = ["localhost", "127.0.0.1", "[::1]"]
            .map(String::from)
            .into_iter()
            .chain([bound])
            .chain(extra.iter().cloned());
        for name in all.map(|n| n.to_ascii_lowercase()) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        Guard { names }
    }

    /// `Ok` if the request may reach the app; otherwise the status and the JSON error.
    pub(super) fn check<B>(&self, request: &warp::http::Request<B>) -> Result<(), (StatusCode, String)> {
        let headers = request.headers();
        // A request in absolute form (`GET http://name/ HTTP/1.1`, as sent to a proxy) names its
        // host in the target, and that is the host it is for, whatever its `Host` header says
        // (RFC 9112, section 3.2.2).
        let host = match request.uri().authority() {
            Some(authority) => authority.as_str(),
            None => headers.get(HOST).and_then(|h| h.to_str().ok()).unwrap_or(""),
        };
        if !self.names.iter().any(|name| *name == host_name(host).to_ascii_lowercase()) {
            let message = format!(
                "Host '{}' is not this server: expected one of {} (with any port); \
                 start the server with --allow-host NAME to serve another name",
                clipped(host),
                self.names.join(", ")
            );
            return Err((StatusCode::MISDIRECTED_REQUEST, super::routes::error_json(&message)));
        }
        let reads = request.method() == Method::GET || request.method() == Method::HEAD;
        if let Some(origin) = headers.get(ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            if !reads && !origin.eq_ignore_ascii_case(&format!("http://{host}")) {
                let message = format!(
                    "cross-origin {} refused: Origin '{}' is not this app's (http://{})",
                    request.method(),
                    clipped(origin),
                    clipped(host)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(guard: &Guard, host: &str) -> String {
        let request = warp::http::Request::get("/").header(HOST, host).body(()).unwrap();
        let (status, body) = guard.check(&request).unwrap_err();
        assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        value["error"].as_str().unwrap().to_string()
    }

    #[test]
    fn the_421_lists_each_allowed_name_once_in_order() {
        let rest = "(with any port); start the server with --allow-host NAME to serve another name";
        let loopback = Guard::new("127.0.0.1:8080".parse().unwrap(), &[]);
        assert_eq!(
            refusal(&loopback, "evil.com"),
            format!("Host 'evil.com' is not this server: expected one of localhost, 127.0.0.1, [::1] {rest}")
        );
        // Duplicates anywhere, in any case, are listed once where they first appear.
        let extra = ["my.lan", "LOCALHOST", "My.Lan", "[::1]", "10.0.0.2"].map(String::from);
        let guard = Guard::new("10.0.0.2:80".parse().unwrap(), &extra);
        assert_eq!(
            refusal(&guard, "evil.com:80"),
            format!(
                "Host 'evil.com:80' is not this server: \
                 expected one of localhost, 127.0.0.1, [::1], 10.0.0.2, my.lan {rest}"
            )
        );
        assert!(guard.check(&warp::http::Request::get("/").header(HOST, "MY.LAN:8080").body(()).unwrap()).is_ok());
        // A request in absolute form is for the host its target names, not its Host header's.
        let absolute = |uri: &str| warp::http::Request::get(uri).header(HOST, "localhost").body(()).unwrap();
        let (status, _) = loopback.check(&absolute("http://evil.com/")).unwrap_err();
        assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
        assert!(loopback.check(&absolute("http://127.0.0.1:8080/")).is_ok());
        // A long Host is echoed in 40 characters.
        let long = "a".repeat(5000);
        assert!(refusal(&loopback, &long).starts_with(&format!("Host '{}…' is not this server", &long[..40])));
    }
}
