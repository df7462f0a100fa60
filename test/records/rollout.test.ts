import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FieldError } from '../../src/records/json-fields.ts';
import { checkRecordRollout, clusterRelease, nextWave, releasedClusters, rolloutComplete, startRollout } from '../../src/records/rollout.ts';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const WAVES = [['eu-1'], ['eu-2', 'us-1'], ['ap-1']];

test('a first rollout releases wave 1; the other clusters have nothing to keep', () => {
  const r = startRollout(WAVES, undefined);
  assert.deepEqual(clusterRelease(r, 'eu-1'), { released: true, wave: 1 });
  assert.deepEqual(clusterRelease(r, 'us-1'), { released: false, wave: 2 });
  assert.deepEqual(releasedClusters(r, []), ['eu-1']);
  assert.equal(rolloutComplete(r), false);
  assert.deepEqual(clusterRelease(undefined, 'us-1'), { released: true });
});

test('a rollout over a stage that ran a record keeps that record for every unreleased cluster, and a wave release keeps what it kept', () => {
  const r1 = startRollout(WAVES, { digest: d('a') });
  assert.deepEqual(r1.keep, [{ record: d('a'), clusters: ['eu-2', 'us-1', 'ap-1'] }]);
  const r2 = nextWave({ digest: d('b'), rollout: r1 });
  assert.equal(r2.wave, 2);
  assert.deepEqual(r2.keep, [{ record: d('a'), clusters: ['ap-1'] }]);
  assert.deepEqual(clusterRelease(r2, 'us-1'), { released: true, wave: 2 });
  assert.deepEqual(clusterRelease(r2, 'ap-1'), { released: false, wave: 3, keep: d('a') });
  const r3 = nextWave({ digest: d('c'), rollout: r2 });
  assert.equal(rolloutComplete(r3), true);
  assert.equal(r3.keep, undefined);
});

test('a new rollout over one stopped at wave 2 keeps the released clusters on that record and the rest on what they kept', () => {
  const r1 = startRollout(WAVES, { digest: d('a') });
  const r2 = nextWave({ digest: d('b'), rollout: r1 });
  const fresh = startRollout(WAVES, { digest: d('c'), rollout: r2 });
  assert.deepEqual(fresh.keep, [{ record: d('c'), clusters: ['eu-2', 'us-1'] }, { record: d('a'), clusters: ['ap-1'] }]);
});

test('checkRecordRollout refuses waves that do not partition the clusters, a wave out of range, and keep for a released cluster', () => {
  const all = ['eu-1', 'eu-2', 'us-1', 'ap-1'];
  assert.doesNotThrow(() => checkRecordRollout(startRollout(WAVES, { digest: d('a') }), all, '/rollout'));
  const cases: [unknown, string][] = [
    [{ wave: 1, waves: [{ clusters: ['eu-1'] }, { clusters: ['eu-1', 'eu-2', 'us-1', 'ap-1'] }] }, '/rollout/waves/1/clusters/0'],
    [{ wave: 1, waves: [{ clusters: ['eu-1', 'eu-2', 'us-1'] }] }, '/rollout/waves'],
    [{ wave: 3, waves: [{ clusters: ['eu-1'] }, { clusters: ['eu-2', 'us-1', 'ap-1'] }] }, '/rollout/wave'],
    [{ wave: 1, waves: [{ clusters: ['eu-1'] }, { clusters: ['eu-2', 'us-1', 'ap-1'] }], keep: [{ record: d('a'), clusters: ['eu-1'] }] }, '/rollout/keep/0/clusters/0'],
    [{ wave: 1, waves: [{ clusters: ['eu-1', 'mars-1'] }, { clusters: ['eu-2', 'us-1', 'ap-1'] }] }, '/rollout/waves/0/clusters/1'],
  ];
  for (const [r, pointer] of cases) {
    assert.throws(() => checkRecordRollout(r as never, all, '/rollout'), (e: unknown) => e instanceof FieldError && e.pointer === pointer, JSON.stringify(r));
  }
});
