//! `mnistlearn serve`: the flags turned into an address and [`crate::serve::Limits`]; the server
//! itself is [`crate::serve`].

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;

use super::args::Args;
use crate::Error;

pub(super) fn run_serve(args: &Args) -> Result<(), Error> {
    let level = args.simd()?;
    let addr_text = args.raw("--addr").unwrap_or("127.0.0.1:8080");
    // Host names resolve (`localhost:8080`); the first address the resolver gives is used.
    let expected = || args.usage(format!("--addr: expected HOST:PORT such as 127.0.0.1:8080, got '{addr_text}'"));
    let addr: SocketAddr = addr_text.to_socket_addrs().map_err(|_| expected())?.next().ok_or_else(expected)?;
    let weights_path = args.path("--weights", "data/weights.bin");
    let defaults = crate::serve::Limits::default();
    let seconds = |name: &str, default: std::time::Duration| -> Result<std::time::Duration, Error> {
        let ok = |v: &f64| v.is_finite() && (0.001..=86_400.0).contains(v);
        let value = args.number(name, default.as_secs_f64(), "a number of seconds from 0.001 to 86400", ok)?;
        Ok(std::time::Duration::from_secs_f64(value))
    };
    let limits = crate::serve::Limits {
        header_timeout: seconds("--header-timeout", defaults.header_timeout)?,
        idle_timeout: seconds("--idle-timeout", defaults.idle_timeout)?,
        body_timeout: seconds("--body-timeout", defaults.body_timeout)?,
        max_connections: args.number(
            "--max-connections",
            defaults.max_connections,
            "a connection count from 1 to 65536",
            |&n| (1..=65_536).contains(&n),
        )?,
    };
    let allow_hosts = allow_hosts(args)?;
    let data_dir = args.path("--data", "data");
    crate::serve::run_with_limits(addr, Path::new(&weights_path), &data_dir, level, limits, &allow_hosts)
}

/// `--allow-host a.lan,b.lan`: host names (letters, digits, `-` and `.`) or bracketed IPv6
/// addresses, without a port.
fn allow_hosts(args: &Args) -> Result<Vec<String>, Error> {
    let Some(list) = args.raw("--allow-host") else { return Ok(Vec::new()) };
    let name_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
    let ipv6 = |n: &str| {
        n.strip_prefix('[').and_then(|n| n.strip_suffix(']')).is_some_and(|a| a.parse::<std::net::Ipv6Addr>().is_ok())
    };
    list.split(',')
        .map(|name| {
            if (!name.is_empty() && name.chars().all(name_char)) || ipv6(name) {
                Ok(name.to_ascii_lowercase())
            } else {
                Err(args.usage(format!(
                    "--allow-host: expected host names such as my-box.lan or [fe80::1], comma-separated, without a port; got '{name}'"
                )))
            }
        })
        .collect()
}
