import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPromoteError } from '../../src/errors.ts';
import type { Plan } from '../../src/pipeline/plan.ts';
import { openProject } from '../../src/promotion/project.ts';
import { promoteTo } from '../../src/promotion/to.ts';
import { publishStatusReport } from '../../src/records/status-report.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { createProject, type TestProject } from './project.ts';

// The converged and soak gates count only status reports about *this* pipeline: one agent key
// commonly serves several pipelines, and a report signed for another pipeline (same stage and
// cluster names, same bundle digest) copied onto this repository's status tag must not pass.
// Real registry, real git ledger.

let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-report-pipeline-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

const MONDAY = new Date('2026-03-30T10:00:00Z');

async function report(p: TestProject, pipeline: string, digest: string) {
  const desc = (await p.registry.resolve(digest))!;
  const since = new Date(MONDAY.getTime() - 3600_000).toISOString();
  await publishStatusReport(p.registry, { mediaType: desc.mediaType, digest, size: desc.size }, { pipeline, stage: 'dev', cluster: 'dev-1', phase: 'Converged', bundle: { repository: p.repository, digest }, since, observedAt: new Date(MONDAY.getTime() - 60_000).toISOString() }, p.promoter);
}

test("a trusted Converged report about another pipeline does not pass this pipeline's converged gate; one about this pipeline does", async () => {
  const p = await createProject(join(base, 'p'), registry.host, { name: 'report-pipeline' });
  const eng = await openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter, now: () => MONDAY, cacheDir: join(p.dir, '..', 'cache') });
  const d1 = await p.push(1);
  await promoteTo(eng, { stage: 'dev', bundle: d1 });

  await report(p, 'billing', d1);
  await assert.rejects(promoteTo(eng, { stage: 'staging' }), (err: unknown) => {
    assert.ok(isPromoteError(err), String(err));
    assert.equal(err.code, 'GATES_FAILED', err.message);
    assert.equal(err.exitCode, 3);
    const converged = (err.details!.plan as Plan).gates.find((g) => g.type === 'converged')!;
    assert.equal(converged.passed, false);
    const evidence = converged.evidence as { clusters: { cluster: string; ok: boolean; phase: string }[] };
    assert.deepEqual(evidence.clusters.map((c) => [c.cluster, c.ok, c.phase]), [['dev-1', false, 'Refused']]);
    return true;
  });

  await report(p, 'webapp', d1);
  const promoted = await promoteTo(eng, { stage: 'staging' });
  assert.equal(promoted.bundle, d1);
});
