// `promote render` of a Helm bundle against `helm template` alone: the podinfo chart (6.14.1,
// test/fixtures/podinfo-chart) as a bundle whose production environment is the chart's own
// values-prod.yaml, rendered by promote, and the same chart with the same values file rendered
// by the same helm (3.17.3, test/harness/render-tools.ts), with `node -e 0` for Node's own
// start-up — each a fresh process, interleaved, in one run (REGISTRY-NOTES.md: absolute times
// drift between runs). Goal (issue 15): promote ≤ 1.5 × helm + node -e 0.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { renderTools } from '../test/harness/render-tools.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const chart = fileURLToPath(new URL('../test/fixtures/podinfo-chart/podinfo', import.meta.url));
const runs = Number(process.env.BENCH_RUNS ?? 15);
const TARGET = 1.5;

const tools = await renderTools();
const tmp = await mkdtemp(join(tmpdir(), 'promote-bench-chart-'));
try {
  const bundle = join(tmp, 'bundle');
  await cp(chart, join(bundle, 'chart'), { recursive: true });
  const prod = await readFile(join(chart, 'values-prod.yaml'), 'utf8');
  await writeFile(join(bundle, 'bundle.yaml'), 'apiVersion: promote/v1\nkind: Bundle\nmetadata: {name: podinfo}\nspec:\n  parameters: params.schema.json\n  helm: {chart: chart, releaseName: podinfo, namespace: production}\n');
  await writeFile(join(bundle, 'params.schema.json'), '{"type": "object"}\n');
  await mkdir(join(bundle, 'environments'));
  await writeFile(join(bundle, 'environments', 'production.yaml'), `apiVersion: promote/v1\nkind: Environment\nmetadata: {name: production}\nspec:\n  parameters:\n${prod.replace(/^(?=.)/gm, '    ')}`);
  const home = join(tmp, 'home');
  await mkdir(home);
  // Both get a clean environment with nothing of the caller's helm configuration in it.
  const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: home, PROMOTE_HELM: tools.helm, NO_COLOR: '1' };

  const cases: Array<{ name: string; cmd: string; args: string[] }> = [
    { name: 'node -e 0 (Node start-up)', cmd: process.execPath, args: ['-e', '0'] },
    { name: `helm template (helm ${tools.helmVersion})`, cmd: tools.helm, args: ['template', 'podinfo', join(bundle, 'chart'), '--namespace', 'production', '-f', join(chart, 'values-prod.yaml'), '--include-crds', '--no-hooks'] },
    { name: 'promote render (sources, type stripping)', cmd: process.execPath, args: [join(root, 'bin', 'promote.js'), 'render', bundle, '--env', 'production'] },
  ];
  // For reference, not the goal: promote's own render of a plain bundle (25 documents), no binary run.
  const plain = { name: 'promote render, a plain bundle (reference)', cmd: process.execPath, args: [join(root, 'bin', 'promote.js'), 'render', join(root, 'test', 'fixtures', 'podinfo-bundle'), '--env', 'production'] };
  if (existsSync(join(root, 'dist', 'cli', 'main.js'))) {
    // What an installed package runs: bin/promote.js with dist/ (a source directory renders
    // without the V8 memory flags and their re-execution: src/cli/v8-memory-flags.ts).
    const entry = join(tmp, 'promote-dist.mjs');
    await writeFile(entry, `import module from 'node:module';\nmodule.enableCompileCache?.();\nconst { main } = await import(${JSON.stringify(pathToFileURL(join(root, 'dist', 'cli', 'main.js')).href)});\nprocess.exitCode = await main(process.argv.slice(2));\n`);
    cases.push({ name: 'promote render (compiled dist/)', cmd: process.execPath, args: [entry, 'render', bundle, '--env', 'production'] });
  }

  const run = (c: (typeof cases)[number], extra: Record<string, string> = {}): { ms: number; stdout: string } => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(c.cmd, c.args, { cwd: tmp, env: { ...env, ...extra }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${c.name} exited ${r.status}: ${r.stderr}`);
    return { ms, stdout: r.stdout };
  };

  // Once, untimed: both render the same objects (hooks and tests left out, as a bundle's are by
  // default: docs/renderers.md), or the comparison means nothing.
  const kinds = (out: string) => [...out.matchAll(/^kind: (\S+)$/gm)].map((m) => m[1]).sort().join(',');
  const helmOut = run(cases[1]!).stdout;
  for (const c of cases.slice(2)) {
    const promoteOut = run(c).stdout;
    if (kinds(helmOut) !== kinds(promoteOut) || kinds(helmOut) === '') throw new Error(`${c.name} and helm render different objects:\n  helm:    ${kinds(helmOut)}\n  promote: ${kinds(promoteOut)}`);
  }

  run(plain);
  // The runs above filled the cache root (HOME/.cache/promote): the parameter schema's compiled
  // validator and helm's version, which every later render reuses. For reference, a render that
  // finds neither, each with an empty cache root of its own.
  const cold = { ...cases[2]!, name: 'promote render, empty cache root (reference)' };
  const samples = cases.map(() => [] as number[]);
  const plainMs: number[] = [];
  const coldMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    cases.forEach((c, j) => samples[j]!.push(run(c).ms));
    plainMs.push(run(plain).ms);
    coldMs.push(run(cold, { PROMOTE_CACHE_DIR: join(tmp, `cold-${i}`) }).ms);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const [node, helm] = [median(samples[0]!), median(samples[1]!)];
  const budget = TARGET * helm + node;
  console.log(`render of the podinfo chart (values-prod.yaml, ${kinds(helmOut).split(',').length} objects), median of ${runs} interleaved runs (Node ${process.version})`);
  for (const [j, c] of cases.entries()) {
    const m = median(samples[j]!);
    const vs = j >= 2 ? `  ${(m / helm).toFixed(2)}× helm; ${(m / budget).toFixed(2)} of the budget ${budget.toFixed(0)} ms${m <= budget ? '' : '  OVER'}` : '';
    console.log(`  ${c.name.padEnd(42)} ${m.toFixed(1).padStart(8)} ms${vs}`);
  }
  console.log(`  ${cold.name.padEnd(42)} ${median(coldMs).toFixed(1).padStart(8)} ms`);
  console.log(`  ${plain.name.padEnd(42)} ${median(plainMs).toFixed(1).padStart(8)} ms`);
  console.log(`  target: promote render ≤ ${TARGET} × helm template + node -e 0`);
  if (median(samples[2]!) > budget) process.exitCode = 1;
} finally {
  await rm(tmp, { recursive: true, force: true });
}
