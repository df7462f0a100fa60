// `promote to` with a 1 KiB bundle and a 200 MiB bundle, side by side, interleaved, in one run,
// against a real registry (docker-registry via the test harness) and a real git remote (a bare
// repository). Promotion is metadata only: it reads the manifest and the small config blob,
// never the content layer, so its cost must not grow with the bundle (target ratio ≤ 1.2).
// The peer is promotion by copying (what copy-paste GitOps and per-environment repositories do):
// `skopeo copy` of the same bundle into a per-stage repository, with a fresh blob-info cache per
// run (TRAPS.md), which is O(bundle size).
// Also counted for one promotion: registry requests (from the registry's access log) and git
// round trips to the ledger remote (upload-pack/receive-pack sessions, from git's trace2).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openProject } from '../src/promotion/project.ts';
import { promoteTo } from '../src/promotion/to.ts';
import { pushBundle } from '../src/artifact/push.ts';
import { signBundle } from '../src/signing/cosign-signature.ts';
import { startRegistry } from '../test/harness/registry.ts';
import { createProject, FIXTURE } from '../test/promotion/project.ts';

const runs = Number(process.env.BENCH_RUNS ?? 9);
const largeMiB = Number(process.env.BENCH_LARGE_MIB ?? 200);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const base = await mkdtemp(join(tmpdir(), 'promote-bench-'));
const registry = await startRegistry();
try {
  const p = await createProject(join(base, 'p'), registry.host, { name: 'bench', productionGates: '[]' });
  const regOptions = { insecure: true, env: p.env };

  const layers: string[] = [];
  async function pushVariant(name: string, extraMiB: number): Promise<string> {
    const src = join(base, name);
    await cp(FIXTURE, src, { recursive: true });
    if (extraMiB === 0) {
      await writeFile(join(src, 'files', 'payload.bin'), randomBytes(1024));
    } else {
      const chunk = 16 * 1024 * 1024;
      const parts: Buffer[] = [];
      for (let left = extraMiB * 1024 * 1024; left > 0; left -= chunk) parts.push(randomBytes(Math.min(chunk, left)));
      await writeFile(join(src, 'files', 'payload.bin'), Buffer.concat(parts));
    }
    const pushed = await pushBundle(src, `${p.repository}:${name}`, { ...regOptions, env: { ...p.env, SOURCE_DATE_EPOCH: '1700000000' } });
    const digest = pushed.reference.slice(pushed.reference.indexOf('@') + 1);
    await signBundle(p.registry, digest, p.ci, p.repository);
    layers.push(pushed.layer.digest);
    process.stderr.write(`pushed ${name}: ${digest} (layer ${(pushed.layer.size / 1048576).toFixed(1)} MiB)\n`);
    return digest;
  }

  const small = await pushVariant('small', 0);
  const large = await pushVariant('large', largeMiB);
  const trace = join(base, 'trace2.json');
  const env = { ...p.env, GIT_TRACE2_EVENT: trace };

  /** One `promote to dev --bundle d` as the CLI does it: open the project, promote. */
  async function promoteOnce(digest: string): Promise<number> {
    const t0 = process.hrtime.bigint();
    const project = await openProject({ cwd: p.dir, env, registry: { insecure: true }, signer: p.promoter });
    await promoteTo(project, { stage: 'dev', bundle: digest });
    return Number(process.hrtime.bigint() - t0) / 1e6;
  }

  // Warm-up (module loading, first ledger clone), then the round-trip count of one promotion.
  await promoteOnce(large);
  await registry.clearRequests();
  await writeFile(trace, '');
  await promoteOnce(small);
  const requests = await registry.requests();
  const events = (await readFile(trace, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { event: string; argv?: string[] });
  const starts = events.filter((e) => e.event === 'start' && e.argv);
  const gitRemote = starts.filter((e) => /upload-pack|receive-pack/.test(e.argv![0]!) || e.argv!.includes('ls-remote')).length;
  const gitProcesses = starts.filter((e) => e.argv![0] === 'git').length;
  const byKind = new Map<string, number>();
  for (const r of requests) {
    const kind = `${r.method} ${r.path.replace(/\/v2\/[^]+?\/(manifests|blobs|tags)\/.*/, '/$1').replace(/\/v2\/.*\/blobs\/uploads\/.*/, '/uploads')}`;
    byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
  }
  const blobGets = requests.filter((r) => r.method === 'GET' && r.path.includes('/blobs/sha256:'));
  const layerGets = blobGets.filter((r) => layers.some((l) => r.path.endsWith(l)));

  const times = { small: [] as number[], large: [] as number[] };
  for (let i = 0; i < runs; i++) {
    times.large.push(await promoteOnce(large));
    times.small.push(await promoteOnce(small));
  }

  // Peer: promotion by copy into a per-stage repository (fresh skopeo cache each time).
  const peer = { small: [] as number[], large: [] as number[] };
  const skopeoRuns = Math.min(runs, 3);
  for (let i = 0; i < skopeoRuns; i++) {
    for (const [kind, digest] of [['large', large], ['small', small]] as const) {
      const cache = await mkdtemp(join(base, 'skopeo-'));
      const t0 = process.hrtime.bigint();
      const r = spawnSync('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${p.repository}@${digest}`, `docker://${registry.host}/acme/bench-stage-${kind}-${i}:dev`], {
        env: { ...process.env, XDG_DATA_HOME: cache, _CONTAINERS_ROOTLESS_UID: '65534' },
        encoding: 'utf8',
      });
      peer[kind].push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (r.status !== 0) throw new Error(`skopeo copy failed: ${r.stderr}`);
      await rm(cache, { recursive: true, force: true });
    }
  }

  const ms = (x: number) => `${x.toFixed(0)} ms`;
  const ratio = median(times.large) / median(times.small);
  const peerRatio = median(peer.large) / median(peer.small);
  const rows = [
    ['what', '1 KiB bundle', `${largeMiB} MiB bundle`, 'ratio', 'target'],
    ['promote to (median)', ms(median(times.small)), ms(median(times.large)), ratio.toFixed(2), '<= 1.2'],
    ['peer: skopeo copy to a stage repo', ms(median(peer.small)), ms(median(peer.large)), peerRatio.toFixed(2), '(O(size))'],
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i]!)).join('  ')}\n`);
  process.stdout.write(`\nround trips of one promotion (promote to dev, 1 KiB bundle):\n`);
  process.stdout.write(`  registry requests: ${requests.length} (${[...byKind].map(([k, n]) => `${n}× ${k}`).join(', ')})\n`);
  process.stdout.write(`  blob downloads: ${blobGets.length} (bundle config, signature payload); of the content layer: ${layerGets.length}\n`);
  if (layerGets.length) process.exitCode = 1;
  process.stdout.write(`  git: ${gitRemote} round trips to the ledger remote (fetch + push), ${gitProcesses} git processes in all\n`);
  process.stdout.write(`runs: ${runs} promote, ${skopeoRuns} skopeo per size; ${ratio <= 1.2 ? 'PASS' : 'FAIL'} (ratio ${ratio.toFixed(2)} vs target 1.2)\n`);
  if (ratio > 1.2) process.exitCode = 1;
} finally {
  await registry.stop();
  await rm(base, { recursive: true, force: true });
}
