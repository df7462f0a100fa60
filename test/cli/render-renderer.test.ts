// `promote render` says what rendered the bundle: on stderr and in a header comment for a chart
// (a comment, so the stream stays the YAML it was), and as `renderer` in --output json. The real
// CLI, the real helm (test/harness/render-tools.ts).
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { cleanEnv } from '../bundle/helpers.ts';
import { renderTools, type RenderTools } from '../harness/render-tools.ts';
import { promote } from './run-promote.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

let base: string;
let tools: RenderTools;
before(async () => {
  base = await mkdtemp(join(tmpdir(), 'promote-render-renderer-'));
  tools = await renderTools();
});
after(async () => {
  await rm(base, { recursive: true, force: true });
});

test('a plain bundle: --output json says renderer {kind: plain}; nothing about it on stderr or in the stream', async () => {
  const r = await promote(['render', '.', '--env', 'staging', '--output', 'json'], { cwd: fixture('podinfo-bundle'), env: cleanEnv({ NO_COLOR: '1' }) });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).renderer, { kind: 'plain' });
  assert.doesNotMatch(r.stderr, /rendered by/);
  const text = await promote(['render', '.', '--env', 'staging'], { cwd: fixture('podinfo-bundle'), env: cleanEnv({ NO_COLOR: '1' }) });
  assert.doesNotMatch(text.stdout, /rendered by/);
});

test('a helm bundle: helm and its version on stderr (with the binary run), in the header comment and in --output json; the stream parses to the documents json lists', async () => {
  const bundle = join(base, 'helm');
  await cp(fixture('helm-small'), bundle, { recursive: true });
  await mkdir(join(bundle, 'environments'));
  await writeFile(join(bundle, 'environments', 'dev.yaml'), 'apiVersion: promote/v1\nkind: Environment\nmetadata: {name: dev}\nspec:\n  parameters: {namespace: dev, replicas: 2}\n');
  const env = cleanEnv({ NO_COLOR: '1', PROMOTE_HELM: tools.helm });

  const text = await promote(['render', bundle, '--env', 'dev'], { cwd: base, env });
  assert.equal(text.code, 0, text.stderr);
  const version = new RegExp(`helm ${tools.helmVersion.replace(/\./g, '\\.')}\\S*`);
  assert.match(text.stderr, new RegExp(`^rendered by ${version.source} \\(${tools.helm.replace(/[.+]/g, '\\$&')}\\)$`, 'm'));
  const header = text.stdout.slice(0, text.stdout.indexOf('\n---'));
  assert.match(header, new RegExp(`\\n# rendered by ${version.source}$`));
  assert.ok(!header.includes(tools.helm), 'the stream names no path of this machine');

  const json = await promote(['render', bundle, '--env', 'dev', '--output', 'json'], { cwd: base, env });
  assert.equal(json.code, 0, json.stderr);
  const data = JSON.parse(json.stdout) as { renderer: { kind: string; version: string; binary: string }; files: { documents?: unknown[] }[] };
  assert.equal(data.renderer.kind, 'helm');
  assert.match(data.renderer.version, new RegExp(`^${tools.helmVersion.replace(/\./g, '\\.')}`));
  assert.equal(data.renderer.binary, tools.helm);
  const docs = parseAllDocuments(text.stdout).map((d) => d.toJS()).filter(Boolean);
  assert.deepEqual(docs, data.files.flatMap((f) => f.documents ?? []), 'the header comment changes nothing a YAML reader sees');
  assert.ok(docs.some((d) => (d as { kind?: string }).kind === 'Deployment'));
});

test('a kustomize bundle rendered by a kubectl (PROMOTE_KUSTOMIZE): kustomize, its version and the kubectl on stderr, and in --output json', async () => {
  const bundle = join(base, 'kustomize');
  await cp(fixture('kustomize-small'), bundle, { recursive: true });
  await mkdir(join(bundle, 'environments'));
  await writeFile(join(bundle, 'environments', 'dev.yaml'), 'apiVersion: promote/v1\nkind: Environment\nmetadata: {name: dev}\nspec:\n  parameters: {namespace: dev, replicas: 2}\n');
  const env = cleanEnv({ NO_COLOR: '1', PROMOTE_KUSTOMIZE: tools.kubectl });
  const r = await promote(['render', bundle, '--env', 'dev', '--output', 'json'], { cwd: base, env });
  assert.equal(r.code, 0, r.stderr);
  const data = JSON.parse(r.stdout) as { renderer: { kind: string; version: string; binary: string } };
  assert.equal(data.renderer.kind, 'kustomize');
  assert.ok(data.renderer.version.includes(tools.kustomizeVersion), data.renderer.version);
  assert.equal(data.renderer.binary, tools.kubectl);
  assert.ok(r.stderr.includes(`rendered by kustomize ${data.renderer.version} (${tools.kubectl})`), r.stderr);
});
