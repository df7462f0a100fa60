import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EMPTY_JSON, EMPTY_JSON_DIGEST, MANIFEST_ACCEPT, OCI_EMPTY, OCI_MANIFEST } from '../../src/oci/media-types.ts';
import { openRegistry } from '../../src/oci/open.ts';
import type { Descriptor, Registry } from '../../src/oci/registry.ts';
import { ReportCache } from '../../src/promotion/report-cache.ts';
import { ReportMarks } from '../../src/promotion/report-marks.ts';
import { publishStatusReport, readStatusReports, statusTag, type StatusPhase } from '../../src/records/status-report.ts';
import type { TrustPolicy } from '../../src/signing/policy.ts';
import { startRegistry, type AccessLogEntry, type RegistryServer } from '../harness/registry.ts';
import { artefactManifest, testKey, type TestKey } from '../signing/helpers.ts';

// The fleet reader (records/status-report.ts readStatusReports) with its cache of verified reports
// (promotion/report-cache.ts), against a real registry: a warm read is one HEAD per cluster; a
// changed report, a tampered entry or another trust policy is read and verified again; the replay
// marks still refuse an old report put back on a tag when the cache holds that old report.

let registry: RegistryServer;
let base: string;
let agent: TestKey;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-report-cache-'));
  agent = testKey('agent');
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

interface Fixture {
  reg: Registry;
  bundle: Descriptor;
  policy: TrustPolicy;
  dir: string;
  publish(cluster: string, phase: StatusPhase, sequence: number): Promise<Descriptor>;
}

let repos = 0;
async function fixture(): Promise<Fixture> {
  const name = `acme/cache-${++repos}`;
  const reg = await openRegistry(`${registry.host}/${name}`, { insecure: true });
  const bytes = artefactManifest(name);
  await reg.pushBlob({ mediaType: OCI_EMPTY, digest: EMPTY_JSON_DIGEST, size: EMPTY_JSON.length }, EMPTY_JSON);
  const bundle = await reg.pushManifest(bytes, OCI_MANIFEST, 'v1');
  const dir = await mkdtemp(join(base, 'cache-'));
  return {
    reg,
    bundle,
    policy: { keys: [agent.pub], identities: [] },
    dir,
    publish: async (cluster, phase, sequence) => (await publishStatusReport(reg, bundle, {
      pipeline: 'webapp', stage: 'staging', cluster, phase, bundle: { digest: bundle.digest },
      since: new Date(Date.now() - 3_600_000).toISOString(), observedAt: new Date().toISOString(), sequence,
    }, agent.signer)).descriptor,
  };
}

const options = (f: Fixture, cacheDir = join(f.dir, 'reports')) => ({ cache: new ReportCache(cacheDir), marks: new ReportMarks(join(f.dir, 'gates')) });

async function counted<T>(fn: () => Promise<T>): Promise<{ out: T; requests: AccessLogEntry[] }> {
  await registry.clearRequests();
  const out = await fn();
  return { out, requests: (await registry.requests()).filter((r) => !r.path.endsWith('/v2/')) };
}

const fetches = (rs: AccessLogEntry[]) => rs.filter((r) => r.method === 'GET' && (r.path.includes('/manifests/') || r.path.includes('/blobs/')));

test('a warm read of unchanged reports is one HEAD per cluster: no manifest or blob fetched, every report still verified and Converged', async () => {
  const f = await fixture();
  const clusters = ['eu-1', 'eu-2', 'us-1'];
  for (const c of clusters) await f.publish(c, 'Converged', 1);
  const cold = await counted(() => readStatusReports(f.reg, 'staging', clusters, f.policy, 'webapp', options(f)));
  assert.deepEqual(cold.out.map((r) => [r.cluster, r.phase, r.verified]), clusters.map((c) => [c, 'Converged', true]));
  assert.equal(fetches(cold.requests).length, 6, 'cold: a manifest and a bundle blob per cluster');
  const warm = await counted(() => readStatusReports(f.reg, 'staging', clusters, f.policy, 'webapp', options(f)));
  assert.deepEqual(warm.out, cold.out);
  assert.deepEqual(warm.requests.map((r) => [r.method, r.status]), clusters.map(() => ['HEAD', 200]), JSON.stringify(warm.requests));
  const entries = await readdir(join(f.dir, 'reports'));
  assert.equal(entries.length, 3);
  for (const e of entries) assert.equal((await stat(join(f.dir, 'reports', e))).mode & 0o777, 0o600, e);
  assert.equal((await stat(join(f.dir, 'reports'))).mode & 0o077, 0, 'the cache directory is private');
});

