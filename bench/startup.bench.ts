// `promote --help` start-up against the floor of starting Node at all (`node -e 0`), measured
// side by side, interleaved, in one run. Target (issue 7): ≤ 1.5× the floor.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const runs = Number(process.env.BENCH_RUNS ?? 25);

function time(args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const cases: Array<[string, string[]]> = [
  ['node -e 0 (floor)', ['-e', '0']],
  ['promote --help (sources, type stripping)', ['bin/promote.js', '--help']],
];
if (existsSync(`${root}dist/cli/main.js`)) cases.push(['promote --help (compiled dist/)', [`${root}dist/cli/main.js`]]);

const samples = cases.map(() => [] as number[]);
for (let i = 0; i < runs; i++) cases.forEach(([, args], j) => samples[j]!.push(time(args)));
const floor = median(samples[0]!);
console.log(`start-up, median of ${runs} interleaved runs (Node ${process.version})`);
for (const [j, [name]] of cases.entries()) {
  const m = median(samples[j]!);
  console.log(`  ${name.padEnd(42)} ${m.toFixed(1).padStart(7)} ms  ${(m / floor).toFixed(2)}×`);
}
console.log('  target: promote --help ≤ 1.50× the floor');
