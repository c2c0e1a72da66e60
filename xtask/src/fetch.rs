//! `cargo xtask fetch [--mirror DIR|file://DIR|https://HOST/PATH/] [--dest DIR]`
//!
//! Puts the four official MNIST files into `data/` (gzipped, as the mirrors serve them) and
//! checks the SHA-256 of their *decompressed* bytes — the gzip wrappers differ between mirrors,
//! the contents must not. A local mirror (a directory or a `file://` URL, by `--mirror` or the
//! `MNIST_MIRROR` environment variable) is used instead of the network; otherwise the public
//! mirrors are tried in order.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
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
            dest: crate::project_root().join("data"),
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || it.next().cloned().ok_or_else(|| format!("fetch: {flag} needs a value"));
            match flag.as_str() {
                "--mirror" => options.mirror = Some(value()?),
                "--dest" => options.dest = PathBuf::from(value()?),
                other => return Err(format!("fetch: unknown flag '{other}' (expected --mirror or --dest)")),
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
    let mut file = io::BufReader::new(fs::File::open(path)?);
    let mut head = [0u8; 2];
    let n = file.read(&mut head)?;
    let chained = io::Cursor::new(head[..n].to_vec()).chain(file);
    let mut reader: Box<dyn Read> =
        if n == 2 && head == [0x1f, 0x8b] { Box::new(GzDecoder::new(chained)) } else { Box::new(chained) };
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let got = reader.read(&mut buf)?;
        if got == 0 {
            break;
        }
        hasher.update(&buf[..got]);
    }
    Ok(hex(&hasher.finalize()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A file already in `dest` (raw or .gz) with the right contents, if any.
fn existing_good(dest: &Path, name: &str, sha: &str) -> Option<PathBuf> {
    [dest.join(name), dest.join(format!("{name}.gz"))]
        .into_iter()
        .find(|p| p.exists() && content_sha256(p).map(|h| h == sha).unwrap_or(false))
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

/// Writes `name.gz` (or the raw file) from the mirror to `temp`; returns where it came from.
fn download(mirror: Option<&str>, name: &str, temp: &Path) -> Result<String, String> {
    if let Some(m) = mirror {
        if m.starts_with("http://") || m.starts_with("https://") {
            let base = if m.ends_with('/') { m.to_string() } else { format!("{m}/") };
            return download_http(&format!("{base}{name}.gz"), temp);
        }
        let dir = PathBuf::from(m.strip_prefix("file://").unwrap_or(m));
        if !dir.is_dir() {
            return Err(format!("mirror {m}: not a directory (expected a directory or file:// URL holding the MNIST files)"));
        }
        for candidate in [dir.join(format!("{name}.gz")), dir.join(name)] {
            if candidate.exists() {
                fs::copy(&candidate, temp).map_err(|e| format!("{}: {e}", candidate.display()))?;
                return Ok(candidate.display().to_string());
            }
        }
        return Err(format!("mirror {m}: has neither {name}.gz nor {name}"));
    }
    let mut failures = Vec::new();
    for base in PUBLIC_MIRRORS {
        match download_http(&format!("{base}{name}.gz"), temp) {
            Ok(source) => return Ok(source),
            Err(e) => failures.push(e),
        }
    }
    Err(format!("could not download {name}.gz from any mirror ({}); set MNIST_MIRROR to a local copy", failures.join("; ")))
}

fn download_http(url: &str, temp: &Path) -> Result<String, String> {
    let response = ureq::get(url).call().map_err(|e| format!("{url}: {e}"))?;
    let mut reader = response.into_reader();
    let mut file = fs::File::create(temp).map_err(|e| format!("{}: {e}", temp.display()))?;
    io::copy(&mut reader, &mut file).map_err(|e| format!("{url}: {e}"))?;
    file.flush().map_err(|e| format!("{}: {e}", temp.display()))?;
    Ok(url.to_string())
}
