import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promote as runPromote, type Run } from '../cli/run-promote.ts';
import { json, startLocalServer, type LocalServer } from '../harness/local-server.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { git } from './git-env.ts';
import { createProject, type TestProject } from './project.ts';

// The http gate through the real CLI: a real registry, a real git ledger (a bare repository as
// the remote), a real server on 127.0.0.1 that the gate asks. `plan` prints its evidence (text
// and JSON), `to` refuses with exit 3 and changes nothing, and a promotion that sent a bearer
// token and a secret header leaves neither anywhere: not in the plan, stderr, ledger or registry.

const TOKEN = 'bearer-7d1e5f0a9b3c4e2d8f6a';
const API_KEY = 'apikey-41c9e8b2a6d0f7e3';

let registry: RegistryServer;
let server: LocalServer;
let base: string;
/** What the server answers on /ready: flipped by the tests. */
let ready = { status: 200, ok: true };

before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-http-gate-cli-'));
  server = await startLocalServer((req, res) => {
    const authorised = req.headers.authorization === `Bearer ${TOKEN}` && req.headers['x-api-key'] === API_KEY;
    if (!authorised) return json(res, 401, { ok: false });
    json(res, ready.status, { ok: ready.ok, digest: new URL(req.url, 'http://x').searchParams.get('digest') });
  });
});
after(async () => {
  await server?.stop();
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

function promote(p: TestProject, args: string[]): Promise<Run> {
  return runPromote(args[0] === 'validate' ? args : [...args, '--insecure'], { cwd: p.dir, env: { ...p.env, PROMOTE_KEY: p.promoterKeyFile, NO_COLOR: '1', HEALTH_TOKEN: TOKEN } });
}

/** Ledger commits and registry tags with what they point at: what a refusal must leave as it was. */
async function snapshot(p: TestProject) {
  let commit = 'none';
  try {
    commit = git(p.ledgerRemote, p.env, 'rev-parse', 'main').trim();
  } catch {
    // no commit yet
  }
  const tags = (await p.registry.listTags()).sort();
  return { commit, tags: await Promise.all(tags.map(async (t) => `${t}=${(await p.registry.resolve(t))?.digest}`)) };
}

/** Every byte the registry holds for the repository: each tag's manifest and the blobs it names. */
async function registryText(p: TestProject): Promise<string> {
  const parts: string[] = [];
  for (const tag of await p.registry.listTags()) {
    const { bytes } = await p.registry.fetchManifest(tag);
    parts.push(bytes.toString('utf8'));
    const manifest = JSON.parse(bytes.toString('utf8')) as { config?: { digest: string; size: number; mediaType: string }; layers?: { digest: string; size: number; mediaType: string }[] };
    for (const d of [manifest.config, ...(manifest.layers ?? [])]) if (d) parts.push((await p.registry.fetchBlobBytes(d)).toString('latin1'));
  }
  return withDecoded(parts.join('\n'));
}

/** `text` and, after it, every long base64 run in it decoded: the DSSE payloads of signed statements. */
function withDecoded(text: string): string {
  const decoded = [...text.matchAll(/[A-Za-z0-9+/]{64,}={0,2}/g)].map((m) => Buffer.from(m[0], 'base64').toString('latin1'));
  return [text, ...decoded].join('\n');
}

/** Every file of a fresh clone of the ledger, and its whole history with patches. */
async function ledgerText(p: TestProject): Promise<string> {
  const clone = join(base, `ledger-clone-${Date.now()}`);
  git(base, p.env, 'clone', '-q', p.ledgerRemote, clone);
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (e.name === '.git') continue;
      if (e.isDirectory()) await walk(join(dir, e.name));
      else files.push(await readFile(join(dir, e.name), 'utf8'));
    }
  };
  await walk(clone);
  return withDecoded([git(clone, p.env, 'log', '-p', '--all', '--format=%H%n%B'), ...files].join('\n'));
}

async function httpProject(name: string): Promise<TestProject> {
  const p = await createProject(join(base, name), registry.host, { name });
  const file = join(p.dir, 'pipelines', 'webapp.yaml');
  const gate = `    - name: dev
      environment: dev
      gates:
        - http:
            url: "${server.url}/ready?digest=\${promote.digest}"
            bearerTokenFrom: {env: HEALTH_TOKEN}
            headers:
              X-Api-Key: {secretFrom: {file: secrets/api-key}}
              X-Promote-Stage: "\${promote.stage}"
            expect: "response.status == 200 && response.json.ok && response.json.digest == promote.digest"
            timeout: 2s
`;
  const text = await readFile(file, 'utf8');
  assert.match(text, /    - \{name: dev, environment: dev, promotion: auto\}\n/);
  await writeFile(file, text.replace('    - {name: dev, environment: dev, promotion: auto}\n', gate));
  await mkdir(join(p.dir, 'secrets'));
  await writeFile(join(p.dir, 'secrets', 'api-key'), `${API_KEY}\n`);
  return p;
}

