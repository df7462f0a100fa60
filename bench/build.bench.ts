// `promote build` against the packing floor `tar -cz | sha256sum` on the same tree, measured side
// by side, interleaved, in one run (absolute times drift 2× between runs here). Trees: the
// kube-prometheus fixture (95 files, 5.6 MB), 5,000 small manifests, and generated 50, 200 and
// 400 MiB trees (half incompressible, half YAML text, 14 MiB of it as manifests: readers allow 16
// MiB of manifests in all; the 400 MiB one is the 200 MiB files twice,
// hard-linked, so the floor's tar gets --hard-dereference to pack the content twice too, as
// promote does; all in a temp dir deleted afterwards). Peak RSS from GNU time. Compressed blocks
// leave their buffers to V8, which collects them in batches of roughly 64 MiB (its external-memory
// trigger): RSS grows with the bundle until that point, then stays flat — hence 200 → 400 MiB.
// Targets (issue 2): build ≤ 1.1× the floor; peak memory flat in bundle size.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, link, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin', 'promote.js');
const kubePrometheus = join(root, 'test', 'fixtures', 'kube-prometheus', 'manifests');
const runsSmall = Number(process.env.BENCH_RUNS ?? 7);
const runsLarge = Number(process.env.BENCH_RUNS_LARGE ?? 3);
const largeMiB = Number(process.env.BENCH_LARGE_MIB ?? 200);
const timeBin = '/usr/bin/time';

interface Sample {
  ms: number;
  rssMiB: number;
}

