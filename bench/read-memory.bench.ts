// Peak RSS of every path that reads a bundle (issue 12 §13): pull, inspect, render and one agent
// round, each a real CLI process under /usr/bin/time -v, for the two shapes of the issue — a few
// large files (BENCH_BIG_FILES × BENCH_BIG_MIB MiB) and very many entries (BENCH_MANY_FILES) — on
// a real registry. Usage: node bench/read-memory.bench.ts (a count of 0 leaves that shape out)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry } from '../test/harness/registry.ts';
import { createProject } from '../test/promotion/project.ts';
import { measure, promoteShape, type Shape } from '../test/read/memory-shapes.ts';

const shapes: Shape[] = [
  { kind: 'big' as const, files: Number(process.env.BENCH_BIG_FILES ?? 4), mib: Number(process.env.BENCH_BIG_MIB ?? 64) },
  { kind: 'many' as const, files: Number(process.env.BENCH_MANY_FILES ?? 20_000) },
].filter((s) => s.files > 0);

async function main(): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'promote-read-memory-'));
  const reg = await startRegistry();
  try {
    const p = await createProject(join(base, 'p'), reg.host, { name: 'mem' });
    for (const [i, shape] of shapes.entries()) {
      const label = shape.kind === 'big' ? `${shape.files} × ${shape.mib} MiB files` : `${shape.files} entries`;
      const t0 = Date.now();
      const layout = join(base, 'layout');
      const digest = await promoteShape(p, base, shape, `s${i}`, layout);
      console.log(`# ${label}: pushed ${digest} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      const ref = `${p.repository}@${digest}`;
      const env = p.env;
      const runs: [string, string[]][] = [
        ['pull', ['pull', ref, '--insecure', '-o', join(base, `pull-${i}`)]],
        ['inspect', ['inspect', ref, '--insecure', '--output', 'json']],
        ['render', ['render', `oci:${layout}@${digest}`, '--env', 'dev', '-o', join(base, `render-${i}`)]],
        ['agent --once', ['agent', '--stage', 'dev', '--cluster', 'dev-1', '--target', `dir:${join(base, `target-${i}`)}`, '--once', '--key', p.promoterKeyFile, '--insecure', '--cache-dir', join(base, `cache-${i}`), '--health-timeout', '0s']],
      ];
      for (const [name, args] of runs) {
        const t = Date.now();
        const r = await measure(args, { cwd: p.dir, env });
        const tail = r.code === 0 ? '' : `  ${r.stderr.trim().split('\n').slice(-1)[0]?.slice(0, 160)}`;
        console.log(`${label.padEnd(24)} ${name.padEnd(14)} exit ${r.code}  peak RSS ${String(r.maxRssMiB).padStart(5)} MiB  ${((Date.now() - t) / 1000).toFixed(1)} s${tail}`);
      }
      await rm(join(base, `pull-${i}`), { recursive: true, force: true });
      await rm(join(base, `render-${i}`), { recursive: true, force: true });
      await rm(join(base, `target-${i}`), { recursive: true, force: true });
      await rm(join(base, `cache-${i}`), { recursive: true, force: true });
    }
  } finally {
    await reg.stop();
    await rm(base, { recursive: true, force: true });
  }
}

await main();
