#!/usr/bin/env bash
# Download the MNIST data set for mnistlearn, without needing cargo.
#
# Usage:
#   scripts/download_mnist.sh [DEST]          (DEST defaults to "data")
#
# Fetches the four gzipped IDX files
#   train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz
#   t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz
# into DEST, trying these mirrors in order (curl, or wget as a fallback):
#   https://storage.googleapis.com/cvdf-datasets/mnist/
#   https://ossci-datasets.s3.amazonaws.com/mnist/
#   http://yann.lecun.com/exdb/mnist/
#
# Environment:
#   MNIST_MIRROR   a local directory (plain path or file:// URL) to copy the
#                  files from instead of downloading; an http(s):// URL is
#                  used as the only mirror. A local mirror may hold the .gz
#                  files or the raw IDX files (which are then gzipped).
#
# Every file is checked by the SHA-256 of its *decompressed* contents
# (gzip -dc FILE | sha256sum) against the official values, since different
# mirrors wrap the same data in different gzip headers. The .gz files are
# kept as downloaded; mnistlearn and the Python scripts read them directly.
# Files already present in DEST with the right contents are not fetched again.

set -euo pipefail

DEST="${1:-data}"

DEFAULT_MIRRORS=(
    "https://storage.googleapis.com/cvdf-datasets/mnist/"
    "https://ossci-datasets.s3.amazonaws.com/mnist/"
    "http://yann.lecun.com/exdb/mnist/"
)

FILES=(
    train-images-idx3-ubyte
    train-labels-idx1-ubyte
    t10k-images-idx3-ubyte
    t10k-labels-idx1-ubyte
)

# Official SHA-256 of the decompressed files. (A function rather than an
# associative array, so that the script also runs on bash 3.2 / macOS.)
expected_sha256() {
    case "$1" in
        train-images-idx3-ubyte) echo ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db ;;
        train-labels-idx1-ubyte) echo 65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5 ;;
        t10k-images-idx3-ubyte)  echo 0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7 ;;
        t10k-labels-idx1-ubyte)  echo ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2 ;;
        *) return 1 ;;
    esac
}

die() {
    echo "download_mnist.sh: error: $*" >&2
    exit 1
}

# --- tools -----------------------------------------------------------------

command -v gzip >/dev/null 2>&1 || die "gzip is required but was not found"

if command -v sha256sum >/dev/null 2>&1; then
    sha256_stdin() { sha256sum | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then
    sha256_stdin() { shasum -a 256 | cut -d' ' -f1; }
else
    die "sha256sum (or shasum) is required but was not found"
fi

# fetch URL OUT: download URL to OUT with curl, or wget if curl is missing.
if command -v curl >/dev/null 2>&1; then
    fetch() { curl -fsSL --retry 2 --connect-timeout 20 -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
    fetch() { wget -q --tries=3 --timeout=20 -O "$2" "$1"; }
else
    fetch() { return 1; }
    NO_DOWNLOADER=1
fi

# SHA-256 of the decompressed contents of a .gz file ("" if it is not valid gzip).
gz_sha256() {
    local digest
    digest="$(gzip -dc "$1" 2>/dev/null | sha256_stdin)" || digest=""
    printf '%s' "$digest"
}

# True if $1 (a .gz file) exists and decompresses to the official bytes of $2.
is_valid() {
    [[ -f "$1" ]] && [[ "$(gz_sha256 "$1")" == "$(expected_sha256 "$2")" ]]
}

# --- sources ---------------------------------------------------------------

LOCAL_MIRROR=""
MIRRORS=("${DEFAULT_MIRRORS[@]}")
if [[ -n "${MNIST_MIRROR:-}" ]]; then
    case "$MNIST_MIRROR" in
        http://* | https://*)
            MIRRORS=("${MNIST_MIRROR%/}/")
            ;;
        file://*)
            # A file URL's path, as a browser or curl reads it: file://localhost/P is /P, and
            # %XX escapes are decoded (file:///srv/my%20mirror is "/srv/my mirror").
            LOCAL_MIRROR="${MNIST_MIRROR#file://}"
            case "$LOCAL_MIRROR" in localhost/*) LOCAL_MIRROR="${LOCAL_MIRROR#localhost}" ;; esac
            if [[ "$LOCAL_MIRROR" != /* ]]; then
                die "MNIST_MIRROR=$MNIST_MIRROR names another host (expected file:///PATH, file://localhost/PATH or a directory)"
            fi
            LOCAL_MIRROR="${LOCAL_MIRROR//\\/\\\\}"
            LOCAL_MIRROR="$(printf '%b' "${LOCAL_MIRROR//%/\\x}")"
            ;;
        *)
            LOCAL_MIRROR="$MNIST_MIRROR"
            ;;
    esac
    if [[ -n "$LOCAL_MIRROR" && ! -d "$LOCAL_MIRROR" ]]; then
        die "MNIST_MIRROR=$MNIST_MIRROR is not a directory"
    fi
fi

if [[ -z "$LOCAL_MIRROR" && -n "${NO_DOWNLOADER:-}" ]]; then
    die "neither curl nor wget was found (or set MNIST_MIRROR to a local copy)"
fi

mkdir -p "$DEST" || die "cannot create directory $DEST"

# Partial files are written as *.part and removed if the script stops early.
PART=""
cleanup() { if [[ -n "$PART" ]]; then rm -f "$PART"; fi; }
trap cleanup EXIT

# --- main loop -------------------------------------------------------------

for name in "${FILES[@]}"; do
    target="$DEST/$name.gz"
    if is_valid "$target" "$name"; then
        echo "ok        $target (already present, checksum verified)"
        continue
    fi

    PART="$target.part"
    rm -f "$PART"
    got=""

    if [[ -n "$LOCAL_MIRROR" ]]; then
        # Copy from the local mirror: prefer the .gz file, else gzip the raw one.
        if [[ -f "$LOCAL_MIRROR/$name.gz" ]]; then
            # cat rather than cp: do not inherit the mirror's (read-only) permissions.
            cat "$LOCAL_MIRROR/$name.gz" >"$PART" || die "cannot copy $LOCAL_MIRROR/$name.gz"
            source_desc="$LOCAL_MIRROR/$name.gz"
        elif [[ -f "$LOCAL_MIRROR/$name" ]]; then
            gzip -c "$LOCAL_MIRROR/$name" >"$PART" || die "cannot compress $LOCAL_MIRROR/$name"
            source_desc="$LOCAL_MIRROR/$name"
        else
            die "$name(.gz) not found in local mirror $LOCAL_MIRROR"
        fi
        if is_valid "$PART" "$name"; then
            got="$source_desc"
        else
            die "$source_desc: SHA-256 of decompressed data does not match the official $name"
        fi
    else
        # Try each public mirror in turn until one gives the right contents.
        for mirror in "${MIRRORS[@]}"; do
            url="$mirror$name.gz"
            echo "fetching  $url"
            if ! fetch "$url" "$PART"; then
                echo "  failed to download from $mirror, trying next mirror" >&2
                rm -f "$PART"
                continue
            fi
            if is_valid "$PART" "$name"; then
                got="$url"
                break
            fi
            echo "  checksum mismatch for $url, trying next mirror" >&2
            rm -f "$PART"
        done
        [[ -n "$got" ]] || die "could not get a valid $name.gz from any mirror (no network?); set MNIST_MIRROR to a local copy"
    fi

    mv -f "$PART" "$target"
    PART=""
    echo "ok        $target (from $got, checksum verified)"
done

echo "MNIST is ready in $DEST"
