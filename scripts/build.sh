#!/usr/bin/env bash
# Builds the wasm core (release, wasm-bindgen, wasm-opt) into pkg/ and the page into dist/, printing the module size.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[1m[build]\033[0m %s\n' "$*" >&2; }

say "cargo build (wasm32, release)"
cargo build -p transformer-playground --lib --target wasm32-unknown-unknown --release
wasm="${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/transformer_playground.wasm"

say "wasm-bindgen --target web"
wasm-bindgen --target web --out-dir pkg "$wasm"

say "tsc (type check)"
node_modules/.bin/tsc -p tsconfig.json

say "wasm-opt -O3"
# The features the Rust wasm32 target emits by default, plus the simd128 set in .cargo/config.toml.
node_modules/.bin/wasm-opt pkg/transformer_playground_bg.wasm -O3 -o pkg/transformer_playground_bg.wasm \
  --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-reference-types --enable-multivalue --enable-mutable-globals

raw=$(wc -c < pkg/transformer_playground_bg.wasm)
gz=$(gzip -9 -c pkg/transformer_playground_bg.wasm | wc -c)
say "wasm module: $((raw / 1024)) KiB raw, $((gz / 1024)) KiB gzipped (pkg/transformer_playground_bg.wasm)"

say "vite build"
node_modules/.bin/vite build --logLevel warn
say "page built into dist/"
