// Every WGSL file in shaders/ compiles in Chromium's WebGPU (Tint), which is stricter than naga (the native
// validator) in places: each module must compile without errors and build a compute pipeline with its
// default override constants.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openPage, skipReason } from '../harness.mjs';

const shadersDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shaders');

test('every shader compiles and links in the browser', { skip: skipReason() }, async () => {
  const sources = readdirSync(shadersDir)
    .filter((name) => name.endsWith('.wgsl'))
    .map((name) => ({ name, code: readFileSync(join(shadersDir, name), 'utf8') }))
    // Shaders using subgroup built-ins (matmul_forward_subgroup.wgsl) carry no `enable subgroups;` (naga rejects
    // it); a browser needs it, and the device needs the 'subgroups' feature.
    .map((shader) => ({ ...shader, subgroups: /\bsubgroup[A-Z]\w*\(|\bsubgroup_(size|invocation_id)\b/.test(shader.code) }));
  assert.ok(sources.length >= 20, `found ${sources.length} shaders`);
  const { page, close } = await openPage('tests/browser/bindings/fixtures/blank.html', { root: 'repo' });
  try {
    const results = await page.evaluate(async (sources) => {
      const adapter = await navigator.gpu.requestAdapter();
      const hasSubgroups = adapter.features.has('subgroups');
      const device = await adapter.requestDevice({
        requiredFeatures: hasSubgroups ? ['subgroups'] : [],
        requiredLimits: { maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage },
      });
      const out = [];
      for (const { name, code, subgroups } of sources) {
        if (subgroups && !hasSubgroups) {
          out.push({ name, errors: [], skipped: 'the adapter has no subgroups' });
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
