// Every WGSL kernel compiles in Chromium's WebGPU (Tint), which is stricter than naga (the native validator) in
// places: each module must compile without errors and build a compute pipeline with its default override constants.
// What is compiled is what the wasm module carries: the kernels of shaders/ as crate/build.rs expanded them (their
// `#include`d pieces pasted in, comments stripped), read from the wasm build's OUT_DIR.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openPage, skipReason } from '../harness.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const shadersDir = join(root, 'shaders');

/** The newest `out/shaders` folder of the crate's wasm release build (scripts/build.sh), or undefined. */
function expandedShadersDir() {
  const buildDir = join(process.env.CARGO_TARGET_DIR ?? join(root, 'target'), 'wasm32-unknown-unknown', 'release', 'build');
  if (!existsSync(buildDir)) return undefined;
  return readdirSync(buildDir)
    .filter((name) => name.startsWith('transformer-playground-'))
    .map((name) => join(buildDir, name, 'out', 'shaders'))
    .filter((dir) => existsSync(dir))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

/** Every .wgsl file below `dir`, with its modification time. */
function sourceFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.wgsl') ? [{ path, mtimeMs: statSync(path).mtimeMs }] : [];
  });
}

test('every shader compiles and links in the browser', { skip: skipReason() }, async () => {
  const expanded = expandedShadersDir();
  assert.ok(expanded, 'no expanded shaders from the wasm build: run scripts/build.sh first');
  // Kernels are the files directly in shaders/; shaders/include/ holds the pieces pasted into them.
  const ownKernels = readdirSync(shadersDir).filter((name) => name.endsWith('.wgsl'));
  // A kernel with the line `#variants f16` is also built as `<name>_f16.wgsl` (crate/build.rs).
  const f16Variants = ownKernels
    .filter((name) => /^\s*#variants\s+f16\s*$/m.test(readFileSync(join(shadersDir, name), 'utf8')))
    .map((name) => name.replace(/\.wgsl$/, '_f16.wgsl'));
  assert.ok(f16Variants.length > 0, 'no kernel asks for an f16 build');
  const kernels = [...ownKernels, ...f16Variants].sort();
  assert.deepEqual(readdirSync(expanded).filter((name) => name.endsWith('.wgsl')).sort(), kernels,
    `the wasm build's kernels (${expanded}) differ from shaders/ and their f16 builds: run scripts/build.sh again`);
  const built = Math.min(...kernels.map((name) => statSync(join(expanded, name)).mtimeMs));
  const edited = sourceFiles(shadersDir).filter((file) => file.mtimeMs > built).map((file) => file.path);
  assert.deepEqual(edited, [], 'shaders changed after the wasm build: run scripts/build.sh again');

  const sources = kernels
    .map((name) => ({ name, code: readFileSync(join(expanded, name), 'utf8') }))
    // Shaders using subgroup built-ins (matmul_forward_subgroup.wgsl) carry no `enable subgroups;` (naga rejects
    // it); a browser needs it, and the device needs the 'subgroups' feature.
    .map((shader) => ({
      ...shader,
      subgroups: /\bsubgroup[A-Z]\w*\(|\bsubgroup_(size|invocation_id)\b/.test(shader.code),
      f16: /^\s*enable f16;/m.test(shader.code),
    }));
  assert.equal(sources.filter((shader) => shader.f16).length, f16Variants.length, 'every f16 build enables f16');
  assert.ok(sources.length >= 20, `found ${sources.length} shaders`);
  assert.ok(sources.every(({ code }) => !code.includes('#include')), 'a kernel still holds an #include line');
  const { page, close } = await openPage('tests/browser/bindings/fixtures/blank.html', { root: 'repo' });
  try {
    const results = await page.evaluate(async (sources) => {
      const adapter = await navigator.gpu.requestAdapter();
      const hasSubgroups = adapter.features.has('subgroups');
      const hasF16 = adapter.features.has('shader-f16');
      const device = await adapter.requestDevice({
        requiredFeatures: [...(hasSubgroups ? ['subgroups'] : []), ...(hasF16 ? ['shader-f16'] : [])],
        requiredLimits: { maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage },
      });
      const out = [];
      for (const { name, code, subgroups, f16 } of sources) {
        if (subgroups && !hasSubgroups) {
          out.push({ name, errors: [], skipped: 'the adapter has no subgroups' });
          continue;
        }
        // The f16 builds run only where the adapter offers shader-f16 (not SwiftShader); training stays f32 there.
        if (f16 && !hasF16) {
          out.push({ name, errors: [], skipped: 'the adapter has no shader-f16' });
          continue;
        }
        const module = device.createShaderModule({ code: subgroups ? `enable subgroups;\n${code}` : code, label: name });
        const info = await module.getCompilationInfo();
        const errors = info.messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
        if (errors.length === 0) {
          device.pushErrorScope('validation');
          try {
            await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' } });
          } catch (error) {
            errors.push(`pipeline: ${error.message}`);
          }
          const scoped = await device.popErrorScope();
          if (scoped) errors.push(`pipeline: ${scoped.message}`);
        }
        out.push({ name, errors });
      }
      return out;
    }, sources);
    const failures = results.filter((r) => r.errors.length > 0);
    for (const r of results.filter((r) => r.skipped)) console.log(`NOT RUN: ${r.name}: ${r.skipped}`);
    console.log(`${results.length - failures.length} of ${results.length} shaders compile in Chromium`);
    assert.deepEqual(failures, []);
  } finally {
    await close();
  }
});
