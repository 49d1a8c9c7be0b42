#!/usr/bin/env bash
# Installs what the project needs and is missing, and nothing else. Idempotent: a second run only checks.
#   bash scripts/bootstrap.sh serve   what `npm start` needs: Rust + wasm target, wasm-bindgen CLI, npm packages
#   bash scripts/bootstrap.sh test    also Chromium (browser tests) and a Vulkan driver (native GPU tests)
# On Debian as root it installs system packages itself; elsewhere it names them and exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
purpose="${1:-test}"

say() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*" >&2; }
fail() { say "ERROR: $*"; exit 1; }

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }
apt_updated=0
apt_install() {
  if [ $apt_updated = 0 ]; then
    say "apt-get update"
    apt-get update -qq >/dev/null
    apt_updated=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# 1. Rust and the wasm target.
command -v cargo >/dev/null 2>&1 || fail "Rust is missing: install it with rustup (https://rustup.rs), then rerun."
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "adding the Rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# 2. wasm-bindgen CLI at exactly the version in Cargo.lock (the CLI and the library must match).
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock)
[ -n "$want" ] || fail "could not read the wasm-bindgen version from Cargo.lock"
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  say "installing wasm-bindgen-cli $want (had: ${have:-none}); this takes a few minutes once"
  # No --locked: the CLI's own lockfile pins a crate version the registry no longer serves.
  cargo install wasm-bindgen-cli --version "$want"
fi

# 3. Node and the npm packages (Vite, TypeScript, Playwright's driver, binaryen's wasm-opt).
command -v node >/dev/null 2>&1 || fail "Node.js >= 20 is missing: install it (Debian: apt-get install nodejs npm)."
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || fail "Node.js $(node --version) is too old: install Node.js >= 20."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
   || [ package.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
fi

[ "$purpose" = test ] || exit 0

# 4. Chromium for the browser tests (never Playwright's own download: it cannot reach its host here).
chromium_path="${CHROMIUM_PATH:-}"
if [ -z "$chromium_path" ]; then
  for candidate in /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome; do
    [ -x "$candidate" ] && chromium_path=$candidate && break
  done
fi
if [ -z "$chromium_path" ]; then
  if can_apt; then apt_install chromium
  else fail "Chromium is missing: install it (Debian: apt-get install chromium) or set CHROMIUM_PATH."; fi
fi

# 5. A Vulkan driver for the native GPU tests: the loader, and lavapipe where no other driver is present.
has_loader() { ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; }
has_icd() { ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json >/dev/null 2>&1; }
if ! has_loader || ! has_icd; then
  if can_apt; then apt_install libvulkan1 mesa-vulkan-drivers
  else fail "no Vulkan driver: install the Vulkan loader and a driver (Debian: apt-get install libvulkan1 mesa-vulkan-drivers)."; fi
fi
say "ready"
