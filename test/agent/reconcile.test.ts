import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PromoteError } from '../../src/errors.ts';
import { Reconciler, type AgentStatus, type DesiredSource, type NothingToRun, type PreviousReport, type StatusReporter } from '../../src/agent/reconcile.ts';
import type { ApplyResult, DesiredState, HealthOptions, HealthResult, Observation, PruneResult, Target, TargetSet } from '../../src/agent/target.ts';
import { DirTarget } from '../../src/agent/targets/dir-target.ts';
import { OWNER } from './desired.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'promote-reconcile-'));
  dirs.push(d);
  return d;
}

function state(record: string, files: Record<string, string>): DesiredState {
  return { owner: OWNER, recordDigest: record, bundleDigest: `sha256:bundle-of-${record}`, files: Object.entries(files).map(([path, t]) => ({ path, content: Buffer.from(t) })) };
}

/** In-process fake of the registry side: a tag that points at a record, and what each record renders to. */
class FakeSource implements DesiredSource {
  tag: string | undefined;
  records = new Map<string, DesiredState | NothingToRun | PromoteError>();
  resolves = 0;
  loads = 0;
  async resolve(): Promise<string | undefined> {
    this.resolves++;
    return this.tag;
  }
  async load(record: string): Promise<DesiredState | NothingToRun> {
    this.loads++;
    const r = this.records.get(record);
    if (!r) throw new PromoteError('RECORD_NOT_FOUND', `no record ${record}`);
    if (r instanceof PromoteError) throw r;
    return r;
  }
}

class FakeReporter implements StatusReporter {
  reports: AgentStatus[] = [];
  async report(status: AgentStatus): Promise<void> {
    this.reports.push(status);
  }
}

function setup(root: string, extra: Partial<ConstructorParameters<typeof Reconciler>[0]> = {}) {
  const source = new FakeSource();
  const reporter = new FakeReporter();
  const target = new DirTarget(root);
  const reconciler = new Reconciler({ owner: OWNER, source, target, reporter, healthTimeoutMs: 100, ...extra });
  return { source, reporter, target, reconciler };
}

