//! Image files for `mnistlearn predict`: PNG and PGM, decoded to one grey byte per pixel.
//!
//! * **PNG** through the `png` crate (image-rs's decoder: well kept, fuzzed, pure Rust). Every
//!   colour type and bit depth is accepted: palette, 1–8-bit grey and tRNS transparency are
//!   expanded to 8 bits, 16-bit samples are cut to their high byte (`normalize_to_color8`).
//!   Colour becomes grey by the Rec. 601 luma weights, `(299·R + 587·G + 114·B) / 1000`.
//!   Transparent pixels are laid on a backdrop that contrasts with the ink: drawings exported
//!   with a transparent background and black strokes are read on white, white strokes on black.
//! * **PGM** (`P5` binary and `P2` plain, maxval 1–65535) by the parser below. The format is a
//!   header of four whitespace-separated ASCII numbers and a raster; a forty-line parser reads
//!   it exactly, while the `image` crate that also reads it would add a dozen decoders and a
//!   long compile for one format.
//!
//! The format is told by the file's first bytes, not its name. Nothing is decoded before its
//! size is known to be within [`MAX_SIDE`] × [`MAX_SIDE`], so a hostile header cannot make us
//! allocate gigabytes: the bound is the honest cost of the largest image we accept.

use std::io::Read;
use std::path::{Path, PathBuf};

use mnistlearn_core::data::preprocess::GreyImage;

/// The largest width or height accepted, in pixels. A phone photo is about 4000 pixels on its
/// long side; a digit needs far fewer, and the preprocessing shrinks it to 20×20 anyway.
pub const MAX_SIDE: usize = 4096;

/// The largest PGM: a `P2` of the largest size, every sample "65535 ".
const MAX_PGM_BYTES: u64 = (MAX_SIDE * MAX_SIDE * 6 + 4096) as u64;
/// The largest PNG: the largest size in 16-bit RGBA stored without compression (a filter byte
/// and 8 bytes a pixel in each row), plus 1/256 of that for the deflate blocks' and IDAT chunks'
/// headers (libpng's 8 KiB chunks need 1/680) and 1 MiB for metadata (an ICC profile, EXIF).
const MAX_PNG_BYTES: u64 = {
    let raw = (MAX_SIDE * (1 + MAX_SIDE * 8)) as u64;
    raw + raw / 256 + (1 << 20)
};
/// The largest file read: anything longer cannot be a valid image within the limits (short of a
/// PNG split into absurdly many chunks).
const MAX_FILE_BYTES: u64 = if MAX_PNG_BYTES > MAX_PGM_BYTES { MAX_PNG_BYTES } else { MAX_PGM_BYTES };

/// Why an image file could not be read. Prints as one line naming the file (its control
/// characters escaped, see [`printable`]).
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", printable(path))]
pub struct ImageError {
    pub path: PathBuf,
    pub message: String,
}

/// A path as one line of text: control characters (a newline in a file name, an escape
/// sequence) written as Rust escapes (`\n`, `\u{1b}`), so a file name can neither forge a
/// line of `predict`'s output nor reach the terminal.
pub fn printable(path: &Path) -> String {
    let mut out = String::new();
    for c in path.display().to_string().chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

// ANCHOR: load
/// Reads a PNG or PGM file as a grey image.
pub fn load(path: &Path) -> Result<GreyImage, ImageError> {
    let fail = |message: String| ImageError { path: path.to_path_buf(), message };
    // Only a regular file: a FIFO would block `predict` forever, a device never ends.
    let file = super::file::open_regular(path).map_err(|e| match e {
        super::file::OpenError::Io(e) => fail(format!("cannot open: {e}")),
        super::file::OpenError::NotRegular(kind) => fail(format!("is {kind}, expected a PNG or PGM image file")),
    })?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| fail(format!("cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(fail(format!(
            "file too large: a PNG or PGM image within {MAX_SIDE}×{MAX_SIDE} pixels, even uncompressed, is at most {MAX_FILE_BYTES} bytes"
        )));
    }
    decode(&bytes).map_err(fail)
}

/// Decodes PNG or PGM bytes; the error is a message without the file name.
pub fn decode(bytes: &[u8]) -> Result<GreyImage, String> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        decode_png(bytes)
    } else if bytes.starts_with(b"P5") || bytes.starts_with(b"P2") {
        decode_pgm(bytes)
    } else {
        Err("not a PNG or PGM (P2/P5) image: expected a file starting with the PNG signature, \"P5\" or \"P2\"".into())
    }
}
// ANCHOR_END: load