test('promote plan shows the http gate\'s evidence (text and --output json); promote to refuses with exit 3 and changes nothing when the server says no', async () => {
  const p = await httpProject('http-plan');
  const d1 = await p.push(1);
  ready = { status: 200, ok: true };
  const plan = await promote(p, ['plan', 'dev', '--bundle', d1, '--no-diff']);
  assert.equal(plan.code, 0, plan.stderr + plan.stdout);
  const url = `${server.url}/ready?digest=sha256%3A${d1.slice(7)}`;
  assert.match(plan.stdout, new RegExp(`\\n  pass  http GET ${server.url}/ready\\?digest=\\$\\{promote\\.digest\\}: answered 200; expect holds\\n {10}request: GET ${url.replace(/[?.]/g, '\\$&')}\\n {10}response: 200, application/json, \\d+ bytes of JSON, \\d+ ms\\n {10}expect: response\\.status == 200 && response\\.json\\.ok && response\\.json\\.digest == promote\\.digest → true\\n`));
  const sent = server.requests.at(-1)!;
  assert.deepEqual([sent.method, sent.url, sent.headers['x-promote-stage']], ['GET', `/ready?digest=sha256%3A${d1.slice(7)}`, 'dev']);

  const planJson = await promote(p, ['plan', 'dev', '--bundle', d1, '--no-diff', '--output', 'json']);
  assert.equal(planJson.code, 0, planJson.stderr);
  const gate = JSON.parse(planJson.stdout).gates[0];
  assert.deepEqual([gate.type, gate.passed, gate.evidence.method, gate.evidence.url, gate.evidence.status, gate.evidence.verdict], ['http', true, 'GET', url, 200, true]);
  assert.deepEqual(gate.evidence.headers, { 'X-Api-Key': 'secret from file secrets/api-key', 'X-Promote-Stage': 'as written' });
  assert.equal(gate.evidence.bearerTokenFrom, 'env HEALTH_TOKEN');

  ready = { status: 503, ok: false };
  const before = await snapshot(p);
  const refused = await promote(p, ['to', 'dev', '--bundle', d1]);
  assert.equal(refused.code, 3, refused.stderr + refused.stdout);
  assert.match(refused.stderr, /\n  - http GET \S+: answered 503; expect is false: response\.status == 200/);
  assert.deepEqual(await snapshot(p), before, 'a refusal commits and publishes nothing');
  const refusedJson = await promote(p, ['plan', 'dev', '--bundle', d1, '--no-diff', '--output', 'json']);
  const failed = JSON.parse(refusedJson.stdout).gates[0];
  assert.deepEqual([failed.passed, failed.evidence.status, failed.evidence.verdict], [false, 503, false]);
});

test('a promotion through an http gate with a bearer token and a secret header leaves neither secret in the plan, stderr, ledger or registry', async () => {
  const p = await httpProject('http-secrets');
  const d1 = await p.push(1);
  ready = { status: 200, ok: true };
  const runs: Run[] = [];
  runs.push(await promote(p, ['plan', 'dev', '--bundle', d1, '--output', 'json']));
  const to = await promote(p, ['to', 'dev', '--bundle', d1]);
  runs.push(to);
  assert.equal(to.code, 0, to.stderr + to.stdout);
  const authorised = server.requests.filter((r) => r.headers.authorization === `Bearer ${TOKEN}` && r.headers['x-api-key'] === API_KEY);
  assert.ok(authorised.length >= 2, 'plan and to sent both secrets');
  runs.push(await promote(p, ['history', 'dev', '--output', 'json']));
  runs.push(await promote(p, ['history', 'dev']));
  ready = { status: 500, ok: false };
  runs.push(await promote(p, ['to', 'dev', '--bundle', await p.push(2)]));
  assert.equal(runs.at(-1)!.code, 3, 'the refusal is printed too');

  const ledger = await ledgerText(p);
  assert.match(ledger, /\n +type: http\n/, 'the ledger holds the gate\'s evidence');
  const stored = await registryText(p);
  assert.match(stored, /answered 200; expect holds/, 'the signed record holds the gate\'s verdict');
  assert.match(ledger, /"bearerTokenFrom":"env HEALTH_TOKEN"/, 'the signed statements inside the ledger are searched too (decoded)');
  for (const [where, text] of [['plan --output json', runs[0]!.stdout], ['stdout and stderr', runs.map((r) => r.stdout + r.stderr).join('\n')], ['ledger', ledger], ['registry', stored]] as const) {
    for (const secret of [TOKEN, API_KEY]) assert.ok(!text.includes(secret), `${where} carries a secret`);
  }
});

test('promote validate names file:line:column and the expect pointer for invalid CEL, and exits 4', async () => {
  const p = await httpProject('http-validate');
  const file = join(p.dir, 'pipelines', 'webapp.yaml');
  const text = await readFile(file, 'utf8');
  await writeFile(file, text.replace('expect: "response.status == 200 && response.json.ok', 'expect: "response.status == 200 &&& response.json.ok'));
  const r = await promote(p, ['validate']);
  assert.equal(r.code, 4, r.stderr + r.stdout);
  const line = text.split('\n').findIndex((l) => l.includes('expect: "response.status')) + 1;
  assert.match(r.stderr, new RegExp(`pipelines/webapp\\.yaml:${line}:21: /spec/stages/0/gates/0/http/expect: expect is not a valid CEL expression \\(column 24 of the expression\\): found & but expecting end of input`));
});