test('a changed report is read again, not served from the cache', async () => {
  const f = await fixture();
  await f.publish('eu-1', 'Converged', 1);
  assert.equal((await readStatusReports(f.reg, 'staging', ['eu-1'], f.policy, 'webapp', options(f)))[0]!.phase, 'Converged');
  await f.publish('eu-1', 'Degraded', 2);
  const again = await counted(() => readStatusReports(f.reg, 'staging', ['eu-1'], f.policy, 'webapp', options(f)));
  assert.deepEqual(again.out.map((r) => [r.phase, r.sequence, r.verified]), [['Degraded', 2, true]]);
  assert.equal(fetches(again.requests).length, 2, 'the new report was fetched');
  // …and the new one is what the cache serves next.
  const warm = await counted(() => readStatusReports(f.reg, 'staging', ['eu-1'], f.policy, 'webapp', options(f)));
  assert.equal(warm.out[0]!.phase, 'Degraded');
  assert.equal(fetches(warm.requests).length, 0);
});

test('a tampered cache entry is not trusted: a Degraded report rewritten to Converged in the cache is read again from the registry (Degraded)', async () => {
  const f = await fixture();
  await f.publish('eu-1', 'Degraded', 1);
  await readStatusReports(f.reg, 'staging', ['eu-1'], f.policy, 'webapp', options(f));
  const [name] = await readdir(join(f.dir, 'reports'));
  const file = join(f.dir, 'reports', name!);
  const entry = JSON.parse(await readFile(file, 'utf8')) as { bundle: string; manifest: string };
  const rewrite = (b64: string, from: string, to: string) => Buffer.from(Buffer.from(b64, 'base64').toString('utf8').replaceAll(from, to)).toString('base64');
  // The attacker rewrites the signed payload inside the cached bundle: Degraded → Converged.
  const bundle = JSON.parse(Buffer.from(entry.bundle, 'base64').toString('utf8')) as { dsseEnvelope: { payload: string } };
  bundle.dsseEnvelope.payload = rewrite(bundle.dsseEnvelope.payload, '"Degraded"', '"Converged"');
  await writeFile(file, JSON.stringify({ ...entry, bundle: Buffer.from(JSON.stringify(bundle)).toString('base64') }), { mode: 0o600 });
  const read = await counted(() => readStatusReports(f.reg, 'staging', ['eu-1'], f.policy, 'webapp', options(f)));
  assert.deepEqual(read.out.map((r) => [r.phase, r.verified]), [['Degraded', true]]);
  assert.equal(fetches(read.requests).length, 2, 'the report was fetched and verified again');

  // The manifest rewritten to name another layer (the tampered bundle's digest) does not hash to the tag's digest.
  await writeFile(file, JSON.stringify({ ...entry, bundle: Buffer.from(JSON.stringify(bundle)).toString('base64'), manifest: rewrite(entry.manifest, 'a', 'b') }), { mode: 0o600 });
  assert.equal((await readStatusReports(f.reg, 'staging', ['eu-1'], f.policy, 'webapp', options(f)))[0]!.phase, 'Degraded');

  // An entry someone else could have written (group-writable) is not used at all.
  await readStatusReports(f.reg, 'staging', ['eu-1'], f.policy, 'webapp', options(f));
  const { chmod } = await import('node:fs/promises');
  await chmod(file, 0o666);
  const shared = await counted(() => readStatusReports(f.reg, 'staging', ['eu-1'], f.policy, 'webapp', options(f)));
  assert.equal(fetches(shared.requests).length, 2);
});