fn check_size(width: usize, height: usize) -> Result<(), String> {
    if width == 0 || height == 0 {
        return Err(format!("the image is {width}×{height} pixels, expected at least 1×1"));
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(format!("the image is {width}×{height} pixels, larger than the {MAX_SIDE}×{MAX_SIDE} limit"));
    }
    Ok(())
}

/// Rec. 601 luma of an 8-bit RGB pixel, rounded.
fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((299 * r as u32 + 587 * g as u32 + 114 * b as u32 + 500) / 1000) as u8
}

/// The `png` crate's error as one clean line. Its format errors are an opaque type whose
/// `Display` is the only handle, and several of those texts print Rust debug output (a chunk
/// type as `ChunkType { type: IHDR, critical: true, … }`, a deflate error's variant name); so
/// only texts known to read well are recognised, by their start, and everything else gets a
/// generic message. A new `png` version can make a message vaguer, never leak a struct dump.
fn png_error(bytes: &[u8], e: &png::DecodingError) -> String {
    use png::DecodingError::*;
    let text = match e {
        IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return "truncated PNG: the file ends before its image data does".into()
        }
        LimitsExceeded => {
            return format!("corrupt PNG: decoding it needs more memory than any image within {MAX_SIDE}×{MAX_SIDE}")
        }
        Format(e) => e.to_string(),
        IoError(_) | Parameter(_) => String::new(),
    };
    if text.starts_with("CRC error") {
        return match bad_crc_chunk(bytes) {
            Some(name) => format!("corrupt PNG: the {name} chunk's checksum does not match its contents"),
            None => "corrupt PNG: a chunk's checksum does not match its contents".into(),
        };
    }
    const KNOWN: [(&str, &str); 10] = [
        ("IDAT or fdAT chunk is missing", "it has no image data (IDAT chunk)"),
        ("IDAT or fDAT chunk does not have enough data", "its image data ends before the last row"),
        ("Corrupt deflate stream", "its compressed image data is damaged"),
        ("Invalid color/depth combination", "its header's colour type and bit depth do not go together"),
        ("Invalid image dimensions", "its header gives a width or height of 0"),
        ("Missing palette", "it has a palette colour type but no palette (PLTE chunk)"),
        ("Not enough palette entries", "its palette (PLTE chunk) is too short"),
        ("Transparency chunk found", "its transparency (tRNS) chunk does not fit its colour type"),
        ("Chunk length wrong", "a chunk has the wrong length for its type"),
        ("Unrecognized critical chunk", "it has a critical chunk this decoder does not know"),
    ];
    if let Some((_, message)) = KNOWN.iter().find(|(start, _)| text.starts_with(start)) {
        return format!("corrupt PNG: {message}");
    }
    // These print only numbers: "Invalid bit depth 3." and the like.
    const NUMBERED: [(&str, &str); 5] = [
        ("Invalid bit depth ", "bit depth"),
        ("Invalid color type ", "colour type"),
        ("Unknown compression method ", "compression method"),
        ("Unknown filter method ", "filter method"),
        ("Unknown interlace method ", "interlace method"),
    ];
    for (start, what) in NUMBERED {
        if let Some(n) = text.strip_prefix(start).and_then(|rest| rest.trim_end_matches('.').parse::<u8>().ok()) {
            return format!("corrupt PNG: invalid {what} {n} in its header");
        }
    }
    "corrupt PNG: its chunks are damaged, misordered or not ones a PNG image can have".into()
}

/// The name of the first critical chunk (the ones the decoder checks) whose CRC does not match
/// its type and data, if its name is four ASCII letters.
fn bad_crc_chunk(bytes: &[u8]) -> Option<String> {
    let mut at = 8;
    while let Some(head) = bytes.get(at..at + 8) {
        let length = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let kind = &head[4..8];
        let body = bytes.get(at + 4..(at + 8).checked_add(length)?)?;
        let stored = bytes.get(at + 8 + length..at + 12 + length)?;
        let critical = kind[0].is_ascii_uppercase();
        if critical && crc32(body).to_be_bytes() != stored {
            return kind.iter().all(u8::is_ascii_alphabetic).then(|| kind.iter().map(|&c| c as char).collect());
        }
        at += 12 + length;
    }
    None
}

