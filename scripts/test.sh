#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests (with the native GPU tests on whatever Vulkan adapter exists;
# lavapipe here), then the browser tests in headless Chromium with WebGPU on SwiftShader.
# With CI=true nothing GPU-related may skip: a missing adapter or browser fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\n\033[1m[test]\033[0m %s\n' "$*" >&2; }

bash scripts/bootstrap.sh test
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

say "Rust tests without the GPU layer (the CPU reference, model and tokenizer stand alone: no wgpu)"
cargo test -p transformer-playground --no-default-features

say "Rust tests (CPU reference, native GPU kernels)"
# --show-output prints what passing tests wrote: each GPU test names the adapter it ran on.
cargo test --workspace -- --show-output

say "building the wasm core and the page"
bash scripts/build.sh

say "Node tests (the wasm build under Node: CPU model)"
node --test tests/node/

say "npm package tests (pack + install + Node, Vite bundle in Chromium, example page)"
npm run test:package

say "browser tests (headless Chromium, WebGPU)"
node --test --test-concurrency=1 tests/browser/
