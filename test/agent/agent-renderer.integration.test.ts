// The renderer in the agent's round, end to end on the dir target (real registry, real project):
// the status report says what rendered the bundle, and a verified bundle the agent cannot
// render (its helm is missing) is reported Failed with that reason while the target keeps its
// last good state.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openProject } from '../../src/promotion/project.ts';
import { promoteTo } from '../../src/promotion/to.ts';
import { readStatusReport, verifyStatusReport } from '../../src/records/status-report.ts';
import { loadPipelineTrust } from '../../src/signing/policy.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { renderTools } from '../harness/render-tools.ts';
import { createProject, type TestProject } from '../promotion/project.ts';
import { HELM_SMALL, pushSigned } from '../promotion/renderer-fixtures.ts';
import { agentOnce } from './agent-once.ts';

let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-agent-renderer-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

/** Every file under `dir` with its content: what "the target is untouched" compares. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out[join(e.parentPath, e.name).slice(dir.length + 1)] = await readFile(join(e.parentPath, e.name), 'utf8');
  }
  return out;
}

describe('the renderer in the agent round (dir target, real registry)', () => {
  let p: TestProject;
  let eng: Awaited<ReturnType<typeof openProject>>;
  let trust: Awaited<ReturnType<typeof loadPipelineTrust>>;
  const out = () => join(base, 'target');
  before(async () => {
    p = await createProject(join(base, 'p'), registry.host, { name: 'renderer' });
    eng = await openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter, cacheDir: join(base, 'engine-cache') });
    trust = await loadPipelineTrust({ bundles: ['keys/ci.pub'], promotions: ['keys/promoter.pub'] }, { baseDir: p.dir });
  });

  it('an agent round on a plain bundle reports renderer {kind: plain} in its signed status report', async () => {
    const plain = await p.push(1);
    await promoteTo(eng, { stage: 'dev', bundle: plain });
    const converged = await agentOnce(p, out());
    assert.equal(converged?.phase, 'Converged', converged?.message);
    assert.deepEqual(converged?.renderer, { kind: 'plain' });
    const report = await verifyStatusReport(p.registry, 'status-dev-dev-1', trust.promotions);
    assert.deepEqual(report.statement.predicate.renderer, { kind: 'plain' }, 'the signed report says what rendered');
    assert.deepEqual((await readStatusReport(p.registry, 'dev', 'dev-1', trust.promotions))?.renderer, { kind: 'plain' });
  });

  it('a helm bundle without helm is Failed (RendererMissing) naming PROMOTE_HELM, applies nothing, is tried again next round, and converges once helm is there (its version reported)', async () => {
    const before = await snapshot(out());
    assert.ok(Object.keys(before).length > 1, 'the plain bundle is applied');
    const helm = await pushSigned(p, HELM_SMALL, 1, base);
    await promoteTo(eng, { stage: 'dev', bundle: helm });
    const nowhere = join(base, 'no-such-dir', 'helm');
    const failed = await agentOnce(p, out(), { env: { ...p.env, PROMOTE_HELM: nowhere } });
    assert.equal(failed?.phase, 'Failed', failed?.message);
    assert.equal(failed?.reason, 'RendererMissing', failed?.message);
    assert.equal(failed?.bundle, helm, 'the report is about the bundle that could not render');
    assert.ok(failed?.message.includes(`PROMOTE_HELM=${nowhere}`), failed?.message);
    assert.match(failed!.message, /^nothing applied, retried next round: the bundle's renderer is helm/);
    assert.deepEqual(failed?.renderer, { kind: 'helm' });
    assert.deepEqual(await snapshot(out()), before, 'the target is untouched');
    const seen = await readStatusReport(p.registry, 'dev', 'dev-1', trust.promotions);
    assert.equal(seen?.phase, 'Failed');
    assert.equal(seen?.reason, 'RendererMissing');
    assert.equal(seen?.verified, true);

    // Not remembered as refused: the next round verifies and tries to render again (here with no
    // PROMOTE_HELM and no helm on PATH, so the message changes with it).
    const again = await agentOnce(p, out(), { env: { ...p.env, PROMOTE_HELM: '', PATH: join(base, 'empty-path') } });
    assert.equal(again?.reason, 'RendererMissing', again?.message);
    assert.match(again!.message, /PROMOTE_HELM is not set and there is no helm on PATH/);
    assert.deepEqual(await snapshot(out()), before);

    // With helm where PROMOTE_HELM says, the same record renders and converges, and the report
    // carries helm's own version.
    const tools = await renderTools();
    const converged = await agentOnce(p, out(), { env: { ...p.env, PROMOTE_HELM: tools.helm } });
    assert.equal(converged?.phase, 'Converged', converged?.message);
    assert.equal(converged?.bundle, helm);
    assert.equal(converged?.renderer?.kind, 'helm');
    assert.ok(converged?.renderer?.version?.startsWith(tools.helmVersion), converged?.renderer?.version);
    const signed = (await verifyStatusReport(p.registry, 'status-dev-dev-1', trust.promotions)).statement.predicate;
    assert.deepEqual(signed.renderer, { kind: 'helm', version: converged!.renderer!.version }, 'no binary path in the signed report');
    assert.match(await readFile(join(out(), 'chart', 'templates', 'deployment.yaml'), 'utf8'), /replicas: 1/);
  });
});