/** Runs a command under GNU time; wall time from our clock, peak RSS (KiB) from time's %M. */
function measure(command: string, args: string[], env: NodeJS.ProcessEnv): Sample {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(timeBin, ['-f', '%M', command, ...args], { env, encoding: 'utf8', maxBuffer: 1 << 20 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  return { ms, rssMiB: Number(lines[lines.length - 1]) / 1024 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function bundleDir(dir: string, name: string, withFiles = false): Promise<void> {
  await mkdir(join(dir, 'manifests'), { recursive: true });
  const files = withFiles ? '  files: files/\n' : '';
  await writeFile(join(dir, 'bundle.yaml'), `apiVersion: promote/v1\nkind: Bundle\nmetadata: {name: ${name}}\nspec:\n  parameters: params.schema.json\n  manifests: manifests/\n${files}  allowSecrets: true\n`);
  await writeFile(join(dir, 'params.schema.json'), '{"type": "object"}\n');
}

/**
 * A valid manifest of at most `max` bytes carrying `text` (a cut of kube-prometheus, which is
 * not YAML on its own) as a ConfigMap's block scalar: build refuses what does not parse.
 */
function yamlPart(name: string, text: Buffer, max: number): Buffer {
  const body = text.toString('utf8').split('\n').map((l) => `    ${l}`).join('\n');
  const yaml = Buffer.from(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}}\ndata:\n  text: |2\n${body}`); // |2: the cut may begin indented
  return yaml.subarray(0, yaml.lastIndexOf(10, max - 1) + 1);
}

/**
 * 1 MiB files: even-numbered ones random bytes under files/ (shipped verbatim), odd ones YAML text
 * cut from kube-prometheus, as block scalars: under manifests/ (so the build checks parse them
 * too) while the manifests stay within the 16 MiB readers hold at once, under files/ after that.
 */
const MANIFEST_PARTS = 28;

async function generate(dir: string, mib: number): Promise<void> {
  await mkdir(join(dir, 'files'), { recursive: true });
  const names = (await readdir(kubePrometheus)).filter((n) => n.endsWith('.yaml'));
  const text = Buffer.concat(await Promise.all(names.map((n) => readFile(join(kubePrometheus, n)))));
  const mibBytes = 1024 * 1024;
  for (let i = 0; i < mib; i++) {
    const sub = join(dir, i % 2 === 0 || i >= MANIFEST_PARTS ? 'files' : 'manifests', `part-${String(Math.floor(i / 50)).padStart(2, '0')}`);
    await mkdir(sub, { recursive: true });
    const offset = (i * 7919 * 1024) % Math.max(1, text.length - mibBytes);
    const content = i % 2 === 0 ? randomBytes(mibBytes) : yamlPart(`part-${i}`, text.subarray(offset, offset + mibBytes), mibBytes);
    await writeFile(join(sub, `file-${String(i).padStart(4, '0')}.${i % 2 === 0 ? 'bin' : 'yaml'}`), content);
  }
  await bundleDir(dir, 'generated', true);
  await writeFile(join(dir, 'manifests', 'configmap.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: data}\ndata: {size: big}\n');
}

/** The tree at `from` twice under `to` (files hard-linked: no disk, same bytes), plus bundle.yaml. */
async function linkTwice(from: string, to: string): Promise<void> {
  for (const copy of ['a', 'b']) {
    for (const top of ['files', 'manifests']) {
      for (const part of await readdir(join(from, top), { withFileTypes: true })) {
        if (!part.isDirectory()) continue;
        const src = join(from, top, part.name);
        // The second copy's manifests go under files/: manifests are limited to 16 MiB in all.
        const dst = join(to, top === 'manifests' && copy === 'b' ? 'files' : top, copy, part.name);
        await mkdir(dst, { recursive: true });
        for (const name of await readdir(src)) await link(join(src, name), join(dst, name));
      }
    }
  }
  await cp(join(from, 'bundle.yaml'), join(to, 'bundle.yaml'));
  await cp(join(from, 'params.schema.json'), join(to, 'params.schema.json'));
  await writeFile(join(to, 'manifests', 'configmap.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: data}\ndata: {size: big}\n');
}

/** Many small manifests, as a config repository has them: 50 directories × 100 YAML files. */
async function generateSmall(dir: string): Promise<void> {
  for (let d = 0; d < 50; d++) {
    const sub = join(dir, 'manifests', `app-${String(d).padStart(2, '0')}`);
    await mkdir(sub, { recursive: true });
    for (let i = 0; i < 100; i++) {
      const lines = Array.from({ length: 30 }, (_, k) => `  key${k}: value-${d}-${i}-${k}`).join('\n');
      await writeFile(join(sub, `cm-${i}.yaml`), `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-${d}-${i}}\ndata:\n${lines}\n`);
    }
  }
  await bundleDir(dir, 'many-small');
}

async function main(): Promise<void> {
  if (!existsSync(timeBin)) throw new Error('GNU time is needed for peak RSS: apt-get install time');
  if (!existsSync(kubePrometheus)) throw new Error(`fixture missing: ${kubePrometheus}`);
  const work = await mkdtemp(join(tmpdir(), 'promote-bench-build-'));
  try {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, LC_ALL: 'C' };
    const kp = join(work, 'kube-prometheus');
    await cp(kubePrometheus, join(kp, 'manifests'), { recursive: true });
    await bundleDir(kp, 'kube-prometheus');
    const small = join(work, 'many-small');
    await generateSmall(small);
    const mid = join(work, 'generated-50');
    await generate(mid, 50);
    const big = join(work, 'generated');
    await generate(big, largeMiB);
    const double = join(work, 'generated-twice');
    await linkTwice(big, double);

    const rows: string[] = [];
    const floorRss: number[] = [];
    const promoteRss: number[] = [];
    for (const [label, dir, runs] of [
      ['kube-prometheus (5.6 MB, 97 files)', kp, runsSmall],
      ['5,000 small YAML files (4.5 MB)', small, runsSmall],
      ['generated (50 MiB, 53 files)', mid, runsLarge],
      [`generated (${largeMiB} MiB, ${largeMiB + 3} files)`, big, runsLarge],
      [`generated (${2 * largeMiB} MiB, hard links)`, double, runsLarge],
    ] as Array<[string, string, number]>) {
      const ours: Sample[] = [];
      const floor: Sample[] = [];
      // Warm the page cache and Node's compile cache once, then interleave.
      measure(process.execPath, [bin, 'build', dir], env);
      for (let i = 0; i < runs; i++) {
        ours.push(measure(process.execPath, [bin, 'build', dir], env));
        floor.push(measure('sh', ['-c', 'tar -cz --hard-dereference -C "$1" . | sha256sum >/dev/null', 'sh', dir], env));
      }
      const [o, f] = [median(ours.map((s) => s.ms)), median(floor.map((s) => s.ms))];
      const [orss, frss] = [median(ours.map((s) => s.rssMiB)), median(floor.map((s) => s.rssMiB))];
      promoteRss.push(orss);
      floorRss.push(frss);
      rows.push(
        `  ${label.padEnd(38)} ${(o / 1000).toFixed(3).padStart(8)} s ${(f / 1000).toFixed(3).padStart(8)} s ${`${(o / f).toFixed(2)}×`.padStart(7)}   ${orss.toFixed(0).padStart(5)} MiB ${frss.toFixed(0).padStart(5)} MiB`,
      );
    }
    console.log(`promote build vs tar -cz | sha256sum, medians of interleaved runs (${runsSmall} small, ${runsLarge} large; Node ${process.version})`);
    console.log(`  ${'tree'.padEnd(38)} ${'promote'.padStart(10)} ${'floor'.padStart(10)} ${'ratio'.padStart(7)}   ${'peak RSS'.padStart(9)} ${'floor RSS'.padStart(9)}`);
    for (const r of rows) console.log(r);
    console.log(`  promote peak RSS: 50 MiB ${promoteRss[2]!.toFixed(0)}, ${largeMiB} MiB ${promoteRss[3]!.toFixed(0)}, ${2 * largeMiB} MiB ${promoteRss[4]!.toFixed(0)} MiB; from ${largeMiB} to ${2 * largeMiB} MiB: ${(promoteRss[4]! - promoteRss[3]!).toFixed(0)} MiB more (flat = no growth with size)`);
    console.log('  targets: ratio ≤ 1.10×; peak memory flat in bundle size');
    // The share of the build-time checks (build-checks.ts), which parse every manifest with the
    // yaml package (issue 12 §16) on the main thread while packing compresses on the pool.
    const { checkBundleContent } = await import('../src/bundle/build-checks.ts');
    const { loadBundleFile } = await import('../src/bundle/bundle-file.ts');
    const { walkBundle } = await import('../src/bundle/walk.ts');
    const checks: string[] = [];
    for (const [label, dir] of [['kube-prometheus', kp], ['5,000 small', small]] as const) {
      const file = await loadBundleFile(dir);
      const entries = await walkBundle(dir, { env });
      const ms: number[] = [];
      for (let i = 0; i <= runsSmall; i++) {
        const t0 = process.hrtime.bigint();
        await checkBundleContent(file, entries);
        if (i > 0) ms.push(Number(process.hrtime.bigint() - t0) / 1e6); // the first run warms the JIT
      }
      checks.push(`${label} ${(median(ms) / 1000).toFixed(3)} s`);
    }
    console.log(`  of which the manifest checks (every manifest parsed by yaml; in-process, warm, median): ${checks.join(', ')}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