describe('Reconciler with the dir target (in-process fake source)', () => {
  it('converges on a new record, then idles: one resolve, no load, no write, no new report', async () => {
    const root = await tempDir();
    const { source, reporter, reconciler } = setup(root);
    source.tag = 'sha256:r1';
    source.records.set('sha256:r1', state('sha256:r1', { 'manifests/a.yaml': 'a: 1\n' }));
    const first = await reconciler.round();
    assert.equal(first.status.phase, 'Converged');
    assert.equal(first.status.record, 'sha256:r1');
    assert.equal(first.status.appliedRecord, 'sha256:r1');
    assert.equal(first.changed, true);
    assert.equal(await readFile(join(root, 'manifests/a.yaml'), 'utf8'), 'a: 1\n');
    assert.equal(reporter.reports.length, 1);
    const idle = await reconciler.round();
    assert.equal(idle.status.phase, 'Converged');
    assert.equal(idle.writes, 0);
    assert.equal(idle.reported, false);
    assert.equal(source.resolves, 2);
    assert.equal(source.loads, 1);
    assert.equal(idle.status.since, first.status.since, 'since holds while the phase holds');
  });

  it('refuses a record that fails verification, applies nothing, keeps the last good state', async () => {
    const root = await tempDir();
    const { source, reporter, reconciler } = setup(root);
    source.tag = 'sha256:good';
    source.records.set('sha256:good', state('sha256:good', { 'a.yaml': 'good' }));
    await reconciler.round();
    source.tag = 'sha256:evil';
    source.records.set('sha256:evil', new PromoteError('SIGNATURE_INVALID', 'record signed by an untrusted key', { outcome: 'verification', hint: 'check trust.promotions' }));
    const refused = await reconciler.round();
    assert.equal(refused.status.phase, 'Refused');
    assert.equal(refused.status.reason, 'SignatureInvalid');
    assert.equal(refused.status.record, 'sha256:evil');
    assert.equal(refused.status.appliedRecord, 'sha256:good');
    assert.match(refused.status.message, /nothing applied: record signed by an untrusted key/);
    assert.equal(await readFile(join(root, 'a.yaml'), 'utf8'), 'good');
    const again = await reconciler.round();
    assert.equal(again.status.phase, 'Refused');
    assert.equal(source.loads, 2, 'a refused record is not downloaded and verified again');
    assert.equal(reporter.reports.at(-1)?.phase, 'Refused');
  });

  it('restores a hand-edited file (self-heal) and reports the correction', async () => {
    const root = await tempDir();
    const { source, reconciler } = setup(root);
    source.tag = 'sha256:r1';
    source.records.set('sha256:r1', state('sha256:r1', { 'a.yaml': 'desired' }));
    await reconciler.round();
    await writeFile(join(root, 'a.yaml'), 'edited by hand');
    const healed = await reconciler.round();
    assert.equal(healed.status.phase, 'Converged');
    assert.equal(healed.status.reason, 'DriftCorrected');
    assert.equal(healed.driftCorrected, 1);
    assert.deepEqual(healed.status.drift.map((d) => d.id), ['a.yaml']);
    assert.equal(await readFile(join(root, 'a.yaml'), 'utf8'), 'desired');
  });

  it('with self-heal off reports Drifted and leaves the hand edit in place', async () => {
    const root = await tempDir();
    const { source, reporter, reconciler } = setup(root, { selfHeal: false });
    source.tag = 'sha256:r1';
    source.records.set('sha256:r1', state('sha256:r1', { 'a.yaml': 'desired' }));
    await reconciler.round();
    await writeFile(join(root, 'a.yaml'), 'edited by hand');
    const drifted = await reconciler.round();
    assert.equal(drifted.status.phase, 'Drifted');
    assert.equal(drifted.writes, 0);
    assert.match(drifted.status.message, /a\.yaml was modified/);
    assert.equal(await readFile(join(root, 'a.yaml'), 'utf8'), 'edited by hand');
    assert.equal(reporter.reports.at(-1)?.phase, 'Drifted');
  });

  it('prunes a file the next record no longer has', async () => {
    const root = await tempDir();
    const { source, reconciler } = setup(root);
    source.tag = 'sha256:r1';
    source.records.set('sha256:r1', state('sha256:r1', { 'a.yaml': 'a', 'b.yaml': 'b' }));
    await reconciler.round();
    source.tag = 'sha256:r2';
    source.records.set('sha256:r2', state('sha256:r2', { 'a.yaml': 'a' }));
    const next = await reconciler.round();
    assert.deepEqual(next.status.pruned, ['b.yaml']);
    await assert.rejects(readFile(join(root, 'b.yaml')), { code: 'ENOENT' });
  });

  it('reports Failed when the registry cannot be reached, and keeps the target', async () => {
    const root = await tempDir();
    const { source, reconciler } = setup(root);
    source.tag = 'sha256:r1';
    source.records.set('sha256:r1', state('sha256:r1', { 'a.yaml': 'a' }));
    await reconciler.round();
    source.resolve = async () => {
      throw new PromoteError('REGISTRY_UNREACHABLE', 'cannot reach registry.example.com');
    };
    const down = await reconciler.round();
    assert.equal(down.status.phase, 'Failed');
    assert.match(down.status.message, /cannot reach registry/);
    assert.ok(down.error);
    assert.equal(await readFile(join(root, 'a.yaml'), 'utf8'), 'a');
  });

  it('a bundle it cannot render is Failed with the reason (RendererMissing), applies nothing, and is loaded again next round', async () => {
    const root = await tempDir();
    const { source, reporter, reconciler } = setup(root);
    source.tag = 'sha256:r1';
    source.records.set('sha256:r1', { ...state('sha256:r1', { 'a.yaml': 'a' }), renderer: { kind: 'plain' } });
    assert.equal((await reconciler.round()).status.renderer?.kind, 'plain');
    const missing = new PromoteError('RENDERER_MISSING', "the bundle's renderer is helm (bundle.yaml spec.helm), but PROMOTE_HELM=/nowhere/helm is not an executable file", {
      outcome: 'failed',
      hint: 'install helm; or set PROMOTE_HELM to its absolute path',
      details: { bundle: 'sha256:bundle-of-sha256:r2', renderer: 'helm' },
    });
    source.tag = 'sha256:r2';
    source.records.set('sha256:r2', missing);
    const failed = await reconciler.round();
    assert.equal(failed.status.phase, 'Failed');
    assert.equal(failed.status.reason, 'RendererMissing');
    assert.match(failed.status.message, /^nothing applied, retried next round: .*renderer is helm.*PROMOTE_HELM=\/nowhere\/helm.*\(install helm/);
    assert.equal(failed.status.record, 'sha256:r2');
    assert.equal(failed.status.bundle, 'sha256:bundle-of-sha256:r2', 'the report is about the bundle that could not render');
    assert.deepEqual(failed.status.renderer, { kind: 'helm' });
    assert.equal(failed.status.appliedRecord, 'sha256:r1', 'the target still holds the last good record');
    assert.equal(failed.writes, 0);
    assert.ok(failed.error, 'a failed round: the loop backs off');
    assert.equal(await readFile(join(root, 'a.yaml'), 'utf8'), 'a');
    assert.equal(reporter.reports.at(-1)?.reason, 'RendererMissing');

    const timeout = new PromoteError('RENDER_TIMEOUT', 'helm template for bundle x did not finish within 60 s', { outcome: 'failed', details: { bundle: 'sha256:bundle-of-sha256:r2', renderer: 'helm' } });
    source.records.set('sha256:r2', timeout);
    const again = await reconciler.round();
    assert.equal(source.loads, 3, 'not remembered as refused: loaded again');
    assert.equal(again.status.reason, 'RenderTimeout');
    source.records.set('sha256:r2', { ...state('sha256:r2', { 'b.yaml': 'b' }), renderer: { kind: 'helm', version: 'v3.17.3+ge4da497' } });
    const fixed = await reconciler.round();
    assert.equal(fixed.status.phase, 'Converged');
    assert.deepEqual(fixed.status.renderer, { kind: 'helm', version: 'v3.17.3+ge4da497' });
    assert.equal(await readFile(join(root, 'b.yaml'), 'utf8'), 'b');
  });

  it('a restarted agent keeps the since of its last report only when the target still holds that state: a wiped directory (a rebuilt cluster) starts a new since (real dir target)', async () => {
    const root = await tempDir();
    const source = new FakeSource();
    source.tag = 'sha256:r1';
    source.records.set('sha256:r1', state('sha256:r1', { 'x.yaml': 'x' }));
    const first = await new Reconciler({ owner: OWNER, source, target: new DirTarget(root) }).round();
    assert.equal(first.status.phase, 'Converged');
    const long = '2026-01-01T00:00:00.000Z';
    const restart = (previous: PreviousReport) => new Reconciler({ owner: OWNER, source, target: new DirTarget(root), reporter: { report: async () => {}, previous: async () => previous } }).round();

    const held = await restart({ phase: 'Converged', record: 'sha256:r1', since: long });
    assert.equal(held.status.phase, 'Converged');
    assert.equal(held.writes, 0, 'the target held the record: nothing written');
    assert.equal(held.status.since, long, 'same phase, same record, target unchanged: since carries over');
    const other = await restart({ phase: 'Converged', record: 'sha256:r0', since: long });
    assert.notEqual(other.status.since, long, 'another record starts a new since');

    // The cluster is rebuilt: the agent's next process re-creates every object.
    await rm(root, { recursive: true, force: true });
    const startedAt = Date.now();
    const rebuilt = await restart({ phase: 'Converged', record: 'sha256:r1', since: long });
    assert.equal(rebuilt.status.phase, 'Converged');
    assert.ok(rebuilt.writes > 0, 'every object was written again');
    assert.equal(await readFile(join(root, 'x.yaml'), 'utf8'), 'x');
    assert.ok(Date.parse(rebuilt.status.since) >= startedAt - 5, `since ${rebuilt.status.since} starts with the re-created objects, not before the rebuild`);
    const next = await restart({ phase: 'Converged', record: 'sha256:r1', since: rebuilt.status.since });
    assert.equal(next.status.since, rebuilt.status.since, 'and holds from there');
  });
});

/** In-process fake target for states a directory never reaches: failed objects, slow readiness. */
class FakeTarget implements Target {
  readonly name = 'fake:';
  failed: { id: string; reason: string; message: string }[] = [];
  healthy = true;
  async observe(desired: DesiredState): Promise<Observation> {
    return { owned: [], drift: [], set: { recordDigest: desired.recordDigest, by: 'observe' } };
  }
  async apply(desired: DesiredState): Promise<ApplyResult> {
    return {
      objects: [...desired.files.map((f) => ({ id: f.path, action: 'created' as const })), ...this.failed.map((f) => ({ ...f, action: 'failed' as const }))],
      writes: desired.files.length,
      set: { recordDigest: desired.recordDigest, by: 'apply' },
    };
  }
  prunes = 0;
  async prune(): Promise<PruneResult> {
    this.prunes++;
    return { pruned: [], kept: [], writes: 0 };
  }
  async health(desired: DesiredState, _set?: TargetSet, _options?: HealthOptions): Promise<HealthResult> {
    return { healthy: this.healthy, objects: desired.files.map((f) => ({ id: f.path, action: 'unchanged', health: this.healthy ? 'Healthy' : 'Degraded', ...(this.healthy ? {} : { reason: 'HealthTimeout', message: 'not healthy after 60s: 0 of 1 replicas available' }) })) };
  }
}

describe('Reconciler phases (in-process fake target)', () => {
  it('is Failed naming the kinds that could not be applied, does not prune, and retries the apply next round', async () => {
    const source = new FakeSource();
    const target = new FakeTarget();
    target.failed = [{ id: 'PodDisruptionBudget.policy monitoring/a', reason: 'KindNotServed', message: 'PodDisruptionBudget (policy/v1) is not served by this API server' }];
    const reconciler = new Reconciler({ owner: OWNER, source, target });
    source.tag = 'sha256:r1';
    source.records.set('sha256:r1', state('sha256:r1', { 'x.yaml': 'x' }));
    const r = await reconciler.round();
    assert.equal(r.status.phase, 'Failed');
    assert.equal(r.status.reason, 'KindNotServed');
    assert.match(r.status.message, /PodDisruptionBudget \(policy\/v1\) is not served/);
    assert.equal(target.prunes, 0);
    target.failed = [];
    const retry = await reconciler.round();
    assert.equal(retry.status.phase, 'Converged');
    assert.equal(source.loads, 1, 'the verified record is re-applied, not re-verified');
    assert.equal(target.prunes, 1);
  });

  it('is Degraded when health times out', async () => {
    const source = new FakeSource();
    const target = new FakeTarget();
    target.healthy = false;
    const reconciler = new Reconciler({ owner: OWNER, source, target });
    source.tag = 'sha256:r1';
    source.records.set('sha256:r1', state('sha256:r1', { 'deploy.yaml': 'x' }));
    const r = await reconciler.round();
    assert.equal(r.status.phase, 'Degraded');
    assert.equal(r.status.reason, 'HealthTimeout');
    assert.match(r.status.message, /0 of 1 replicas available/);
  });

  it('waits for health once after an apply; steady rounds only finish that wait', async () => {
    const source = new FakeSource();
    const target = new FakeTarget();
    const waits: number[] = [];
    const health = target.health.bind(target);
    target.health = async (d: DesiredState, set?: TargetSet, o?: HealthOptions) => {
      waits.push(o!.timeoutMs);
      return health(d, set);
    };
    const reconciler = new Reconciler({ owner: OWNER, source, target, healthTimeoutMs: 60_000 });
    source.tag = 'sha256:r1';
    source.records.set('sha256:r1', state('sha256:r1', { 'x.yaml': 'x' }));
    await reconciler.round();
    await reconciler.round();
    assert.equal(waits[0], 60_000);
    assert.ok(waits[1]! <= 60_000 && waits[1]! > 50_000, `the second round waits only what is left (${waits[1]})`);
  });

  it('a failed status publish is an error of the round, not a crash, and is retried next round', async () => {
    const source = new FakeSource();
    source.tag = 'sha256:r1';
    source.records.set('sha256:r1', state('sha256:r1', { 'x.yaml': 'x' }));
    let fail = true;
    const published: AgentStatus[] = [];
    const reporter: StatusReporter = {
      report: async (s) => {
        if (fail) throw new PromoteError('REGISTRY_DENIED', 'push to status-dev-dev-1 denied');
        published.push(s);
      },
    };
    const reconciler = new Reconciler({ owner: OWNER, source, target: new FakeTarget(), reporter });
    const first = await reconciler.round();
    assert.equal(first.status.phase, 'Converged');
    assert.equal(first.reported, false);
    assert.match(first.error!.message, /publishing the status report failed: push to status-dev-dev-1 denied/);
    fail = false;
    const second = await reconciler.round();
    assert.equal(second.reported, true);
    assert.equal(published.length, 1);
  });

  it('a crash in the middle of an apply converges on the next round (in-process fake crash around the real dir target)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'promote-crash-'));
    dirs.push(root);
    const source = new FakeSource();
    source.tag = 'sha256:r1';
    source.records.set('sha256:r1', state('sha256:r1', { 'a.yaml': 'a', 'b.yaml': 'b', 'c.yaml': 'c' }));
    const real = new DirTarget(root);
    // Writes the first file of the render, then dies as a killed process would.
    const crashing: Target = {
      name: real.name,
      observe: (d) => real.observe(d),
      prune: (d, set) => real.prune(d, set),
      health: (d, set, o) => real.health(d, set, o),
      apply: async (d) => {
        await real.apply({ ...d, files: d.files.slice(0, 1) });
        throw new Error('killed');
      },
    };
    const crashed = await new Reconciler({ owner: OWNER, source, target: crashing }).round();
    assert.equal(crashed.status.phase, 'Failed');
    const next = await new Reconciler({ owner: OWNER, source, target: new DirTarget(root) }).round();
    assert.equal(next.status.phase, 'Converged');
    assert.equal(await readFile(join(root, 'c.yaml'), 'utf8'), 'c');
    assert.deepEqual((await new DirTarget(root).observe(source.records.get('sha256:r1') as DesiredState)).drift, []);
  });
});

