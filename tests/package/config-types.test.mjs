// The model config has one definition: the core's `ModelConfig` (crate/src/model/config.rs, serde). The package's
// TypeScript `ModelConfig` (js/src/model.ts, camelCase; the page uses it too) is checked against it here: the
// same fields, the same kinds of value, the same choices for every enum, read from the built core (its JSON and
// its refusals) and from the type declarations with the TypeScript compiler.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ROOT, skipReason } from './helpers.mjs';

const camel = (snake) => snake.replace(/_([a-z])/g, (_, c) => c.toUpperCase());

/** The core's config: each field with the kind of its value, and for an enum its choices (from serde's refusal). */
async function coreConfig() {
  const glue = await import(pathToFileURL(join(ROOT, 'lib', 'wasm', 'transformer_playground.js')).href);
  glue.initSync({ module: readFileSync(join(ROOT, 'lib', 'wasm', 'transformer_playground_bg.wasm')) });
  // A masked-language model: its JSON names the objective (a causal model's leaves it out, as the default).
  const base = { vocab_size: 5, n_layer: 1, n_head: 1, n_embd: 4, block_size: 4, objective: 'mlm', attention_mask: 'bidirectional' };
  const model = new glue.CpuModel(base, 1);
  const json = JSON.parse(model.configJson());
  model.free();
  const fields = {};
  for (const [key, value] of Object.entries(json)) {
    if (typeof value !== 'string') {
      fields[key] = typeof value;
      continue;
    }
    let message = '';
    try {
      new glue.CpuModel({ ...base, [key]: 'no-such-choice' }, 1).free();
    } catch (error) {
      message = error.message;
    }
    const expected = message.match(/expected (?:one of )?(.*)$/);
    assert.ok(expected, `the core names the choices of ${key}: ${message}`);
    fields[key] = [...expected[1].matchAll(/`([^`]+)`/g)].map((m) => m[1]).sort();
  }
  return fields;
}

/** The package's ModelConfig from lib/model.d.ts: each property with 'number', 'boolean' or its string choices. */
function packageConfig() {
  const ts = createRequire(join(ROOT, 'package.json'))('typescript');
  const path = join(ROOT, 'lib', 'model.d.ts');
  const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.ES2022, true);
  const declaration = source.statements.find((s) => ts.isInterfaceDeclaration(s) && s.name.text === 'ModelConfig');
  assert.ok(declaration, 'lib/model.d.ts declares ModelConfig');
  const fields = {};
  for (const member of declaration.members) {
    const name = member.name.getText(source);
    assert.ok(member.questionToken, `${name} is optional (the core has a default for it, or it comes from the tokenizer)`);
    const type = member.type;
    if (ts.isUnionTypeNode(type) && type.types.every((t) => ts.isLiteralTypeNode(t) && ts.isStringLiteral(t.literal))) {
      fields[name] = type.types.map((t) => t.literal.text).sort();
    } else fields[name] = type.getText(source);
  }
  return fields;
}

test("the package's ModelConfig type has the core's fields, kinds of value and enum choices", { skip: skipReason() }, async () => {
  const core = await coreConfig();
  const types = packageConfig();
  console.log(`core: ${JSON.stringify(core)}`);
  assert.deepEqual(Object.keys(types).sort(), Object.keys(core).map(camel).sort(), 'the same fields');
  for (const [key, kind] of Object.entries(core)) assert.deepEqual(types[camel(key)], kind, `${camel(key)}: ${JSON.stringify(types[camel(key)])}`);
});
