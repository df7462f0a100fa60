// Compiled validators kept between runs (src/params/stored-validators.ts, schema-validator.ts).
// Each run is its own process, as a CLI run is: the first compiles with ajv and stores the code,
// the next loads it — and must validate, fill in defaults and report errors exactly as the first,
// without loading ajv. A stored file anyone else could have written is not run.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, chown, cp, lstat, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { STORED_VALIDATORS_MAX, store, storeValidatorsIn, storing } from '../../src/params/stored-validators.ts';

const src = new URL('../../src/', import.meta.url).href;
const bin = fileURLToPath(new URL('../../bin/promote.js', import.meta.url));

let base: string;
before(async () => {
  base = await mkdtemp(join(tmpdir(), 'promote-stored-validators-'));
});
after(() => rm(base, { recursive: true, force: true }));

/** Schemas using what a stored validator needs at run time: RE2 patterns, formats, deep equality, string length, defaults, unevaluated properties, references. */
const CASES: { schema: object; data: unknown[] }[] = [
  {
    schema: {
      type: 'object',
      required: ['namespace'],
      properties: {
        namespace: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 10 },
        replicas: { type: 'integer', minimum: 1, default: 2 },
        resources: { type: 'object', default: {}, properties: { cpu: { type: 'string', default: '100m' } }, unevaluatedProperties: false },
        hosts: { type: 'array', items: { type: 'string', format: 'hostname' }, uniqueItems: true, default: [] },
        mode: { enum: ['a', { b: [1, 2] }] },
        fixed: { const: { x: [1, { y: null }] } },
        contact: { type: 'string', format: 'email' },
        homepage: { type: 'string', format: 'uri' },
        when: { type: 'string', format: 'date-time' },
        match: { type: 'string', format: 'regex' },
        labels: { type: 'object', patternProperties: { '^[a-z]+$': { type: 'string' } }, additionalProperties: false },
        token: { 'x-promote-secret': true, type: 'object', required: ['secretRef'], properties: { secretRef: { type: 'object' } } },
      },
      unevaluatedProperties: false,
    },
    data: [
      { namespace: 'dev' },
      { namespace: 'Dev_1', replicas: 0, typo: true },
      { namespace: 'x'.repeat(11), hosts: ['a.example.com', 'a.example.com', 'not a host'], resources: { cpu: 1, mem: '1Gi' } },
      { namespace: 'ok', mode: { b: [1, 2] }, fixed: { x: [1, { y: null }] }, contact: 'a@example.com', homepage: 'https://example.com/x', when: '2026-12-01T10:00:00Z', match: '^a+$' },
      { namespace: 'ok', mode: { b: [2, 1] }, fixed: { x: [1] }, contact: 'nope', homepage: 'not a uri', when: 'yesterday', match: '(a)\\1', labels: { ok: 'v', BAD: 'v', other: 1 } },
      { namespace: '😀😀😀😀😀😀😀😀😀😀' },
      'not an object',
    ],
  },
  {
    schema: {
      $defs: { port: { type: 'integer', minimum: 1, maximum: 65535 } },
      type: 'object',
      properties: {
        ports: { type: 'array', items: { $ref: '#/$defs/port' }, maxItems: 3 },
        pair: { type: 'array', prefixItems: [{ type: 'string' }, { $ref: '#/$defs/port' }], minItems: 2, items: false },
        tls: { oneOf: [{ type: 'boolean' }, { type: 'object', required: ['secret'], properties: { secret: { type: 'string', minLength: 1 } } }] },
      },
      if: { properties: { tls: { const: true } }, required: ['tls'] },
      then: { properties: { ports: { type: 'array', minItems: 1 } }, required: ['ports'] },
      dependentSchemas: { ports: { properties: { tls: { not: { const: false } } }, required: ['tls'] } },
    },
    data: [{}, { ports: [80, 443] }, { ports: [0, 70000, 1, 2], tls: true }, { tls: { secret: '' } }, { tls: true }, { pair: ['a', 80] }, { pair: ['a', 0, 1] }, { pair: [1] }],
  },
];

