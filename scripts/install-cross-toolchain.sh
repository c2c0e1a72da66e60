#!/usr/bin/env bash
# Installs what `cargo xtask cross` and `cargo xtask wasm` need, from Debian 12's own packages
# (as root; run again, it changes nothing):
# - rustc-web/cargo-web 1.96 with its std source (rust-web-src) and lld: the wasm32 modules,
#   built with -Zbuild-std (rustup's toolchain here has no wasm32 std and cannot download one);
# - the arm64 std (libstd-rust-web-dev:arm64), gcc-aarch64-linux-gnu as the linker and
#   qemu-user to run the aarch64 binary and tests on x86-64.
# Node (for the wasm checks) is expected on PATH, as the browser test expects it.
set -euo pipefail

packages=(rustc-web cargo-web rust-web-src rust-web-llvm lld-22 gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
arm64=(libstd-rust-web-dev:arm64)

installed() {
  for p in "$@"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || return 1
  done
}

if installed "${packages[@]}" "${arm64[@]}"; then
  echo "install-cross-toolchain: already installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-cross-toolchain: run as root (it uses apt-get and dpkg --add-architecture)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
apt-get install -y -qq --no-install-recommends "${arm64[@]}" >/dev/null
echo "install-cross-toolchain: installed ${packages[*]} ${arm64[*]}"
