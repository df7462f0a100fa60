// `promote plan` names what renders each side of its diff and what the stage's agents report
// rendering with, so a change of helm version is visible before the promotion. Real CLI, real
// registry, real git; status reports written by the one writer agents use.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { publishStatusReport } from '../../src/records/status-report.ts';
import { agentOnce } from '../agent/agent-once.ts';
import { promote as runPromote, type Run } from '../cli/run-promote.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { renderTools, type RenderTools } from '../harness/render-tools.ts';
import { createProject, type TestProject } from './project.ts';
import { HELM_SMALL, pushSigned } from './renderer-fixtures.ts';

let registry: RegistryServer;
let base: string;
let tools: RenderTools;
before(async () => {
  tools = await renderTools();
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-plan-renderer-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

async function ok(p: TestProject, args: string[]): Promise<Run> {
  const r = await runPromote([...args, '--insecure'], { cwd: p.dir, env: { ...p.env, PROMOTE_KEY: p.promoterKeyFile, NO_COLOR: '1', PROMOTE_HELM: tools.helm } });
  assert.equal(r.code, 0, `promote ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r;
}

describe('promote plan shows the renderer (real CLI, real registry)', () => {
  it('plain bundles: --output json says plain on both sides and no reports consulted; the text has no renderer line', async () => {
    const p = await createProject(join(base, 'plain'), registry.host, { name: 'plan-plain' });
    const d1 = await p.push(1);
    await ok(p, ['to', 'dev', '--bundle', d1]);
    const d2 = await p.push(2);
    const json = JSON.parse((await ok(p, ['plan', 'dev', '--bundle', d2, '--output', 'json'])).stdout);
    assert.deepEqual(json.diff.renderer, { now: { kind: 'plain' }, after: { kind: 'plain' }, reported: [], versionDiffers: false });
    const text = (await ok(p, ['plan', 'dev', '--bundle', d2])).stdout;
    assert.match(text, /cluster dev-1: rendered files that change: files\/variant\.txt/);
    assert.doesNotMatch(text, /renderer:/);
  });

  it('helm bundles: each side names helm and its version; what a real agent reported agrees; an agent reporting another helm version is named in text and json', async () => {
    const p = await createProject(join(base, 'helm'), registry.host, { name: 'plan-helm', fixture: HELM_SMALL });
    const d1 = await p.push(1);
    await ok(p, ['to', 'dev', '--bundle', d1]);
    const agent = await agentOnce(p, join(base, 'helm-target'), { env: { ...p.env, PROMOTE_HELM: tools.helm } });
    assert.equal(agent?.phase, 'Converged', agent?.message);
    const version = agent!.renderer!.version!;
    assert.ok(version.startsWith(tools.helmVersion), version);
    const d2 = await p.push(2);

    const agreed = JSON.parse((await ok(p, ['plan', 'dev', '--bundle', d2, '--output', 'json'])).stdout).diff.renderer;
    assert.deepEqual(agreed, { now: { kind: 'helm', version, binary: tools.helm }, after: { kind: 'helm', version, binary: tools.helm }, reported: [{ cluster: 'dev-1', kind: 'helm', version }], versionDiffers: false });
    const agreedText = (await ok(p, ['plan', 'dev', '--bundle', d2])).stdout;
    assert.match(agreedText, new RegExp(`^renderer: helm ${version.replace(/[.+]/g, '\\$&')}$`, 'm'));

    // dev-1's agent now says it renders with an older helm (a signed report, as agents write them).
    const desc = (await p.registry.resolve(d1))!;
    const now = new Date().toISOString();
    await publishStatusReport(p.registry, desc, { pipeline: 'webapp', stage: 'dev', cluster: 'dev-1', phase: 'Converged', bundle: { repository: p.repository, digest: d1 }, since: now, observedAt: now, renderer: { kind: 'helm', version: 'v3.16.0' } }, p.promoter);
    const differs = JSON.parse((await ok(p, ['plan', 'dev', '--bundle', d2, '--output', 'json'])).stdout).diff.renderer;
    assert.deepEqual(differs.reported, [{ cluster: 'dev-1', kind: 'helm', version: 'v3.16.0' }]);
    assert.equal(differs.versionDiffers, true);
    const text = (await ok(p, ['plan', 'dev', '--bundle', d2])).stdout;
    assert.match(text, new RegExp(`^renderer: helm ${version.replace(/[.+]/g, '\\$&')} \\(agents of dev report v3\\.16\\.0\\)$`, 'm'));
  });

  it('a plain bundle followed by a chart: "plain now → helm … after"', async () => {
    const p = await createProject(join(base, 'switch'), registry.host, { name: 'plan-switch' });
    const d1 = await p.push(1);
    await ok(p, ['to', 'dev', '--bundle', d1]);
    const chart = await pushSigned(p, HELM_SMALL, 1, join(base, 'switch'));
    const json = JSON.parse((await ok(p, ['plan', 'dev', '--bundle', chart, '--output', 'json'])).stdout).diff.renderer;
    assert.deepEqual(json.now, { kind: 'plain' });
    assert.equal(json.after.kind, 'helm');
    const text = (await ok(p, ['plan', 'dev', '--bundle', chart])).stdout;
    assert.match(text, new RegExp(`^renderer: plain now → helm ${tools.helmVersion.replace(/\./g, '\\.')}\\S* after$`, 'm'));
  });
});