test('a replayed older report is still refused with the cache warm: the marks judge a report the cache serves', async () => {
  const f = await fixture();
  const marks = new ReportMarks(join(f.dir, 'gates'));
  const old = await f.publish('eu-1', 'Converged', 1);
  // Promoter A reads report 1 (its cache now holds it).
  const a = () => ({ cache: new ReportCache(join(f.dir, 'a')), marks });
  assert.equal((await readStatusReports(f.reg, 'staging', ['eu-1'], f.policy, 'webapp', a()))[0]!.phase, 'Converged');
  // The agent reports Degraded as number 2; a read on this machine raises the mark to 2.
  await f.publish('eu-1', 'Degraded', 2);
  assert.equal((await readStatusReports(f.reg, 'staging', ['eu-1'], f.policy, 'webapp', { cache: new ReportCache(join(f.dir, 'b')), marks }))[0]!.phase, 'Degraded');
  // Whoever can write the registry puts report 1 back on the tag, byte for byte.
  const oldBytes = await (await fetch(`${registry.url}/v2/${f.reg.name.split('/').slice(1).join('/')}/manifests/${old.digest}`, { headers: { accept: MANIFEST_ACCEPT.join(', ') } })).arrayBuffer();
  const put = await fetch(`${registry.url}/v2/${f.reg.name.split('/').slice(1).join('/')}/manifests/${statusTag('staging', 'eu-1')}`, { method: 'PUT', headers: { 'content-type': OCI_MANIFEST }, body: Buffer.from(oldBytes) });
  assert.equal(put.status, 201);
  // A's cache holds exactly that report: served from it (a HEAD alone), and refused by the marks.
  const replay = await counted(() => readStatusReports(f.reg, 'staging', ['eu-1'], f.policy, 'webapp', a()));
  assert.deepEqual(replay.requests.map((r) => r.method), ['HEAD'], 'served from the cache');
  assert.equal(replay.out[0]!.phase, 'Refused');
  assert.equal(replay.out[0]!.verified, false);
  assert.match(replay.out[0]!.reason!, /number 1, older than number 2/);
});

test('a report cached under one trust policy is not taken as verified under another: a key the new policy does not trust makes it Unverified', async () => {
  const f = await fixture();
  await f.publish('eu-1', 'Converged', 1);
  await readStatusReports(f.reg, 'staging', ['eu-1'], f.policy, 'webapp', options(f));
  const other = testKey('other');
  const [r] = await readStatusReports(f.reg, 'staging', ['eu-1'], { keys: [other.pub], identities: [] }, 'webapp', options(f));
  assert.equal(r!.phase, 'Unverified');
  // A scope added to the same key (now only for prod clusters) is a new policy, and the scope check refuses.
  const scoped: TrustPolicy = { keys: [{ ...agent.pub, scope: { clusters: ['prod-1'] } }], identities: [] };
  const [s] = await readStatusReports(f.reg, 'staging', ['eu-1'], scoped, 'webapp', options(f));
  assert.equal(s!.phase, 'Refused');
  assert.match(s!.reason!, /may report only for/);
});

test('the checks beyond the signature run on a cache hit: a cached report read for another pipeline is refused', async () => {
  const f = await fixture();
  await f.publish('eu-1', 'Converged', 1);
  await readStatusReports(f.reg, 'staging', ['eu-1'], f.policy, 'webapp', options(f));
  const [r] = await readStatusReports(f.reg, 'staging', ['eu-1'], f.policy, 'billing', options(f));
  assert.equal(r!.phase, 'Refused');
  assert.match(r!.reason!, /pipeline "webapp", not billing/);
});

test('with many clusters one tag listing finds who reported: clusters that never reported cost no request', async () => {
  const f = await fixture();
  const clusters = Array.from({ length: 40 }, (_, i) => `c-${i}`);
  for (const c of clusters.slice(0, 3)) await f.publish(c, 'Converged', 1);
  const read = await counted(() => readStatusReports(f.reg, 'staging', clusters, f.policy, 'webapp', options(f)));
  assert.deepEqual(read.out.map((r) => r.cluster), clusters.slice(0, 3));
  assert.equal(read.requests.filter((r) => r.path.includes('/tags/list')).length, 1);
  assert.deepEqual(read.requests.filter((r) => r.status === 404), [], 'no 404 for a cluster without a report');
  assert.equal(read.requests.length, 1 + 3 * 2);
});
