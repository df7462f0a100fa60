import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { environmentYaml, makeProject, PARAMS_SCHEMA, type ProjectFiles } from './project.ts';

// Every bad input of issue 4, through the real CLI (`promote validate` and `promote render -o`):
// exit 4, the precise message parts, and nothing rendered or written.

const bin = fileURLToPath(new URL('../../bin/promote.js', import.meta.url));

/** Runs the CLI without blocking, so tests marked concurrent really overlap. */
function promote(cwd: string, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd, env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

const env = (body: string) => ({ 'environments/dev.yaml': environmentYaml('dev', body) });

interface BadInput {
  name: string;
  files: ProjectFiles;
  /** Lines (or parts of lines) the text error output must contain. */
  expect: (string | RegExp)[];
  /** Must appear nowhere in any output. */
  never?: string;
  /** Only `validate` sees it (a manifest problem that renders fine is not a render error). */
  prepare?: (dir: string) => Promise<void>;
}

const CASES: BadInput[] = [
  {
    name: 'a wrong type',
    files: env('  parameters:\n    namespace: dev\n    replicas: three\n'),
    expect: ['environments/dev.yaml:8:15: /spec/parameters/replicas: must be integer (expected integer, got string "three")'],
  },
  {
    name: 'a missing required value',
    files: env('  parameters:\n    namespace: dev\n'),
    expect: ['environments/dev.yaml:7:5: /spec/parameters/replicas: missing required property "replicas" (expected a value for "replicas", got nothing) — set it under /spec/parameters'],
  },
  {
    name: 'an unknown key, with a did-you-mean',
    files: env('  parameters:\n    namespace: dev\n    replicas: 1\n    replica: 2\n'),
    expect: [/environments\/dev\.yaml:9:5: \/spec\/parameters\/replica: unknown property "replica" \(expected one of: namespace, replicas, .*, got "replica"\) — did you mean "replicas"\?/],
  },
  {
    name: 'an out-of-range value and a pattern-failing value',
    files: env('  parameters:\n    namespace: Dev_Env\n    replicas: 11\n'),
    expect: [
      'environments/dev.yaml:7:16: /spec/parameters/namespace: does not match the required pattern (expected a string matching /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, got "Dev_Env")',
      'environments/dev.yaml:8:15: /spec/parameters/replicas: out of range: must be <= 10 (expected <= 10, got 11)',
    ],
  },
  {
    name: 'an undeclared reference in a template',
    files: { 'manifests/extra.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  size: "${params.replica}"\n' },
    expect: [/manifests\/extra\.yaml:6:10: \/data\/size: \$\{params\.replica\} refers to parameter "replica", which the parameter schema does not declare \(expected a declared parameter: namespace, replicas, .*got \$\{params\.replica\}\) — did you mean \$\{params\.replicas\}\?/],
  },
  {
    name: 'a secret given as a literal',
    files: env('  parameters:\n    namespace: dev\n    replicas: 1\n    apiKey: sk-live-DO-NOT-PRINT-42\n'),
    expect: ['environments/dev.yaml:9:13: /spec/parameters/apiKey: a secret parameter must be a reference, never a literal value (the value is not shown) (expected {secretRef: {name, key}}, got a literal string)'],
    never: 'DO-NOT-PRINT',
  },
  {
    name: 'a YAML syntax error, with line and column',
    files: { 'environments/dev.yaml': 'apiVersion: promote/v1\nkind: Environment\nmetadata:\n  name: dev\nspec:\n  parameters: {namespace: dev, replicas: 1\n' },
    expect: [/environments\/dev\.yaml:7:1: .*flow/i],
  },
  {
    name: 'duplicate keys',
    files: env('  parameters:\n    namespace: dev\n    replicas: 1\n    replicas: 2\n'),
    expect: ['environments/dev.yaml:9:5: duplicate key "replicas": a key may appear only once in a mapping'],
  },
  {
    name: 'a YAML alias bomb',
    files: {
      'environments/dev.yaml':
        environmentYaml('dev', '  parameters:\n    namespace: dev\n    replicas: 1\n') +
        'x: &a [l, l, l, l, l, l, l, l, l]\n' +
        'bcdefghijklmnop'.split('').map((n, i) => `${n}: &${n} [${Array(9).fill(`*${i === 0 ? 'a' : 'bcdefghijklmnop'[i - 1]}`).join(', ')}]\n`).join(''),
    },
    expect: ['environments/dev.yaml: aliases (*name) expand to more nodes than allowed (expected at most 100 alias expansions)'],
  },
  {
    name: 'a 50 MB parameter file',
    files: {},
    prepare: async (dir) => {
      const file = join(dir, 'environments/dev.yaml');
      await writeFile(file, '');
      await truncate(file, 50 * 1024 * 1024);
    },
    expect: [/environments\/dev\.yaml: too large: 50 MiB, over the 1 MiB limit for this document \(expected at most 1048576 bytes, got 52428800 bytes\)/],
  },
  {
    name: 'a schema that is itself invalid',
    files: { 'params.schema.json': { ...PARAMS_SCHEMA, properties: { ...PARAMS_SCHEMA.properties, replicas: { type: 'integer', minimun: 1 } } } },
    expect: [/params\.schema\.json is not a valid JSON Schema: strict mode: unknown keyword: "minimun"/],
  },
];

// Each case spawns the CLI a few times; two at a time keeps the suite quick on 2 cores.
describe('bad input', { concurrency: 2 }, () => {
  for (const c of CASES) {
    test(`bad input — ${c.name}: validate and render exit 4 with a precise message; nothing written`, async (t) => {
      const dir = await makeProject(t, c.files);
      await c.prepare?.(dir);
      const v = await promote(dir, 'validate');
      assert.equal(v.code, 4, `validate: ${v.stderr}`);
      assert.equal(v.stdout, '');
      for (const e of c.expect) {
        if (typeof e === 'string') assert.ok(v.stderr.includes(e), `validate output lacks:\n${e}\n---\n${v.stderr}`);
        else assert.match(v.stderr, e);
      }
      const r = await promote(dir, 'render', '.', '--env', 'dev', '-o', 'out');
      assert.equal(r.code, 4, `render: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.equal(existsSync(join(dir, 'out')), false, 'nothing written');
      if (c.never) {
        const s = await promote(dir, 'render', '.', '--env', 'dev');
        assert.equal(s.code, 4);
        assert.equal(s.stdout, '', 'nothing rendered to stdout');
        for (const out of [v.stdout, v.stderr, r.stdout, r.stderr, s.stdout, s.stderr]) assert.ok(!out.includes(c.never), 'a secret value was printed');
        const j = await promote(dir, 'validate', '--output', 'json');
        assert.ok(!j.stdout.includes(c.never) && !j.stderr.includes(c.never));
      }
    });
  }
});

test('validate lists every problem of every document at once, as JSON too', async (t) => {
  const dir = await makeProject(t, {
    'environments/dev.yaml': environmentYaml('dev', '  parameters:\n    namespace: dev\n    replicas: 0\n'),
    'environments/prod.yaml': environmentYaml('prod', '  parameters:\n    namespace: prod\n    replica: 3\n'),
    'manifests/extra.yaml': 'a: ${params.nope}\n',
  });
  const r = await promote(dir, 'validate', '--output', 'json');
  assert.equal(r.code, 4);
  const body = JSON.parse(r.stdout) as { error: { code: string; problems: { file: string; rule: string }[] } };
  assert.equal(body.error.code, 'VALIDATION_FAILED');
  assert.deepEqual(body.error.problems.map((p) => `${p.file} ${p.rule}`).sort(), [
    'environments/dev.yaml minimum',
    'environments/prod.yaml required',
    'environments/prod.yaml unevaluatedProperties',
    'manifests/extra.yaml undeclared-reference',
  ].sort());
});

test('a valid project validates and renders; render -o writes the files', async (t) => {
  const dir = await makeProject(t);
  const v = await promote(dir, 'validate');
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, /environment dev: valid \(parameters satisfy the bundle schema\)/);
  const r = await promote(dir, 'render', '.', '--env', 'dev', '-o', 'out');
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(join(dir, 'out/manifests/deployment.yaml')));
  const again = await promote(dir, 'render', '.', '--env', 'dev', '-o', 'out');
  assert.equal(again.code, 2, 'never overwrites a non-empty directory');
  assert.match(again.stderr, /out already exists and is not empty/);
});

test('render without --env is a usage error; --help teaches with examples', async (t) => {
  const dir = await makeProject(t);
  const r = await promote(dir, 'render', '.');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /render needs --env <name>/);
  for (const cmd of ['validate', 'render', 'diff-env']) {
    const h = await promote(dir, cmd, '--help');
    assert.equal(h.code, 0);
    assert.match(h.stdout, /Examples:\n  # /);
  }
});

test('validate checks pipelines with the environments and parameters, all problems in one run', async (t) => {
  const dir = await makeProject(t, {
    'pipelines/web.yaml': 'apiVersion: promote/v1\nkind: Pipeline\nmetadata: {name: web}\nspec:\n  repository: oci:./r\n  stages:\n    - {name: dev, environment: dev}\n    - {name: prod, environment: production, from: qa, promotion: auto}\n',
    'environments/dev.yaml': environmentYaml('dev', '  parameters:\n    namespace: dev\n    replicas: 0\n'),
  });
  const r = await promote(dir, 'validate');
  assert.equal(r.code, 4);
  assert.match(r.stderr, /pipelines\/web\.yaml:8:/);
  assert.match(r.stderr, /environments\/dev\.yaml:8:15: \/spec\/parameters\/replicas: out of range/);
});

test('the podinfo example (bundle, three environments, pipeline) validates', async () => {
  const r = await promote(fileURLToPath(new URL('../fixtures/podinfo-bundle/', import.meta.url)), 'validate');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /pipeline pipelines\/webapp\.yaml: valid/);
  assert.match(r.stdout, /environment production: valid \(parameters satisfy the bundle schema for clusters prod-eu-1, prod-us-1\)/);
});