describe('Reconciler and rollouts in waves (in-process fake source: what RegistryDesiredSource returns, real dir target)', () => {
  /** A record's desired state for this cluster: its bundle and the digest of this cluster's parameters. */
  function wave(record: string, bundle: string, parameters: string, files: Record<string, string>, tagRecord?: string): DesiredState {
    return { ...state(record, files), bundleDigest: bundle, parameters, ...(tagRecord && { tagRecord }) };
  }

  it('a tag record that keeps this cluster on the record it runs: nothing applied, the report still names the record run, since goes on; one HEAD per idle round', async () => {
    const root = await tempDir();
    const { source, reporter, reconciler } = setup(root);
    source.tag = 'sha256:r1';
    source.records.set('sha256:r1', wave('sha256:r1', 'sha256:b1', 'sha256:p1', { 'a.yaml': 'one' }));
    const first = await reconciler.round();
    assert.equal(first.status.phase, 'Converged');
    // Record 2 releases wave 1 only; this cluster (wave 3) keeps record 1.
    source.tag = 'sha256:r2';
    source.records.set('sha256:r2', wave('sha256:r1', 'sha256:b1', 'sha256:p1', { 'a.yaml': 'one' }, 'sha256:r2'));
    const kept = await reconciler.round();
    assert.equal(kept.status.phase, 'Converged');
    assert.equal(kept.status.record, 'sha256:r1', 'the record actually run');
    assert.equal(kept.writes, 0);
    assert.equal(kept.status.since, first.status.since);
    assert.equal(reporter.reports.length, 1, 'an unchanged status is not published again');
    const idle = await reconciler.round();
    assert.equal(idle.status.record, 'sha256:r1');
    assert.equal(source.loads, 2, 'the tag did not move: not loaded again');
  });

  it('a wave release of the state a cluster runs (same bundle, same parameters, new record): re-reported on the new record with its since, no write', async () => {
    const root = await tempDir();
    const { source, reporter, reconciler } = setup(root);
    source.tag = 'sha256:w1';
    source.records.set('sha256:w1', wave('sha256:w1', 'sha256:b2', 'sha256:p2', { 'a.yaml': 'two' }));
    const first = await reconciler.round();
    source.tag = 'sha256:w2';
    source.records.set('sha256:w2', wave('sha256:w2', 'sha256:b2', 'sha256:p2', { 'a.yaml': 'two' }));
    const released = await reconciler.round();
    assert.equal(released.status.phase, 'Converged');
    assert.equal(released.status.record, 'sha256:w2');
    assert.equal(released.status.appliedRecord, 'sha256:w2');
    assert.equal(released.writes, 0);
    assert.equal(released.status.since, first.status.since, 'the state held since the first record: a soak measured from it goes on');
    assert.equal(reporter.reports.at(-1)?.record, 'sha256:w2', 'the new record is reported');
    // Other parameters with the same bundle are another state: applied, and a new since.
    source.tag = 'sha256:w3';
    source.records.set('sha256:w3', wave('sha256:w3', 'sha256:b2', 'sha256:p3', { 'a.yaml': 'three' }));
    const changed = await reconciler.round();
    assert.equal(await readFile(join(root, 'a.yaml'), 'utf8'), 'three');
    assert.ok(changed.writes > 0);
    assert.notEqual(changed.status.since, first.status.since);
  });

  it('a tag record with nothing to run here yet: Progressing WaitingForWave, nothing applied or published, the target untouched; then its wave is released', async () => {
    const root = await tempDir();
    const { source, reporter, reconciler } = setup(root);
    await writeFile(join(root, 'theirs.txt'), 'not ours');
    source.tag = 'sha256:t1';
    source.records.set('sha256:t1', { nothingToRun: true, tagRecord: 'sha256:t1', wave: 3, released: 1, waves: 3 });
    const waiting = await reconciler.round();
    assert.equal(waiting.status.phase, 'Progressing');
    assert.equal(waiting.status.reason, 'WaitingForWave');
    assert.match(waiting.status.message, /dev-1 is in wave 3 of 3 of dev's rollout, not released yet \(the record on the tag releases wave 1\)/);
    assert.equal(waiting.writes, 0);
    assert.deepEqual(await readdir(root), ['theirs.txt'], 'nothing written');
    assert.equal(reporter.reports.length, 0, 'no bundle to report on');
    await reconciler.round();
    assert.equal(source.loads, 1, 'the same tag record is not loaded again');
    source.tag = 'sha256:t3';
    source.records.set('sha256:t3', wave('sha256:t3', 'sha256:b3', 'sha256:p3', { 'a.yaml': 'three' }));
    const released = await reconciler.round();
    assert.equal(released.status.phase, 'Converged');
    assert.equal(await readFile(join(root, 'a.yaml'), 'utf8'), 'three');
  });
});
