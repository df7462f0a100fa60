// Two promotions of one stage race: A commits record n, B commits n + 1 on top and publishes it,
// and A's publish of n lands last. Before, both exited 0 and promotion-dev went back to n while
// the ledger said n + 1. Real CLI processes, a real registry (behind a proxy that holds A's tag
// update back, so the race happens every time), a real bare git remote: after every pair the tag
// holds the ledger's head; and `status` names a tag that disagrees with the ledger.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { loadPipelineTrust } from '../../src/signing/policy.ts';
import { promote as runPromote, type Run } from '../cli/run-promote.ts';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { git } from './git-env.ts';
import { createProject, type TestProject } from './project.ts';
import { verifyRecord } from '../../src/records/promotion-record.ts';

let registry: RegistryServer;
let proxy: FaultProxy;
let base: string;
/** Set before each pair: the next update of a promotion-* tag is held back this long. */
let holdNextTag = 0;
before(async () => {
  registry = await startRegistry();
  proxy = await startFaultProxy(registry.url, (q) => {
    if (holdNextTag && q.method === 'PUT' && /\/manifests\/promotion-/.test(q.path)) {
      const delayMs = holdNextTag;
      holdNextTag = 0;
      return { delayMs };
    }
    return undefined;
  });
  base = await mkdtemp(join(tmpdir(), 'promote-tag-race-'));
});
after(async () => {
  await proxy?.stop();
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

function promote(p: TestProject, args: string[]): Promise<Run> {
  return runPromote([...args, '--insecure'], { cwd: p.dir, env: { ...p.env, NO_COLOR: '1', PROMOTE_KEY: p.promoterKeyFile } });
}

function ledgerHead(p: TestProject): string {
  return git(p.ledgerRemote, p.env, 'rev-parse', 'main').trim();
}

/** The record promotion-dev holds, verified against the promoter's key. */
async function tagged(p: TestProject): Promise<{ recordDigest?: string; sequence?: number }> {
  const trust = await loadPipelineTrust({ bundles: ['keys/ci.pub'], promotions: ['keys/promoter.pub'] }, { baseDir: p.dir });
  const v = await verifyRecord(p.registry, 'promotion-dev', trust.promotions, { stage: 'dev' });
  return v.statement.predicate as { recordDigest?: string; sequence?: number };
}

test('racing promotions (10 pairs of real CLI processes): promotion-dev never ends behind the ledger, and status names a tag that is', async () => {
  const p = await createProject(join(base, 'race'), proxy.host, { name: 'race' });
  const [d1, d2] = [await p.push(1), await p.push(2)];
  for (let pair = 0; pair < 10; pair++) {
    const before = (() => {
      try {
        return ledgerHead(p);
      } catch {
        return '';
      }
    })();
    holdNextTag = 1500;
    const a = promote(p, ['to', 'dev', '--bundle', d1]);
    // B starts once A's ledger commit landed: both promotions are then legitimate, in order.
    for (let i = 0; i < 500; i++) {
      let head = '';
      try {
        head = ledgerHead(p);
      } catch {}
      if (head && head !== before) break;
      await sleep(20);
    }
    const b = promote(p, ['to', 'dev', '--bundle', d2]);
    const [ra, rb] = await Promise.all([a, b]);
    assert.equal(ra.code, 0, `pair ${pair}, A: ${ra.stderr}`);
    assert.equal(rb.code, 0, `pair ${pair}, B: ${rb.stderr}`);
    const { parse } = await import('yaml');
    const state = parse(git(p.ledgerRemote, p.env, 'show', 'main:promotions/webapp/dev.yaml')) as { recordDigest: string; record: { sequence: number } };
    const tag = await tagged(p);
    assert.equal(state.record.sequence, 2 * pair + 2, `pair ${pair}: both records are in the ledger`);
    assert.deepEqual([tag.recordDigest, tag.sequence], [state.recordDigest, state.record.sequence], `pair ${pair}: promotion-dev holds the ledger's head`);
  }
  const verified = await promote(p, ['history', 'dev', '--verify']);
  assert.equal(verified.code, 0, verified.stderr);

  // A tag put back to an older record (what the race used to leave behind): status says so.
  const older = (await p.registry.referrers(d1)).find((r) => r.artifactType === 'application/vnd.promote.promotion.v1+json')!;
  const bytes = (await p.registry.fetchManifest(older.digest)).bytes;
  await p.registry.pushManifest(bytes, 'application/vnd.oci.image.manifest.v1+json', 'promotion-dev');
  const status = await promote(p, ['status', '--output', 'json']);
  assert.equal(status.code, 0, status.stderr);
  const row = (JSON.parse(status.stdout) as { clusters: { stage: string; tagDisagreement?: string }[] }).clusters.find((c) => c.stage === 'dev')!;
  assert.match(row.tagDisagreement ?? '', /promotion-dev holds record #\d+, behind the ledger's head #20/);
  const table = await promote(p, ['status']);
  assert.match(table.stdout, /behind the ledger's head #20; run promote to dev to republish it/);
  // And promote to dev repairs it: the ledger's head is republished, nothing re-signed.
  const repaired = await promote(p, ['to', 'dev', '--bundle', d2]);
  assert.equal(repaired.code, 0, repaired.stderr);
  assert.equal((await tagged(p)).sequence, 20);
});
