//! `cargo xtask fetch [--mirror DIR|file://DIR|https://HOST/PATH/] [--dest DIR]`
//!
//! Puts the four official MNIST files into `data/` (gzipped, as the mirrors serve them) and
//! checks the SHA-256 of their *decompressed* bytes — the gzip wrappers differ between mirrors,
//! the contents must not. A local mirror (a directory or a `file://` URL, by `--mirror` or the
//! `MNIST_MIRROR` environment variable) is used instead of the network; otherwise the public
//! mirrors are tried in order.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::Command;

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};

/// The official files and the SHA-256 of their decompressed contents.
pub const FILES: [(&str, &str); 4] = [
    ("train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    ("train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    ("t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    ("t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
];

/// Public mirrors of the original gzipped files, tried in order.
pub const PUBLIC_MIRRORS: [&str; 3] = [
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
];

pub struct FetchOptions {
    pub mirror: Option<String>,
    pub dest: PathBuf,
}

impl FetchOptions {
    pub fn parse(args: &[String]) -> Result<FetchOptions, String> {
        let mut options = FetchOptions {
            mirror: std::env::var("MNIST_MIRROR").ok().filter(|m| !m.is_empty()),
            dest: crate::paths::project_root().join("data"),
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || it.next().cloned().ok_or_else(|| format!("fetch: {flag} needs a value"));
            match flag.as_str() {
                "--mirror" => options.mirror = Some(value()?),
                "--dest" => options.dest = PathBuf::from(value()?),
                other => {
                    return Err(format!(
                    "fetch: unknown flag '{other}' (expected --mirror M or --dest DIR; see `cargo xtask fetch --help`)"
                ))
                }
            }
        }
        Ok(options)
    }
}

pub fn run(args: &[String]) -> Result<(), String> {
    fetch(&FetchOptions::parse(args)?)
}

/// SHA-256 (hex) of a file's contents, decompressed if it is gzipped.
pub fn content_sha256(path: &Path) -> io::Result<String> {
    content_sha256_and_gzip(path).map(|(sha, _)| sha)
}

/// [`content_sha256`], and whether the file was gzip (by its magic bytes, not its name).
fn content_sha256_and_gzip(path: &Path) -> io::Result<(String, bool)> {
    let mut file = io::BufReader::new(fs::File::open(path)?);
    let mut head = [0u8; 2];
    let n = file.read(&mut head)?;
    let chained = io::Cursor::new(head[..n].to_vec()).chain(file);
    let gzip = n == 2 && head == [0x1f, 0x8b];
    let mut reader: Box<dyn Read> = if gzip { Box::new(GzDecoder::new(chained)) } else { Box::new(chained) };
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let got = reader.read(&mut buf)?;
        if got == 0 {
            break;
        }
        hasher.update(&buf[..got]);
    }
    Ok((hex(&hasher.finalize()), gzip))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A file already in `dest` (raw, or gzipped as `.gz`) with the right contents, if any. A raw
/// file under the `.gz` name (as `fetch` before 71f5e0c stored a raw mirror's files) does not
/// count: the NumPy scripts and `gzip -dc` trust the name, so it is fetched again, and replaced.
fn existing_good(dest: &Path, name: &str, sha: &str) -> Option<PathBuf> {
    let good = |p: &Path, named_gz: bool| {
        p.exists() && content_sha256_and_gzip(p).is_ok_and(|(h, gzip)| h == sha && (gzip || !named_gz))
    };
    [(dest.join(name), false), (dest.join(format!("{name}.gz")), true)]
        .into_iter()
        .find(|(p, named_gz)| good(p, *named_gz))
        .map(|(p, _)| p)
}

pub fn fetch(options: &FetchOptions) -> Result<(), String> {
    fs::create_dir_all(&options.dest).map_err(|e| format!("{}: {e}", options.dest.display()))?;
    for (name, sha) in FILES {
        if let Some(found) = existing_good(&options.dest, name, sha) {
            println!("fetch: {} present, checksum ok", found.display());
            continue;
        }
        let target = options.dest.join(format!("{name}.gz"));
        let temp = options.dest.join(format!(".{name}.gz.part"));
        let source = download(options.mirror.as_deref(), name, &temp)?;
        match content_sha256(&temp) {
            Ok(h) if h == sha => {}
            Ok(h) => {
                let _ = fs::remove_file(&temp);
                return Err(format!("{source}: SHA-256 of the decompressed contents is {h}, expected {sha}"));
            }
            Err(e) => {
                let _ = fs::remove_file(&temp);
                return Err(format!("{source}: cannot read as gzip/IDX: {e}"));
            }
        }
        fs::rename(&temp, &target).map_err(|e| format!("{}: {e}", target.display()))?;
        println!("fetch: {} from {source}, checksum ok", target.display());
    }
    Ok(())
}

/// Writes `name.gz` from the mirror to `temp` (a raw file gzipped); returns where it came from.
fn download(mirror: Option<&str>, name: &str, temp: &Path) -> Result<String, String> {
    if let Some(m) = mirror {
        if m.starts_with("http://") || m.starts_with("https://") {
            let base = if m.ends_with('/') { m.to_string() } else { format!("{m}/") };
            let url = format!("{base}{name}.gz");
            println!("fetch: downloading {url}");
            return download_http(&url, temp).map_err(|failure| match failure {
                HttpFailure::Network(reason) => {
                    format!("fetch: mirror {m}: {reason}; offline, set MNIST_MIRROR=DIR to a local copy")
                }
                HttpFailure::Local(message) => message,
            });
        }
        let dir = local_mirror(m)?;
        if !dir.is_dir() {
            return Err(format!(
                "mirror {m}: {} is not a directory (expected a directory or file:// URL holding the MNIST files)",
                dir.display()
            ));
        }
        for (candidate, raw) in [(dir.join(format!("{name}.gz")), false), (dir.join(name), true)] {
            if candidate.exists() {
                // A byte copy, not `fs::copy`: that would carry over a read-only mirror's mode. A
                // raw IDX file is gzipped on the way, so `data/NAME.gz` is always gzip (as
                // `scripts/download_mnist.sh` does it): the NumPy scripts and `gzip -dc` trust
                // the name.
                let copy = |e: io::Error| format!("{} → {}: {e}", candidate.display(), temp.display());
                let mut source = fs::File::open(&candidate).map_err(copy)?;
                let target = fs::File::create(temp).map_err(copy)?;
                if raw {
                    let mut gz = GzEncoder::new(io::BufWriter::new(target), Compression::default());
                    io::copy(&mut source, &mut gz).map_err(copy)?;
                    gz.finish().and_then(|w| w.into_inner().map_err(|e| e.into_error())).map_err(copy)?;
                } else {
                    io::copy(&mut source, &mut { target }).map_err(copy)?;
                }
                return Ok(candidate.display().to_string());
            }
        }
        return Err(format!("mirror {m}: has neither {name}.gz nor {name}"));
    }
    // One short line when no mirror answers (offline, or a firewall): each host once, with the
    // kind of failure, and what to do about it (the full messages repeat the whole URL and run
    // to ~300 characters each).
    let mut failures: Vec<(String, String)> = Vec::new();
    for base in PUBLIC_MIRRORS {
        let url = format!("{base}{name}.gz");
        println!("fetch: downloading {url}");
        match download_http(&url, temp) {
            Ok(source) => return Ok(source),
            Err(HttpFailure::Network(reason)) => failures.push((host(base).to_string(), reason)),
            Err(HttpFailure::Local(message)) => return Err(message),
        }
    }
    Err(format!(
        "fetch: {name}.gz: no mirror reachable ({}); offline, set MNIST_MIRROR=DIR to a local copy",
        summarize(&failures)
    ))
}

/// The directory a local mirror names: a path as it is, or a `file://` URL's path with its
/// `%XX` escapes decoded (`file:///srv/my%20mirror` is `/srv/my mirror`, as a browser or
/// `curl` reads it); `file://localhost/PATH` is `/PATH`, and a URL naming another host is refused.
fn local_mirror(m: &str) -> Result<PathBuf, String> {
    use std::os::unix::ffi::OsStrExt;
    let Some(rest) = m.strip_prefix("file://") else {
        return Ok(PathBuf::from(m));
    };
    let path = rest.strip_prefix("localhost").filter(|p| p.starts_with('/')).unwrap_or(rest);
    if !path.starts_with('/') {
        return Err(format!(
            "mirror {m}: a file:// URL on another host (expected file:///PATH, file://localhost/PATH or a directory)"
        ));
    }
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(path).collect();
    Ok(PathBuf::from(std::ffi::OsStr::from_bytes(&bytes)))
}

/// `cargo xtask ci`'s check of `scripts/download_mnist.sh`, the way to MNIST without cargo: run
/// it offline on the files `verify` left in `data/`, named by a `file://` URL through a directory
/// whose name has a space (`my%20mirror`), into a new directory, and find the four files there,
/// each checked by the script against the official checksums.
/// (A step of `ci`, which gives it no arguments; it takes `&[String]` to sit beside the commands.)
pub fn check_download_script(_args: &[String]) -> Result<(), String> {
    let root = crate::paths::project_root();
    let data = root.join("data");
    let scratch = tempfile::tempdir().map_err(|e| format!("download script: a temporary directory: {e}"))?;
    let mirror = scratch.path().join("my mirror");
    std::os::unix::fs::symlink(&data, &mirror).map_err(|e| format!("download script: {}: {e}", mirror.display()))?;
    let url = format!("file://{}/my%20mirror", scratch.path().display());
    let dest = scratch.path().join("out");
    let status = Command::new("bash")
        .arg(root.join("scripts/download_mnist.sh"))
        .arg(&dest)
        .env("MNIST_MIRROR", &url)
        .status()
        .map_err(|e| format!("download script: cannot run bash: {e}"))?;
    if !status.success() {
        return Err(format!("download script: MNIST_MIRROR={url} scripts/download_mnist.sh failed ({status})"));
    }
    for (name, _) in FILES {
        let file = dest.join(format!("{name}.gz"));
        if !file.is_file() {
            return Err(format!("download script: {} is missing after a run that succeeded", file.display()));
        }
    }
    println!("download script: the four files from {url}, checksums verified");
    Ok(())
}

/// `storage.googleapis.com` from `https://storage.googleapis.com/cvdf-datasets/mnist/`.
fn host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

/// `a, b: dns failed; c: HTTP 404`, or just `dns failed` when every host failed the same way.
fn summarize(failures: &[(String, String)]) -> String {
    let mut reasons: Vec<&str> = failures.iter().map(|(_, r)| r.as_str()).collect();
    reasons.dedup();
    if reasons.len() == 1 {
        return format!("{} tried: {}", failures.len(), reasons[0]);
    }
    failures.iter().map(|(h, r)| format!("{h}: {r}")).collect::<Vec<_>>().join("; ")
}

enum HttpFailure {
    /// The mirror could not be reached or refused the file: try the next one.
    Network(String),
    /// Writing the download went wrong here: no other mirror will help.
    Local(String),
}

/// Downloads `url` to `temp` with the system's `curl`. Not an HTTP crate: a TLS stack (rustls and
/// ring, with its C build) was about a sixth of the workspace's clean compile — paid by every
/// `cargo test` — for four downloads that CI never makes (it copies from a local mirror), and
/// curl is on every Linux, macOS and Windows 10+ machine.
fn download_http(url: &str, temp: &Path) -> Result<String, HttpFailure> {
    // Bounded waits: an address that drops packets must not hold `fetch` for minutes.
    let output = Command::new("curl")
        .args(["--fail", "--location", "--silent", "--show-error", "--connect-timeout", "15"])
        .args(["--speed-limit", "1", "--speed-time", "60", "--write-out", "%{http_code}", "--output"])
        .arg(temp)
        .arg(url)
        .output();
    let output = match output {
        Ok(output) => output,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(HttpFailure::Local(
                "fetch: downloading needs `curl` on the PATH; or set MNIST_MIRROR=DIR to a local copy".into(),
            ))
        }
        Err(e) => return Err(HttpFailure::Local(format!("fetch: cannot run curl: {e}"))),
    };
    if output.status.success() {
        return Ok(url.to_string());
    }
    let _ = fs::remove_file(temp);
    let http_code = String::from_utf8_lossy(&output.stdout).trim().to_string();
    Err(HttpFailure::Network(curl_reason(output.status.code(), &http_code)))
}

/// A short reason for a failed curl run, from its exit code (curl(1), "EXIT CODES").
fn curl_reason(exit: Option<i32>, http_code: &str) -> String {
    match exit {
        Some(6) => "DNS lookup failed".into(),
        Some(7) => "connection failed".into(),
        Some(22) => format!("HTTP {http_code}"),
        Some(28) => "timed out".into(),
        Some(35 | 60) => "TLS handshake failed".into(),
        Some(code) => format!("curl exit code {code}"),
        None => "curl was killed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ci`'s step alone, on the files in `data/` (`cargo xtask fetch` first):
    /// `cargo test -p xtask -- --ignored the_download_script`.
    #[test]
    #[ignore = "needs MNIST in data/"]
    fn the_download_script_reads_a_file_url_with_an_escaped_space() {
        check_download_script(&[]).unwrap();
    }

    #[test]
    fn a_file_url_is_decoded_as_a_url() {
        assert_eq!(local_mirror("/srv/my%20mirror").unwrap(), Path::new("/srv/my%20mirror"));
        assert_eq!(local_mirror("file:///srv/my%20mirror/").unwrap(), Path::new("/srv/my mirror/"));
        assert_eq!(local_mirror("file://localhost/srv/m%C3%A9").unwrap(), Path::new("/srv/mé"));
        assert_eq!(local_mirror("file:///srv/plain").unwrap(), Path::new("/srv/plain"));
        let other = local_mirror("file://server/share").unwrap_err();
        assert!(other.contains("another host") && other.contains("file:///PATH"), "{other}");
        // End to end: a mirror directory with a space, named by its URL.
        let root = tempfile::tempdir().unwrap();
        let mirror = root.path().join("my mirror");
        fs::create_dir(&mirror).unwrap();
        fs::write(mirror.join("t10k-labels-idx1-ubyte.gz"), b"x").unwrap();
        let url = format!("file://{}", root.path().join("my%20mirror").display());
        download(Some(&url), "t10k-labels-idx1-ubyte", &root.path().join("part")).unwrap();
    }

    #[test]
    fn a_raw_file_under_the_gz_name_is_not_taken_as_present() {
        let dest = tempfile::tempdir().unwrap();
        let contents = b"\0\0\x08\x01\0\0\0\x03\x07\x02\x01";
        let sha = hex(&Sha256::digest(contents));
        let name = "t10k-labels-idx1-ubyte";
        let gz = dest.path().join(format!("{name}.gz"));
        fs::write(&gz, contents).unwrap();
        assert_eq!(existing_good(dest.path(), name, &sha), None, "raw bytes named .gz");
        let mut packed = GzEncoder::new(Vec::new(), Compression::default());
        io::Write::write_all(&mut packed, contents).unwrap();
        fs::write(&gz, packed.finish().unwrap()).unwrap();
        assert_eq!(existing_good(dest.path(), name, &sha), Some(gz.clone()));
        fs::remove_file(&gz).unwrap();
        fs::write(dest.path().join(name), contents).unwrap();
        assert_eq!(existing_good(dest.path(), name, &sha), Some(dest.path().join(name)), "a raw file by its raw name");
    }

    #[test]
    fn a_raw_file_from_a_local_mirror_is_stored_gzipped() {
        let mirror = tempfile::tempdir().unwrap();
        let contents = b"\0\0\x08\x01\0\0\0\x03\x07\x02\x01";
        fs::write(mirror.path().join("t10k-labels-idx1-ubyte"), contents).unwrap();
        let dest = tempfile::tempdir().unwrap();
        let temp = dest.path().join("part");
        let source = download(Some(mirror.path().to_str().unwrap()), "t10k-labels-idx1-ubyte", &temp).unwrap();
        assert!(source.ends_with("t10k-labels-idx1-ubyte"), "{source}");
        let stored = fs::read(&temp).unwrap();
        assert_eq!(stored[..2], [0x1f, 0x8b], "a raw mirror file must be gzipped into NAME.gz");
        let mut unpacked = Vec::new();
        GzDecoder::new(&stored[..]).read_to_end(&mut unpacked).unwrap();
        assert_eq!(unpacked, contents);
        // A .gz file is copied as it is.
        fs::write(mirror.path().join("t10k-labels-idx1-ubyte.gz"), &stored).unwrap();
        download(Some(mirror.path().to_str().unwrap()), "t10k-labels-idx1-ubyte", &temp).unwrap();
        assert_eq!(fs::read(&temp).unwrap(), stored);
    }

    #[test]
    fn hosts_are_named_once_and_equal_reasons_are_merged() {
        assert_eq!(host(PUBLIC_MIRRORS[0]), "storage.googleapis.com");
        assert_eq!(host("http://yann.lecun.com/exdb/mnist/"), "yann.lecun.com");
        let same: Vec<(String, String)> =
            PUBLIC_MIRRORS.iter().map(|m| (host(m).to_string(), "DNS lookup failed".to_string())).collect();
        assert_eq!(summarize(&same), "3 tried: DNS lookup failed");
        let mixed =
            vec![("a.org".to_string(), "HTTP 404".to_string()), ("b.org".to_string(), "connection failed".to_string())];
        assert_eq!(summarize(&mixed), "a.org: HTTP 404; b.org: connection failed");
    }
}