/// CRC-32 as PNG chunks use it (ISO 3309): gzip's, which `flate2` already computes.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    crc.sum()
}

fn decode_png(bytes: &[u8]) -> Result<GreyImage, String> {
    let bad = |e: png::DecodingError| png_error(bytes, &e);
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    // The header is read first: the size is checked before the decoder allocates a frame.
    decoder.set_limits(png::Limits { bytes: MAX_SIDE * MAX_SIDE * 4 + (1 << 20) });
    let mut reader = decoder.read_info().map_err(bad)?;
    let (width, height) = (reader.info().width as usize, reader.info().height as usize);
    check_size(width, height)?;
    let mut buffer = vec![0; reader.output_buffer_size().ok_or("corrupt PNG: its size overflows")?];
    let frame = reader.next_frame(&mut buffer).map_err(bad)?;
    let data = &buffer[..frame.buffer_size()];
    let channels = match frame.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        // `normalize_to_color8` expands palettes, so this is a decoder's bug, not the file's.
        png::ColorType::Indexed => return Err("PNG palette colour was not expanded to grey or RGB".into()),
    };
    if frame.bit_depth != png::BitDepth::Eight || frame.line_size != width * channels {
        return Err(format!(
            "PNG decoded to {} bits, {} bytes a row; expected 8 bits, {}",
            frame.bit_depth as u8,
            frame.line_size,
            width * channels
        ));
    }
    let grey: Vec<u8> = data
        .chunks_exact(channels)
        .map(|p| match channels {
            1 | 2 => p[0],
            _ => luma(p[0], p[1], p[2]),
        })
        .collect();
    let pixels = if channels == 2 || channels == 4 {
        let alpha: Vec<u8> = data.chunks_exact(channels).map(|p| p[channels - 1]).collect();
        over_backdrop(&grey, &alpha)
    } else {
        grey
    };
    GreyImage::new(width, height, pixels)
}

// ANCHOR: backdrop
/// Lays grey pixels with alpha on an opaque backdrop: black if the visible ink (alpha-weighted
/// mean grey) is light, white if it is dark, so the strokes always stand out.
fn over_backdrop(grey: &[u8], alpha: &[u8]) -> Vec<u8> {
    let (mut weight, mut sum) = (0u64, 0u64);
    for (&g, &a) in grey.iter().zip(alpha) {
        weight += a as u64;
        sum += a as u64 * g as u64;
    }
    let backdrop: u32 = if weight > 0 && 2 * sum >= 255 * weight { 0 } else { 255 };
    grey.iter()
        .zip(alpha)
        .map(|(&g, &a)| ((g as u32 * a as u32 + backdrop * (255 - a as u32) + 127) / 255) as u8)
        .collect()
}
// ANCHOR_END: backdrop

/// A number as a PGM file writes it: its decimal digits, leading zeros dropped (`"0"` stays).
/// Kept as text so that a number too large for any integer type can still be named in a
/// message; [`Decimal::value`] is its value when that is small enough to mean anything here.
#[derive(Clone, Copy)]
struct Decimal<'a>(&'a [u8]);

impl Decimal<'_> {
    /// The value, or `None` above 999,999,999 — more than any width, height, maxval or sample
    /// a valid file within the limits can hold, and small enough that no arithmetic overflows.
    fn value(self) -> Option<usize> {
        (self.0.len() <= 9).then(|| self.0.iter().fold(0, |n, &d| n * 10 + (d - b'0') as usize))
    }
}

impl std::fmt::Display for Decimal<'_> {
    /// The digits, or for a number of more than 20 digits its first 12 and the count, so that
    /// a message naming it stays one short line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = |d: &[u8]| d.iter().map(|&c| c as char).collect::<String>();
        if self.0.len() <= 20 {
            f.write_str(&text(self.0))
        } else {
            write!(f, "{}… ({} digits)", text(&self.0[..12]), self.0.len())
        }
    }
}

