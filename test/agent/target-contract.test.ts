// The Target contract (src/agent/target.ts) with the real dir target: the order in which the
// reconciler calls a target, and prune/health working only from the set that this round's
// apply or observe returned — no state kept in the target between calls.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Reconciler, type DesiredSource } from '../../src/agent/reconcile.ts';
import type { DesiredState, Target, TargetSet } from '../../src/agent/target.ts';
import { INVENTORY_FILE } from '../../src/agent/targets/dir-inventory.ts';
import { DirTarget } from '../../src/agent/targets/dir-target.ts';
import { OWNER } from './desired.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'promote-contract-'));
  dirs.push(d);
  return d;
}

function state(record: string, files: Record<string, string>): DesiredState {
  return { owner: OWNER, recordDigest: record, bundleDigest: `sha256:bundle-of-${record}`, files: Object.entries(files).map(([path, t]) => ({ path, content: Buffer.from(t) })) };
}

async function inventoryRecord(root: string): Promise<string | undefined> {
  return (JSON.parse(await readFile(join(root, INVENTORY_FILE), 'utf8')) as { recordDigest?: string }).recordDigest;
}

/** The real dir target, with every call written down and each set checked to come from the call that made it. */
function recording(inner: DirTarget): { target: Target; calls: string[] } {
  const calls: string[] = [];
  const made = new Set<TargetSet>();
  const from = (set: TargetSet): string => (made.has(set) ? set.by : 'a set this target never returned');
  const target: Target = {
    name: inner.name,
    async observe(d) {
      calls.push('observe');
      const o = await inner.observe(d);
      made.add(o.set);
      return o;
    },
    async apply(d, options) {
      calls.push(options?.restore ? 'apply(restore)' : 'apply');
      const r = await inner.apply(d, options);
      made.add(r.set);
      return r;
    },
    async prune(d, set) {
      calls.push(`prune(${from(set)})`);
      return inner.prune(d, set);
    },
    async health(d, set, options) {
      calls.push(`health(${from(set)})`);
      return inner.health(d, set, options);
    },
    async sweep(d) {
      calls.push('sweep');
      return inner.sweep(d);
    },
  };
  return { target, calls };
}

function source(desired: DesiredState): DesiredSource {
  return { resolve: async () => desired.recordDigest, load: async () => desired };
}

describe('the Target contract (real dir target)', () => {
  it('the reconciler calls [observe →] apply → prune → health on a new record, sweep → observe → health when steady, and passes each call the set the one before returned', async () => {
    const root = await tempDir();
    const desired = state('sha256:r1', { 'a.yaml': 'a' });
    const { target, calls } = recording(new DirTarget(root));
    const reconciler = new Reconciler({ owner: OWNER, source: source(desired), target, healthTimeoutMs: 0 });
    assert.equal((await reconciler.round()).status.phase, 'Converged');
    // The first round of an agent observes first: is this record already there?
    assert.deepEqual(calls.splice(0), ['observe', 'apply', 'prune(apply)', 'health(apply)']);
    await reconciler.round();
    assert.deepEqual(calls.splice(0), ['sweep', 'observe', 'health(observe)']);
    await writeFile(join(root, 'a.yaml'), 'edited by hand');
    assert.equal((await reconciler.round()).status.reason, 'DriftCorrected');
    assert.deepEqual(calls.splice(0), ['sweep', 'observe', 'apply(restore)', 'prune(apply)', 'health(apply)']);

    // Self-heal off: drift is only looked at.
    await writeFile(join(root, 'a.yaml'), 'edited again');
    const watcher = new Reconciler({ owner: OWNER, source: source(desired), target, healthTimeoutMs: 0, selfHeal: false });
    // A restarted agent: the target holds the record, so the round goes on as a steady one on that observation.
    assert.equal((await watcher.round()).status.phase, 'Drifted');
    assert.deepEqual(calls.splice(0), ['observe', 'sweep', 'health(observe)']);
  });

  it('prune refuses a set that is not the apply of the same record, and changes nothing', async () => {
    const root = await tempDir();
    const target = new DirTarget(root);
    const r1 = state('sha256:r1', { 'a.yaml': 'a', 'old.yaml': 'old' });
    await target.prune(r1, (await target.apply(r1)).set);
    const r2 = state('sha256:r2', { 'a.yaml': 'a' });
    const applied = await target.apply(r2);
    const observed = await target.observe(r2);
    const stale = (await target.apply(r1)).set;
    await assert.rejects(target.prune(r2, observed.set), { code: 'TARGET_SET_MISMATCH', message: /prune was given the set of an observe of sha256:r2, not the apply of sha256:r2/ });
    await assert.rejects(target.prune(r2, stale), { code: 'TARGET_SET_MISMATCH' });
    await assert.rejects(target.health(r2, stale, { timeoutMs: 0 }), { code: 'TARGET_SET_MISMATCH' });
    assert.equal(await readFile(join(root, 'old.yaml'), 'utf8'), 'old', 'nothing pruned');
    assert.equal(await inventoryRecord(root), 'sha256:r1', 'r2 is not marked applied');
    assert.deepEqual((await target.prune(r2, applied.set)).pruned, ['old.yaml']);
    assert.equal(await inventoryRecord(root), 'sha256:r2');
  });

  it('apply alone never marks the record applied, and the target keeps nothing between calls: another instance prunes from the set', async () => {
    const root = await tempDir();
    const r1 = state('sha256:r1', { 'a.yaml': 'a', 'old.yaml': 'old' });
    const first = new DirTarget(root);
    await first.prune(r1, (await first.apply(r1)).set);
    const r2 = state('sha256:r2', { 'a.yaml': 'a' });
    const applied = await first.apply(r2);
    // A crash here (apply done, prune not): the inventory still says r1 and still owns old.yaml.
    const restarted = await new DirTarget(root).observe(r2);
    assert.equal(restarted.appliedRecordDigest, 'sha256:r1');
    assert.ok(restarted.owned.includes('old.yaml'));
    const result = await new DirTarget(root).prune(r2, applied.set);
    assert.deepEqual(result.pruned, ['old.yaml']);
    await assert.rejects(stat(join(root, 'old.yaml')), { code: 'ENOENT' });
    assert.equal((await new DirTarget(root).observe(r2)).appliedRecordDigest, 'sha256:r2');
  });
});
