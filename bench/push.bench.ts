// Push of a built bundle to a fresh repository: `promote copy oci:<layout> <registry>` against
// `skopeo copy oci:<layout> docker://<registry>` — the same OCI layout (made by
// `promote build --oci-layout`), the same real registry, interleaved runs, medians, in one run.
// skopeo gets a fresh blob-info cache per run so it cannot cross-repository-mount what it pushed
// before (TRAPS.md). Also: requests sent by a no-op re-push (`promote push` of an unchanged
// bundle), anonymous and with token auth, and peak RSS of the push for a small and a large bundle.
// Then the same copies with the registry a round trip away (BENCH_DELAY_MS, default 10 ms), where
// the number of sequential requests counts rather than process start-up.
// Targets (issue 2): push ≤ 1.0× skopeo, no-op re-push ≤ 3 requests, peak memory flat in size.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFaultProxy } from '../test/harness/fault-proxy.ts';
import { startRegistry, type RegistryServer } from '../test/harness/registry.ts';
import { copyArtifact } from '../src/oci/copy.ts';
import { openRegistry } from '../src/oci/open.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin', 'promote.js');
const kubePrometheus = fileURLToPath(new URL('../test/fixtures/kube-prometheus/manifests', import.meta.url));
const runs = Number(process.env.BENCH_RUNS ?? 7);
const DELAY_MS = Number(process.env.BENCH_DELAY_MS ?? 10);
const env = { ...process.env, SOURCE_DATE_EPOCH: '1700000000' };
// Asynchronous on purpose: the token server of the harness lives in this process, and a
// synchronous spawn would block it while the child waits for a token.
const run = promisify(execFile);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timed(cmd: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): { ms: number; maxRssKb: number } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', cmd, ...args], { env: { ...env, ...extraEnv }, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  return { ms, maxRssKb: Number(lines[lines.length - 1]) };
}

