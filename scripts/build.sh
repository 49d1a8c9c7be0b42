#!/usr/bin/env bash
# Builds the wasm core (release, wasm-bindgen, wasm-opt) into pkg/ and the page into dist/, printing the module size.
# Usage: bash scripts/build.sh [--core]   (--core: only the wasm core in pkg/, not the page; npm pack uses it)
set -euo pipefail
cd "$(dirname "$0")/.."
core_only=false
[ "${1:-}" = "--core" ] && core_only=true
# Bold labels on a terminal; plain text in a log or a pipe.
if [ -t 2 ]; then
  say() { printf '\033[1m[build]\033[0m %s\n' "$*" >&2; }
else
  say() { printf '[build] %s\n' "$*" >&2; }
fi

say "cargo build (wasm32, release, opt-level z)"
# opt-level "z" for the module (the native CLI keeps the release profile's 3): at 3 the module is over the 400 KiB
# gzipped budget (tests/node/wasm_size.test.mjs: 454 KiB at 4747bca), at "z" 369 KiB. The matmul's register tile and
# dot products are written out in simd128, so they do not depend on the optimizer unrolling or vectorizing; the
# other CPU kernels run scalar at "z" (docs/benchmarks.md has the cost).
# SEQ2SEQ=1 adds the encoder-decoder's bindings (the package's Seq2SeqModel, the page's Seq2seq panel): about 38 KB
# gzipped more, over the budget for now, so they are off by default (crate/Cargo.toml, feature seq2seq-wasm).
features=()
if [ "${SEQ2SEQ:-0}" = 1 ]; then
  say "with the encoder-decoder's bindings (SEQ2SEQ=1)"
  features=(--features seq2seq-wasm)
fi
cargo build -p transformer-playground --lib --target wasm32-unknown-unknown --release "${features[@]}" \
  --config 'profile.release.opt-level="z"'
wasm="${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/transformer_playground.wasm"

say "wasm-bindgen --target web"
wasm-bindgen --target web --out-dir pkg "$wasm"

if [ "$core_only" = false ]; then
  say "tsc (type check)"
  node_modules/.bin/tsc -p tsconfig.json
fi

say "wasm-opt -O3"
# The features the Rust wasm32 target emits by default, plus the simd128 set in .cargo/config.toml.
node_modules/.bin/wasm-opt pkg/transformer_playground_bg.wasm -O3 -o pkg/transformer_playground_bg.wasm \
  --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-reference-types --enable-multivalue --enable-mutable-globals

raw=$(wc -c < pkg/transformer_playground_bg.wasm)
gz=$(gzip -9 -c pkg/transformer_playground_bg.wasm | wc -c)
say "wasm module: $((raw / 1024)) KiB raw, $((gz / 1024)) KiB gzipped, $gz bytes of a 409600 budget (pkg/transformer_playground_bg.wasm)"

[ "$core_only" = true ] && exit 0
say "vite build"
node_modules/.bin/vite build --logLevel warn
say "page built into dist/"