/// Reads the PGM header's next number, skipping whitespace and `#` comments.
fn pgm_number<'a>(bytes: &'a [u8], at: &mut usize, what: &str) -> Result<Decimal<'a>, String> {
    loop {
        match bytes.get(*at) {
            Some(c) if c.is_ascii_whitespace() => *at += 1,
            Some(b'#') => {
                while bytes.get(*at).is_some_and(|&c| c != b'\n' && c != b'\r') {
                    *at += 1;
                }
            }
            _ => break,
        }
    }
    let start = *at;
    while bytes.get(*at).is_some_and(u8::is_ascii_digit) {
        *at += 1;
    }
    let digits = &bytes[start..*at];
    if digits.is_empty() {
        return Err(format!("corrupt PGM: expected the {what} as a decimal number at byte {start}"));
    }
    let first = digits.iter().position(|&d| d != b'0').unwrap_or(digits.len() - 1);
    Ok(Decimal(&digits[first..]))
}

// ANCHOR: pgm
/// Netpbm's greyscale format: `P5` or `P2`, width, height, maxval, then the samples (binary:
/// one byte each, or two big-endian bytes if maxval > 255; plain: decimal numbers). Samples are
/// scaled from 0..=maxval to 0..=255, rounded.
fn decode_pgm(bytes: &[u8]) -> Result<GreyImage, String> {
    let binary = bytes[1] == b'5';
    let mut at = 2;
    let width = pgm_number(bytes, &mut at, "width")?;
    let height = pgm_number(bytes, &mut at, "height")?;
    let maxval = pgm_number(bytes, &mut at, "maxval")?;
    // Both sides are checked before anything the size implies is allocated; a side too large
    // to be a number here is too large an image, named as the file writes it.
    let (Some(width), Some(height)) = (width.value(), height.value()) else {
        return Err(format!("the image is {width}×{height} pixels, larger than the {MAX_SIDE}×{MAX_SIDE} limit"));
    };
    check_size(width, height)?;
    let maxval = match maxval.value() {
        Some(v @ 1..=65535) => v,
        _ => return Err(format!("corrupt PGM: maxval {maxval}, expected 1 to 65535")),
    };
    let scale = |v: usize| -> Result<u8, String> {
        if v > maxval {
            return Err(format!("corrupt PGM: sample {v} is above maxval {maxval}"));
        }
        Ok(((v * 255 + maxval / 2) / maxval) as u8)
    };
    let count = width * height;
    let mut pixels = Vec::with_capacity(count);
    if binary {
        // Exactly one whitespace byte separates the header from the raster.
        if !bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
            return Err("corrupt PGM: expected one whitespace byte after maxval".into());
        }
        let raster = &bytes[at + 1..];
        let size = if maxval > 255 { 2 } else { 1 };
        if raster.len() < count * size {
            return Err(format!(
                "truncated PGM: {width}×{height} needs {} bytes of samples, got {}",
                count * size,
                raster.len()
            ));
        }
        for sample in raster[..count * size].chunks_exact(size) {
            let v = if size == 2 { (sample[0] as usize) << 8 | sample[1] as usize } else { sample[0] as usize };
            pixels.push(scale(v)?);
        }
    } else {
        for i in 0..count {
            let v = pgm_number(bytes, &mut at, "sample")
                .map_err(|_| format!("corrupt or truncated PGM: sample {i} of {count} is missing or not a number"))?;
            let Some(value) = v.value() else {
                return Err(format!("corrupt PGM: sample {v} is above maxval {maxval}"));
            };
            pixels.push(scale(value)?);
        }
    }
    GreyImage::new(width, height, pixels)
}
// ANCHOR_END: pgm