/** As timed(), without blocking this process (the delaying proxy runs in it). */
async function timedAsync(cmd: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<number> {
  const t0 = process.hrtime.bigint();
  await run(cmd, args, { env: { ...env, ...extraEnv } });
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function makeBundle(dir: string, name: string, fill: (bundle: string) => Promise<void>): Promise<string> {
  const bundle = join(dir, name);
  await mkdir(join(bundle, 'manifests'), { recursive: true });
  await writeFile(join(bundle, 'bundle.yaml'), `apiVersion: promote/v1\nkind: Bundle\nmetadata: {name: ${name}}\nspec: {files: files/, allowSecrets: true}\n`);
  await writeFile(join(bundle, 'params.schema.json'), '{"type":"object"}\n');
  await mkdir(join(bundle, 'files'));
  await fill(bundle);
  const layout = join(dir, `${name}-layout`);
  execFileSync(process.execPath, [bin, 'build', bundle, '--oci-layout', layout, '--tag', 'bench'], { env, stdio: 'ignore' });
  return bundle;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'promote-push-bench-'));
  const registries: RegistryServer[] = [];
  try {
    const small = await makeBundle(dir, 'kube-prometheus', async (b) => {
      await rm(join(b, 'manifests'), { recursive: true });
      await cp(kubePrometheus, join(b, 'manifests'), { recursive: true });
    });
    const large = await makeBundle(dir, 'random-32m', async (b) => {
      await writeFile(join(b, 'manifests', 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n');
      await writeFile(join(b, 'files', 'data.bin'), randomBytes(32 * 1024 * 1024));
    });

    const reg = await startRegistry();
    registries.push(reg);
    let repo = 0;
    const rows: Array<{ name: string; promote: number; skopeo: number; rss: number; library: number }> = [];
    for (const [name, bundle] of [['kube-prometheus (0.5 MiB layer)', small], ['random 32 MiB', large]] as const) {
      const layout = `${bundle}-layout`;
      const p: number[] = [];
      const s: number[] = [];
      const rss: number[] = [];
      const lib: number[] = [];
      const from = await openRegistry(`oci:${layout}`);
      const source = await from.resolve('bench');
      for (let i = 0; i < runs; i++) {
        // The same copy in this process: the protocol work without Node's start-up.
        const to = await openRegistry(`${reg.host}/bench/l${repo + 1}`, { insecure: true, env: {} });
        const t0 = process.hrtime.bigint();
        await copyArtifact(from, to, source!.digest, 'bench');
        lib.push(Number(process.hrtime.bigint() - t0) / 1e6);
        const pr = timed(process.execPath, [bin, 'copy', `oci:${layout}:bench`, `${reg.host}/bench/p${++repo}:bench`, '--insecure']);
        p.push(pr.ms);
        rss.push(pr.maxRssKb);
        const cache = join(dir, `skopeo-cache-${repo}`);
        s.push(timed('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:bench`, `docker://${reg.host}/bench/s${repo}:bench`], {
          XDG_DATA_HOME: cache, _CONTAINERS_ROOTLESS_UID: '65534',
        }).ms);
        await rm(cache, { recursive: true, force: true });
      }
      rows.push({ name, promote: median(p), skopeo: median(s), rss: median(rss), library: median(lib) });
    }

    console.log(`push of a built bundle (OCI layout) to a fresh repository, median of ${runs} interleaved runs`);
    console.log(`  ${'bundle'.padEnd(32)} ${'promote copy'.padStart(13)} ${'skopeo copy'.padStart(12)} ${'ratio'.padStart(7)} ${'target'.padStart(13)}  ${'in-process'.padStart(10)} ${'ratio'.padStart(6)}  peak RSS (promote)`);
    for (const r of rows) {
      console.log(`  ${r.name.padEnd(32)} ${`${r.promote.toFixed(0)} ms`.padStart(13)} ${`${r.skopeo.toFixed(0)} ms`.padStart(12)} ${`${(r.promote / r.skopeo).toFixed(2)}×`.padStart(7)} ${`≤ 1.00× ${r.promote <= r.skopeo ? 'met' : 'not met'}`.padStart(13)}  ${`${r.library.toFixed(0)} ms`.padStart(10)} ${`${(r.library / r.skopeo).toFixed(2)}×`.padStart(6)}  ${(r.rss / 1024).toFixed(0)} MiB`);
    }
    console.log('  (promote copy / skopeo copy: whole CLI processes; in-process: copyArtifact without process start-up)');
    console.log('  target: push ≤ 1.00× skopeo; peak memory flat in bundle size');

    // The same copies through a proxy that holds every request for DELAY ms: a registry one
    // round trip away, as on a real network. Connections are not delayed (skopeo opens one per
    // request, which a real link would charge it for), so this favours skopeo.
    const far: Array<{ name: string; promote: number; skopeo: number }> = [];
    const proxy = await startFaultProxy(reg.url, () => ({ delayMs: DELAY_MS }));
    try {
      for (const [name, bundle] of [['kube-prometheus (0.5 MiB layer)', small], ['random 32 MiB', large]] as const) {
        const layout = `${bundle}-layout`;
        const p: number[] = [];
        const s: number[] = [];
        for (let i = 0; i < runs; i++) {
          p.push(await timedAsync(process.execPath, [bin, 'copy', `oci:${layout}:bench`, `${proxy.host}/bench/far-p${++repo}:bench`, '--insecure']));
          const cache = join(dir, `skopeo-cache-far-${repo}`);
          s.push(await timedAsync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:bench`, `docker://${proxy.host}/bench/far-s${repo}:bench`], {
            XDG_DATA_HOME: cache, _CONTAINERS_ROOTLESS_UID: '65534',
          }));
          await rm(cache, { recursive: true, force: true });
        }
        far.push({ name, promote: median(p), skopeo: median(s) });
      }
    } finally {
      await proxy.stop();
    }
    console.log(`the same, with the registry ${DELAY_MS} ms away (every request held ${DELAY_MS} ms by a proxy), median of ${runs}`);
    for (const r of far) {
      console.log(`  ${r.name.padEnd(32)} ${`${r.promote.toFixed(0)} ms`.padStart(13)} ${`${r.skopeo.toFixed(0)} ms`.padStart(12)} ${`${(r.promote / r.skopeo).toFixed(2)}×`.padStart(7)}`);
    }

    // No-op re-push: `promote push` of the unchanged bundle, counting what reaches the registry.
    const counts: Array<[string, number]> = [];
    const token = await startRegistry({ auth: 'token' });
    registries.push(token);
    for (const [label, r, extra] of [['anonymous', reg, {}], ['token auth', token, { PROMOTE_REGISTRY_USERNAME: token.username!, PROMOTE_REGISTRY_PASSWORD: token.password! }]] as const) {
      const target = `${r.host}/bench/noop:1.0`;
      await run(process.execPath, [bin, 'push', small, target, '--insecure'], { env: { ...env, ...extra } });
      await r.clearRequests();
      await run(process.execPath, [bin, 'push', small, target, '--insecure'], { env: { ...env, ...extra } });
      const seen = await r.requests();
      counts.push([`${label}: ${seen.map((e) => `${e.method} ${e.status}`).join(', ')}`, seen.length]);
    }
    console.log('no-op re-push (promote push of an unchanged bundle): requests reaching the registry');
    for (const [what, n] of counts) console.log(`  ${String(n).padStart(2)}  ${what}`);
    console.log('  target: ≤ 3 requests');
  } finally {
    for (const r of registries) await r.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
