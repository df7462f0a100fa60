// Issue 12 §14 and §15 through the real CLI: a parameter schema whose pattern backtracks
// catastrophically (in a bundle directory and in a pushed bundle), patterns the linear-time
// engine cannot run, and a schema nested 20,000 levels deep. Before, the first hung `validate`
// and `render` (and `to`, and the agent) for ever, and the last crashed with "Maximum call
// stack size exceeded" reported as an internal error (exit 1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { LayoutRegistry } from '../../src/oci/layout-registry.ts';
import { spawn } from 'node:child_process';
import { BIN, cleanEnv, craftTarGz } from '../bundle/helpers.ts';
import { environmentYaml, makeProject, PARAMS_SCHEMA } from '../params/project.ts';
import { pushCrafted } from './crafted.ts';

/** The real CLI, killed after 20 s: a hang fails the test (exit null) instead of stalling the suite. */
function run(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: cleanEnv({ NO_COLOR: '1' }), timeout: 20_000, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end();
  });
}

// ^(a+)+$ against 40 a's and a '!' takes 2^40 steps on a backtracking engine.
const EVIL = { ...PARAMS_SCHEMA, properties: { ...PARAMS_SCHEMA.properties, name: { type: 'string', pattern: '^(a+)+$' } } };
const EVIL_ENV = { 'environments/dev.yaml': environmentYaml('dev', `  parameters:\n    namespace: dev\n    replicas: 1\n    name: "${'a'.repeat(40)}!"\n`) };

test('a catastrophically backtracking pattern: validate and render answer at once (exit 4), naming the parameter', async (t) => {
  const dir = await makeProject(t, { 'params.schema.json': EVIL, ...EVIL_ENV });
  const started = Date.now();
  const validated = await run(['validate'], dir);
  assert.equal(validated.code, 4, validated.stderr);
  assert.match(validated.stderr, /dev\.yaml:\d+:\d+: \/spec\/parameters\/name: does not match the required pattern/);
  const rendered = await run(['render', '.', '--env', 'dev'], dir);
  assert.equal(rendered.code, 4, rendered.stderr);
  assert.equal(rendered.stdout, '');
  assert.ok(Date.now() - started < 20_000);
});

test('the same schema in a pushed bundle: render of the reference answers at once (exit 4)', async (t) => {
  const dir = await makeProject(t, EVIL_ENV);
  const layout = join(dir, 'layout');
  const layer = craftTarGz([
    { name: 'bundle.yaml', content: 'apiVersion: promote/v1\nkind: Bundle\nmetadata: {name: crafted}\nspec: {parameters: params.schema.json, manifests: manifests/}\n' },
    { name: 'params.schema.json', content: JSON.stringify(EVIL) },
    { name: 'manifests/cm.yaml', content: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n' },
  ]);
  // The config says what the layer's bundle.yaml says (no files/): only the schema is hostile.
  await pushCrafted(new LayoutRegistry(layout), 'evil', { layer, config: { parameterSchema: EVIL, files: undefined } });
  const rendered = await run(['render', `oci:${layout}:evil`, '--env', 'dev'], dir);
  assert.equal(rendered.code, 4, rendered.stderr);
  assert.match(rendered.stderr, /\/spec\/parameters\/name: does not match the required pattern/);
});

test('patterns RE2 cannot run (backreference, lookaround) are refused with their schema pointer', async (t) => {
  for (const [schema, pointer, why] of [
    [{ type: 'object', properties: { a: { type: 'string', pattern: '^(x)\\1$' } } }, '/properties/a/pattern', /invalid escape sequence/],
    [{ type: 'object', patternProperties: { '^(?=a)': { type: 'string' } } }, '/patternProperties/^(?=a)', /unsupported Perl syntax/],
    [{ type: 'object', propertyNames: { pattern: '(?<!x)y' } }, '/propertyNames/pattern', /invalid named capture/],
  ] as const) {
    const dir = await makeProject(t, { 'params.schema.json': schema, 'manifests/deployment.yaml': 'kind: ConfigMap\n', 'environments/dev.yaml': environmentYaml('dev', '  parameters: {}\n') });
    const result = await run(['validate'], dir);
    assert.equal(result.code, 4, result.stderr);
    assert.ok(result.stderr.includes(`params.schema.json: ${pointer}: RE2 cannot run`), result.stderr);
    assert.match(result.stderr, why);
    assert.doesNotMatch(result.stderr, /internal|stack/i);
  }
});

test('format "regex" values are checked by the same engine', async (t) => {
  const schema = { type: 'object', properties: { filter: { type: 'string', format: 'regex' } } };
  const dir = await makeProject(t, { 'params.schema.json': schema, 'manifests/deployment.yaml': 'kind: ConfigMap\n', 'environments/dev.yaml': environmentYaml('dev', '  parameters: {filter: "(a)\\\\1"}\n') });
  const result = await run(['validate'], dir);
  assert.equal(result.code, 4, result.stderr);
  assert.match(result.stderr, /\/spec\/parameters\/filter: not a valid regex/);
});

/** A schema nested `depth` levels deep, as text (JSON.stringify itself would overflow). */
function nested(depth: number): string {
  return `${'{"type":"object","properties":{"a":'.repeat(depth)}{"type":"string"}${'}}'.repeat(depth)}`;
}

test('a schema nested 20,000 levels deep is refused with a clear error (exit 4), in a directory and in a pushed bundle', async (t) => {
  const dir = await makeProject(t, { 'params.schema.json': nested(20_000), 'manifests/deployment.yaml': 'kind: ConfigMap\n', 'environments/dev.yaml': environmentYaml('dev', '  parameters: {}\n') });
  for (const args of [['validate'], ['render', '.', '--env', 'dev']]) {
    const result = await run(args, dir);
    assert.equal(result.code, 4, `${args[0]}: ${result.stderr}`);
    assert.match(result.stderr, /nests more than 128 levels deep \(at \/properties\/a\/properties\/a/);
    assert.doesNotMatch(result.stderr, /Maximum call stack|internal/i);
  }
  const layout = join(dir, 'layout');
  // The config blob is written by hand: canonical JSON itself recurses.
  const config = Buffer.from(`{"created":"1970-01-01T00:00:00Z","manifests":"manifests/","name":"deep","parameterSchema":${nested(20_000)}}`);
  await pushCrafted(new LayoutRegistry(layout), 'deep', { layer: craftTarGz([{ name: 'manifests/cm.yaml', content: 'kind: ConfigMap\n' }]), configBytes: config });
  for (const args of [['render', `oci:${layout}:deep`, '--env', 'dev'], ['inspect', `oci:${layout}:deep`], ['pull', `oci:${layout}:deep`, '-o', join(dir, 'out')]]) {
    const result = await run(args, dir);
    assert.equal(result.code, 4, `${args[0]}: ${result.stderr}`);
    assert.match(result.stderr, /the bundle config of .* nests more than 128 levels deep/);
  }
});

test('a manifest over BUNDLE_MAX_MANIFEST_BYTES is refused before it is read (exit 4, naming the file and the limit)', async (t) => {
  const dir = await makeProject(t, { 'manifests/huge.yaml': `data: "${'x'.repeat(4 * 1024 * 1024)}"\n` });
  const result = await run(['render', '.', '--env', 'dev'], dir);
  assert.equal(result.code, 4, result.stderr);
  assert.match(result.stderr, /the manifest manifests\/huge\.yaml is 4\.0 MiB, over the limit of 4 MiB for one manifest/);
  assert.match(result.stderr, /spec\.files/);
});