/// Encodes `samples` (rows top to bottom, `colour` at `depth`) as a PNG file's bytes, with the
/// `png` crate's default compression: the one PNG writer of the project (`test --errors` and
/// the book's figures, whose embedded pixel images are golden, so the settings must not drift).
pub fn encode_png(
    width: u32,
    height: u32,
    colour: png::ColorType,
    depth: png::BitDepth,
    samples: &[u8],
) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(colour);
    encoder.set_depth(depth);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(samples)?;
    writer.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_bytes(width: u32, height: u32, colour: png::ColorType, depth: png::BitDepth, data: &[u8]) -> Vec<u8> {
        encode_png(width, height, colour, depth, data).unwrap()
    }

    #[test]
    fn png_grey_rgb_rgba_and_16_bit() {
        use png::{BitDepth::*, ColorType::*};
        let grey = decode(&png_bytes(2, 1, Grayscale, Eight, &[0, 200])).unwrap();
        assert_eq!((grey.width(), grey.height(), grey.pixels()), (2, 1, &[0u8, 200][..]));
        let grey16 = decode(&png_bytes(2, 1, Grayscale, Sixteen, &[0x12, 0x34, 0xff, 0xff])).unwrap();
        assert_eq!(grey16.pixels(), &[0x12, 0xff]);
        let rgb = decode(&png_bytes(2, 1, Rgb, Eight, &[255, 0, 0, 10, 20, 30])).unwrap();
        assert_eq!(rgb.pixels(), &[76, 18]); // 0.299·255 = 76.2; 2.99 + 11.74 + 3.42 = 18.15
                                             // Black strokes on a transparent background are read on white...
        let rgba = decode(&png_bytes(3, 1, Rgba, Eight, &[0, 0, 0, 255, 0, 0, 0, 0, 0, 0, 0, 128])).unwrap();
        assert_eq!(rgba.pixels(), &[0, 255, 127]);
        // ...white strokes on black.
        let ga = decode(&png_bytes(2, 1, GrayscaleAlpha, Eight, &[255, 255, 255, 0])).unwrap();
        assert_eq!(ga.pixels(), &[255, 0]);
    }

    #[test]
    fn pgm_binary_plain_comments_and_maxval() {
        let p5 = decode(b"P5\n# a comment\n3 1\n255\n\x00\x80\xff").unwrap();
        assert_eq!((p5.width(), p5.height(), p5.pixels()), (3, 1, &[0u8, 128, 255][..]));
        let p2 = decode(b"P2 2 2 15\n0 15\n# half\n7 8\n").unwrap();
        assert_eq!(p2.pixels(), &[0, 255, 119, 136]);
        let p5_16 = decode(b"P5 2 1 65535\n\xff\xff\x80\x00").unwrap();
        assert_eq!(p5_16.pixels(), &[255, 128]);
    }

    #[test]
    fn bad_files_get_one_line_errors() {
        let err = |b: &[u8]| decode(b).unwrap_err();
        assert!(err(b"GIF89a").starts_with("not a PNG or PGM"));
        assert_eq!(err(b"P5 3 1 255\n\x00"), "truncated PGM: 3×1 needs 3 bytes of samples, got 1");
        assert_eq!(err(b"P2 2 1 255 0"), "corrupt or truncated PGM: sample 1 of 2 is missing or not a number");
        assert_eq!(err(b"P2 1 1 10 11"), "corrupt PGM: sample 11 is above maxval 10");
        assert_eq!(err(b"P5 0 1 255\n"), "the image is 0×1 pixels, expected at least 1×1");
        assert_eq!(err(b"P5 4097 2 255\n"), "the image is 4097×2 pixels, larger than the 4096×4096 limit");
        assert!(err(b"P5 x").starts_with("corrupt PGM: expected the width"));
        // A PNG header claiming 100000×100000 is refused before any pixel is allocated.
        // (The IHDR chunk's CRC is recomputed, so the header is valid and only the size is wrong.)
        let mut huge = png_bytes(1, 1, png::ColorType::Grayscale, png::BitDepth::Eight, &[0]);
        huge[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        huge[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let crc = crc32(&huge[12..29]);
        huge[29..33].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(err(&huge), "the image is 100000×100000 pixels, larger than the 4096×4096 limit");
        assert!(err(b"").starts_with("not a PNG"));
    }

    #[test]
    fn pgm_sides_too_large_for_any_integer_are_named_as_too_large() {
        let err = |b: &[u8]| decode(b).unwrap_err();
        let limit = "pixels, larger than the 4096×4096 limit";
        assert_eq!(err(b"P5\n4000000000 1\n255\n\x00"), format!("the image is 4000000000×1 {limit}"));
        assert_eq!(err(b"P5 1 4000000000 255\n\x00"), format!("the image is 1×4000000000 {limit}"));
        assert_eq!(err(b"P2 99999999999999999999 1 255 0"), format!("the image is 99999999999999999999×1 {limit}"));
        // A number of any length is named in a few dozen bytes.
        let long = [&b"P5 "[..], &[b'7'; 100_000], b" 1 255\n\x00"].concat();
        assert_eq!(err(&long), format!("the image is 777777777777… (100000 digits)×1 {limit}"));
        // Leading zeros are not size: 0003 is 3.
        let p5 = decode(b"P5 0003 001 0255\n\x00\x80\xff").unwrap();
        assert_eq!((p5.width(), p5.height(), p5.pixels()), (3, 1, &[0u8, 128, 255][..]));
        assert_eq!(err(b"P5 1 1 99999999999\n\x00"), "corrupt PGM: maxval 99999999999, expected 1 to 65535");
        assert_eq!(err(b"P2 1 1 255 99999999999"), "corrupt PGM: sample 99999999999 is above maxval 255");
    }

    /// `png` with chunk `kind` at `at` given `data` and a correct CRC; a chunk starts at byte 8.
    fn with_chunk(png: &[u8], at: usize, kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
        chunk.extend_from_slice(kind);
        chunk.extend_from_slice(data);
        chunk.extend_from_slice(&crc32(&chunk[4..]).to_be_bytes());
        [&png[..at], &chunk[..], &png[at..]].concat()
    }

    #[test]
    fn png_errors_are_clean_lines_naming_what_is_wrong() {
        use png::{BitDepth::Eight, ColorType::Grayscale};
        let err = |b: &[u8]| decode(b).unwrap_err();
        let good = png_bytes(4, 4, Grayscale, Eight, &[9; 16]);
        // The IHDR chunk (bytes 8..33: length, type, 13 bytes of data, CRC) with a wrong CRC.
        let mut ihdr_crc = good.clone();
        ihdr_crc[31] ^= 1;
        // The IDAT chunk (right after IHDR) with a wrong CRC.
        let idat_len = u32::from_be_bytes(good[33..37].try_into().unwrap()) as usize;
        assert_eq!(&good[37..41], b"IDAT");
        let mut idat_crc = good.clone();
        idat_crc[41 + idat_len] ^= 0x80;
        // A bit depth of 3 in a header whose CRC matches.
        let mut depth = good.clone();
        depth[24] = 3;
        let crc = crc32(&depth[12..29]);
        depth[29..33].copy_from_slice(&crc.to_be_bytes());
        // IDAT's compressed data replaced by bytes that are no deflate stream, CRC recomputed.
        let garbage = with_chunk(&[&good[..33], &good[45 + idat_len..]].concat(), 33, b"IDAT", &[0xff; 12]);
        let unknown = with_chunk(&good, 33, b"ZZZZ", b"1234");
        // A second IHDR: the png crate's text names it as `ChunkType { … }`, so it gets the
        // generic message.
        let twice = with_chunk(&good, 33, b"IHDR", &good[16..29]);
        // An ancillary chunk's bad CRC is skipped, as the decoder does.
        let mut ancillary = with_chunk(&good, 33, b"tEXt", b"a\0b");
        ancillary[33 + 12 + 3 - 1] ^= 1;
        assert_eq!(decode(&ancillary).unwrap().pixels(), &[9; 16]);
        // ...so it is not the one named when a critical chunk after it is damaged too.
        let mut ancillary_idat = ancillary.clone();
        assert_eq!(&ancillary_idat[52..56], b"IDAT");
        ancillary_idat[56 + idat_len] ^= 0x80;
        let cases: [(&[u8], &str); 8] = [
            (&ihdr_crc, "corrupt PNG: the IHDR chunk's checksum does not match its contents"),
            (&idat_crc, "corrupt PNG: the IDAT chunk's checksum does not match its contents"),
            (&ancillary_idat, "corrupt PNG: the IDAT chunk's checksum does not match its contents"),
            (&depth, "corrupt PNG: invalid bit depth 3 in its header"),
            (&garbage, "corrupt PNG: its compressed image data is damaged"),
            (&unknown, "corrupt PNG: it has a critical chunk this decoder does not know"),
            (&good[..good.len() - 20], "truncated PNG: the file ends before its image data does"),
            (&twice, "corrupt PNG: its chunks are damaged, misordered or not ones a PNG image can have"),
        ];
        for (bytes, expected) in cases {
            let message = err(bytes);
            assert_eq!(message, expected);
            assert!(!message.contains(['{', '}', '\n']), "{message}");
        }
    }

    #[test]
    fn load_names_the_file() {
        let e = load(Path::new("/nonexistent/digit.png")).unwrap_err();
        assert!(e.to_string().starts_with("/nonexistent/digit.png: cannot open:"), "{e}");
    }
}
