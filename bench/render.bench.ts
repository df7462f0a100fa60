// Rendering against its floor: `renderFiles` on the kube-prometheus fixture (95 files, 5.6 MB,
// CRDs up to 1 MB) with parameters, versus a plain YAML parse + dump (yaml's parseAllDocuments
// + toString) of the same files — measured in the same run, in separate child processes,
// interleaved, so each gets a clean heap. Time: median over runs; memory: peak RSS above the
// child's RSS once the files are loaded (process.resourceUsage().maxRSS).
// Target (issue 4): render ≤ 1.5× parse+dump, in time and in peak memory.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The copy in test/fixtures (with its licence), never one beside the checkout: a clone anywhere runs it.
const fixture = fileURLToPath(new URL('../test/fixtures/kube-prometheus/manifests', import.meta.url));
const children = Number(process.env.BENCH_RUNS ?? 3);
const inner = Number(process.env.BENCH_INNER ?? 4);
const TARGET = 1.5;

interface ChildResult {
  ms: number[];
  peakMiB: number;
  files: number;
  bytes: number;
  references: number;
}

/** The fixture with what differs between environments turned into references, as a user would. */
async function templated(dir: string): Promise<{ path: string; content: Uint8Array }[]> {
  const names: string[] = [];
  const walk = async (d: string, rel: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(d, e.name), `${rel}${e.name}/`);
      else if (e.name.endsWith('.yaml')) names.push(`${rel}${e.name}`);
    }
  };
  await walk(dir, '');
  names.sort();
  return Promise.all(
    names.map(async (n) => {
      const text = (await readFile(join(dir, n), 'utf8'))
        .replace(/^(\s+)namespace: monitoring$/gm, '$1namespace: ${params.namespace}')
        .replace(/^(\s+)app\.kubernetes\.io\/part-of: kube-prometheus$/gm, '$1app.kubernetes.io/part-of: ${params.partOf}')
        .replace(/^(\s+)replicas: (\d+)$/gm, '$1replicas: ${params.replicas}');
      return { path: `manifests/${n}`, content: new TextEncoder().encode(text) };
    }),
  );
}

async function child(kind: 'render' | 'parse-dump'): Promise<void> {
  const files = await templated(fixture);
  const bytes = files.reduce((n, f) => n + f.content.length, 0);
  const references = files.reduce((n, f) => n + (Buffer.from(f.content).toString().match(/\$\{params\./g)?.length ?? 0), 0);
  const { renderFiles } = await import('../src/bundle/render.ts');
  const { parseAllDocuments } = await import('yaml');
  const ctx = { params: { namespace: 'monitoring-prod', partOf: 'observability', replicas: 3 }, promote: { stage: 'production', environment: 'production', cluster: 'prod-eu-1', digest: `sha256:${'0'.repeat(64)}` } };
  const decoder = new TextDecoder();
  let sink = 0;
  const op =
    kind === 'render'
      ? () => {
          for (const f of renderFiles(files, { manifests: 'manifests/' }, ctx)) sink += ('content' in f ? (f.content as string).length : 0) + (f.documents?.length ?? 0);
        }
      : () => {
          for (const f of files) for (const d of parseAllDocuments(decoder.decode(f.content)) as ReturnType<typeof parseAllDocuments> & unknown[]) sink += d.toString().length;
        };
  const rss0 = process.memoryUsage().rss;
  const ms: number[] = [];
  for (let i = 0; i < inner; i++) {
    const t0 = process.hrtime.bigint();
    op();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const peakMiB = (process.resourceUsage().maxRSS * 1024 - rss0) / (1024 * 1024);
  const result: ChildResult = { ms, peakMiB, files: files.length, bytes, references };
  process.stdout.write(`${JSON.stringify({ ...result, sink })}\n`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function run(kind: string): ChildResult {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', kind], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`${kind} child failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as ChildResult;
}

async function main(): Promise<void> {
  if (!existsSync(fixture)) throw new Error(`kube-prometheus fixture missing: ${fixture}`);
  const results: Record<string, ChildResult[]> = { render: [], 'parse-dump': [] };
  for (let i = 0; i < children; i++) {
    results.render!.push(run('render'));
    results['parse-dump']!.push(run('parse-dump'));
  }
  // The first run in each child includes JIT warm-up; report the median of the warm runs.
  const warm = (rs: ChildResult[]) => median(rs.flatMap((r) => r.ms.slice(1)));
  const cold = (rs: ChildResult[]) => median(rs.map((r) => r.ms[0]!));
  const peak = (rs: ChildResult[]) => median(rs.map((r) => r.peakMiB));
  const r = results.render!;
  const p = results['parse-dump']!;
  const info = r[0]!;
  const rows = [
    ['', 'promote render', 'yaml parse+dump', 'ratio', 'target'],
    ['time, warm (median)', `${warm(r).toFixed(1)} ms`, `${warm(p).toFixed(1)} ms`, `${(warm(r) / warm(p)).toFixed(2)}×`, `≤ ${TARGET}×`],
    ['time, first run', `${cold(r).toFixed(1)} ms`, `${cold(p).toFixed(1)} ms`, `${(cold(r) / cold(p)).toFixed(2)}×`, ''],
    ['peak memory above baseline', `${peak(r).toFixed(1)} MiB`, `${peak(p).toFixed(1)} MiB`, `${(peak(r) / peak(p)).toFixed(2)}×`, `≤ ${TARGET}×`],
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  process.stdout.write(`render: kube-prometheus, ${info.files} files, ${(info.bytes / 1024 / 1024).toFixed(1)} MiB, ${info.references} \${params.…} references; ${children} processes × ${inner} runs each\n`);
  for (const row of rows) process.stdout.write(`${row.map((c, i) => c.padEnd(widths[i]!)).join('  ')}\n`);
  const ok = warm(r) / warm(p) <= TARGET && peak(r) / peak(p) <= TARGET;
  process.stdout.write(ok ? 'within target\n' : 'OVER TARGET\n');
}

const i = process.argv.indexOf('--child');
if (i >= 0) await child(process.argv[i + 1] as 'render' | 'parse-dump');
else await main();