interface Run {
  results: { ok: boolean; data: unknown; errors: unknown }[];
  ajvLoaded: boolean;
}

/** Validates every case in a new process, with compiled validators kept in `dir` (or nowhere). */
function run(dir: string | undefined): Run {
  const script = `
    import { createRequire } from 'node:module';
    import { schemaValidator } from ${JSON.stringify(`${src}params/schema-validator.ts`)};
    import { storeValidatorsIn, storing } from ${JSON.stringify(`${src}params/stored-validators.ts`)};
    storeValidatorsIn(process.env.STORE_DIR || undefined);
    const results = [];
    for (const { schema, data } of JSON.parse(process.env.CASES)) {
      const validate = schemaValidator(schema);
      for (const d of data) {
        const copy = structuredClone(d);
        const ok = validate(copy);
        results.push({ ok, data: copy, errors: validate.errors });
      }
    }
    await storing();
    const ajvLoaded = Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/ajv/dist/core.js'));
    process.stdout.write(JSON.stringify({ results, ajvLoaded }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, STORE_DIR: dir ?? '', CASES: JSON.stringify(CASES) } });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Run;
}

const cjsFiles = async (dir: string) => (await readdir(dir)).filter((n) => n.endsWith('.cjs')).sort();

test('a stored validator validates, fills in defaults and reports every error exactly as ajv compiling the schema, without loading ajv', async () => {
  const dir = join(base, 'equal');
  const plain = run(undefined);
  const first = run(dir);
  assert.equal((await cjsFiles(dir)).length, CASES.length, 'one stored validator per schema');
  const second = run(dir);
  assert.ok(plain.ajvLoaded && first.ajvLoaded);
  assert.equal(second.ajvLoaded, false, 'the second run loaded ajv');
  assert.deepEqual(first.results, plain.results);
  assert.deepEqual(second.results, plain.results);
  // The cases do exercise it: defaults filled in, errors of several keywords, valid data too.
  assert.deepEqual(plain.results[0]!.data, { namespace: 'dev', replicas: 2, resources: { cpu: '100m' }, hosts: [] });
  const keywords = new Set(plain.results.flatMap((r) => ((r.errors ?? []) as { keyword: string }[]).map((e) => e.keyword)));
  for (const k of ['pattern', 'maxLength', 'minimum', 'unevaluatedProperties', 'uniqueItems', 'format', 'enum', 'const', 'additionalProperties', 'oneOf', 'required', 'type', 'maximum', 'maxItems', 'minLength']) assert.ok(keywords.has(k), `no ${k} error among the cases`);
  assert.ok(plain.results.some((r) => r.ok) && plain.results.some((r) => !r.ok));
});

test('a stored validator that anyone else could have written, reached through a symlink, or cut short is not run: the schema is compiled again', async () => {
  const dir = join(base, 'planted');
  const honest = run(dir);
  const [name] = await cjsFiles(dir);
  const file = join(dir, name!);
  const good = await readFile(file, 'utf8');
  // What an attacker would plant under the key: a validator that accepts anything.
  const planted = good.replace(/exports\.create = function \(require\) \{[\s\S]*$/, 'exports.create = function () { const v = () => true; v.errors = null; return v; };\n');
  assert.notEqual(planted, good);
  const accepted = (r: Run) => r.results.slice(0, CASES[0]!.data.length).every((x) => x.ok);
  const planting: [string, () => Promise<void>][] = [
    ['group-writable file', async () => {
      await writeFile(file, planted);
      await chmod(file, 0o664);
    }],
    ['world-writable directory', async () => {
      await writeFile(file, planted);
      await chmod(file, 0o644);
      await chmod(dir, 0o777);
    }],
    ['symlink', async () => {
      await chmod(dir, 0o700);
      await rm(file);
      const elsewhere = join(base, 'elsewhere.cjs');
      await writeFile(elsewhere, planted);
      await symlink(elsewhere, file);
    }],
    ['cut short', async () => {
      await rm(file);
      await writeFile(file, good.slice(0, good.length - 4));
    }],
  ];
  if (process.getuid?.() === 0) {
    planting.push(['file of another user', async () => {
      await rm(file);
      await writeFile(file, planted);
      await chown(file, 65534, 65534);
    }]);
  }
  for (const [what, plant] of planting) {
    await plant();
    const r = run(dir);
    assert.equal(r.ajvLoaded, true, `${what}: compiled again`);
    assert.deepEqual(r.results, honest.results, what);
  }
  // The control: the same planted module, written as the user would write it, is run — which is
  // why the checks above matter.
  await rm(file, { force: true });
  await writeFile(file, planted);
  await chmod(file, 0o644);
  assert.equal(accepted(run(dir)), true);
});

test(`at most ${STORED_VALIDATORS_MAX} validators are kept: the oldest written go first`, async () => {
  const dir = join(base, 'bounded');
  storeValidatorsIn(dir);
  try {
    for (let i = 0; i < STORED_VALIDATORS_MAX + 3; i++) void store(`k${String(i).padStart(4, '0')}`, 'module.exports = function () {};');
    await storing();
  } finally {
    storeValidatorsIn(undefined);
  }
  const names = await cjsFiles(dir);
  assert.equal(names.length, STORED_VALIDATORS_MAX);
  assert.deepEqual(names.slice(0, 2), ['k0003.cjs', 'k0004.cjs']);
  assert.equal(((await lstat(dir)).mode & 0o777).toString(8), '700');
});

test('promote render keeps the parameter schema compiled in the cache root: the next render loads no ajv and prints the same, errors included', async () => {
  const bundle = join(base, 'bundle');
  await cp(fileURLToPath(new URL('../fixtures/podinfo-bundle', import.meta.url)), bundle, { recursive: true });
  await writeFile(join(bundle, 'environments', 'broken.yaml'), 'apiVersion: promote/v1\nkind: Environment\nmetadata: {name: broken}\nspec:\n  parameters: {namespace: Not_A_Label, cache: {maxMemory: lots}}\n');
  const cache = join(base, 'cache');
  const probe = join(base, 'probe.mjs');
  await writeFile(probe, "import { createRequire } from 'node:module';\nimport { appendFileSync } from 'node:fs';\nprocess.on('exit', () => appendFileSync(process.env.PROBE_FILE, Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/ajv/dist/core.js')) + '\\n'));\n");
  let n = 0;
  const render = async (env: string, root = cache) => {
    const marks = join(base, `marks-${n++}`);
    const r = spawnSync(process.execPath, ['--import', probe, bin, 'render', bundle, '--env', env], { encoding: 'utf8', env: { ...process.env, PROMOTE_CACHE_DIR: root, PROBE_FILE: marks, NO_COLOR: '1' } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr, ajv: (await readFile(marks, 'utf8')).trim() };
  };
  const first = await render('staging');
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.ajv, 'true');
  assert.equal((await cjsFiles(join(cache, 'validators'))).length, 1);
  const second = await render('staging');
  assert.equal(second.ajv, 'false');
  assert.deepEqual({ ...second, ajv: '' }, { ...first, ajv: '' });
  // Refused parameters: the stored validator reports what the compiled one does, word for word.
  const compiled = await render('broken', join(base, 'fresh-cache'));
  const stored = await render('broken');
  assert.deepEqual([compiled.ajv, stored.ajv], ['true', 'false']);
  assert.equal(compiled.code, 4);
  assert.match(compiled.stderr, /namespace[\s\S]*maxMemory/);
  assert.deepEqual(stored, { ...compiled, ajv: 'false' });
});
