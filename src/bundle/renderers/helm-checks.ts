import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { isPromoteError, type Problem } from '../../errors.ts';
import { parseYaml, type ParsedDocument } from '../../params/document.ts';
import { BUNDLE_MAX_MANIFEST_BYTES } from '../limits.ts';
import type { HelmSpec } from './helm.ts';
import type { BundleTree, TreeFile } from './renderer.ts';

// What `promote build` refuses in a chart (issue 15), so that a built bundle renders offline from
// its own files: every dependency Chart.yaml (or a v1 chart's requirements.yaml) lists must be
// vendored under charts/ — `helm template` never downloads, it fails on a missing one, and a
// repository URL would need the network at every render —, checked down through vendored chart
// directories; and no template may name a file outside its chart in .Files: helm reads only the
// chart's own files and renders such a read as an empty string, which would ship a silently
// wrong manifest. (A path computed at render time cannot be seen here; helm's sandbox still
// gives it nothing from outside — test/bundle/renderers/helm-bad-input.test.ts.)

/** Subcharts inside subcharts: deeper than any real chart, and bounded. */
const MAX_DEPTH = 8;

/** `.Files.Get "path"` and its siblings with a literal path, as a template writes them. */
const FILES_READ = /\.Files\.(Get|GetBytes|Glob|Lines|AsConfig|AsSecrets)\s+"((?:[^"\\\n]|\\.)*)"|\.Files\.(Get|GetBytes|Glob|Lines)\s+`([^`]*)`/g;

interface Dependency {
  name?: unknown;
  version?: unknown;
  repository?: unknown;
}

function within(dir: string, path: string): string {
  return dir === '.' ? path : `${dir}/${path}`;
}

async function readText(file: TreeFile, max: number): Promise<string | undefined> {
  if (file.size > max) return undefined;
  return readFile(file.source, 'utf8');
}

/** The chart's Chart.yaml (or requirements.yaml) parsed, or the problem that it is not readable YAML. */
async function parseChartFile(file: TreeFile, problems: Problem[]): Promise<ParsedDocument | undefined> {
  const text = await readText(file, 1024 * 1024);
  if (text === undefined) return void problems.push({ file: file.path, message: `${file.path} is over 1 MiB`, rule: 'chart' });
  try {
    return parseYaml(text, file.path);
  } catch (err) {
    if (!isPromoteError(err)) throw err;
    problems.push(...(err.problems.length ? err.problems : [{ file: file.path, message: err.message, rule: 'chart' }]));
    return undefined;
  }
}

/** Where helm would have fetched a dependency from, and what `helm dependency build` then does. */
function source(repository: unknown): string {
  if (typeof repository !== 'string' || repository === '') return 'it has no repository, so helm expects it in charts/ already';
  if (repository.startsWith('file://')) return `helm dependency build copies it from ${repository}`;
  // https://, oci:// and a repository alias (@name, alias:name) all need the network.
  return `it comes from ${repository}, which needs the network: helm dependency build fetches it once, then the bundle carries it`;
}

async function checkChartDir(dir: string, files: ReadonlyMap<string, TreeFile>, problems: Problem[], depth: number): Promise<void> {
  const chartFile = files.get(within(dir, 'Chart.yaml'));
  if (!chartFile) return;
  const chart = await parseChartFile(chartFile, problems);
  if (!chart) return;
  const meta = (chart.value ?? {}) as { apiVersion?: unknown; dependencies?: unknown };
  // apiVersion v1 charts list dependencies in requirements.yaml (helm 3 still reads it).
  let list: { doc: ParsedDocument; deps: unknown } = { doc: chart, deps: meta.dependencies };
  const requirements = files.get(within(dir, 'requirements.yaml'));
  if (meta.apiVersion === 'v1' && requirements) {
    const doc = await parseChartFile(requirements, problems);
    if (doc) list = { doc, deps: ((doc.value ?? {}) as { dependencies?: unknown }).dependencies };
  }

  // What charts/ holds: chart directories by the name in their Chart.yaml (helm matches on
  // that, not on the directory's name), and packed charts <name>-<version>.tgz.
  const charts = within(dir, 'charts/');
  const subdirs = new Set<string>();
  const packed: string[] = [];
  for (const path of files.keys()) {
    if (!path.startsWith(charts)) continue;
    const rest = path.slice(charts.length).split('/');
    if (rest.length === 1 && rest[0]!.endsWith('.tgz')) packed.push(rest[0]!);
    if (rest.length === 2 && rest[1] === 'Chart.yaml') subdirs.add(`${charts}${rest[0]}`);
  }
  const vendored = new Set<string>();
  for (const sub of [...subdirs].sort()) {
    const subChart = await parseChartFile(files.get(`${sub}/Chart.yaml`)!, problems);
    const name = (subChart?.value as { name?: unknown } | null)?.name;
    if (typeof name === 'string') vendored.add(name);
  }
  const isPacked = (name: string) => packed.some((p) => p.startsWith(`${name}-`) && /^v?[0-9]/.test(p.slice(name.length + 1)));

  if (list.deps !== undefined && list.deps !== null && !Array.isArray(list.deps)) {
    problems.push({ file: list.doc.file, line: list.doc.locate('/dependencies')?.line, pointer: '/dependencies', rule: 'chart', message: 'dependencies is not a list' });
  }
  const deps = Array.isArray(list.deps) ? (list.deps as Dependency[]) : [];
  deps.forEach((dep, i) => {
    const pointer = `/dependencies/${i}`;
    const line = list.doc.locate(pointer)?.line;
    const name = dep?.name;
    if (typeof name !== 'string' || name === '') {
      problems.push({ file: list.doc.file, line, pointer: `${pointer}/name`, rule: 'chart', message: `dependency ${i + 1} has no name` });
      return;
    }
    if (vendored.has(name) || isPacked(name)) return;
    const version = typeof dep.version === 'string' ? ` ${dep.version}` : '';
    problems.push({
      file: list.doc.file,
      line,
      pointer,
      rule: 'chart-dependency',
      message: `the dependency ${name}${version} is not vendored under ${charts} (${source(dep.repository)})`,
      hint: `run \`helm dependency build ${dir}\` in the bundle directory (it writes ${charts}${name}-<version>.tgz), then build again; a bundle renders offline from its own files`,
    });
  });

  await checkFileReads(dir, files, problems);
  if (depth < MAX_DEPTH) for (const sub of [...subdirs].sort()) await checkChartDir(sub, files, problems, depth + 1);
}

/** Templates of the chart at `dir` (not its subcharts') that name a file outside it in .Files. */
async function checkFileReads(dir: string, files: ReadonlyMap<string, TreeFile>, problems: Problem[]): Promise<void> {
  const templates = within(dir, 'templates/');
  for (const [path, file] of files) {
    if (!path.startsWith(templates)) continue;
    const text = await readText(file, BUNDLE_MAX_MANIFEST_BYTES);
    if (text === undefined || text.includes('\0')) continue;
    for (const m of text.matchAll(FILES_READ)) {
      const named = m[2] ?? m[4] ?? '';
      if (!named.startsWith('/') && !posix.normalize(named).split('/').includes('..')) continue;
      const line = text.slice(0, m.index).split('\n').length;
      problems.push({
        file: path,
        line,
        rule: 'chart-files',
        message: `.Files.${m[1] ?? m[3]} "${named}" names a file outside the chart ${dir}: helm reads only the chart's own files and would render it as empty`,
        hint: `copy the file into the chart (e.g. ${within(dir, 'files/')}) and read it by its path inside the chart`,
      });
    }
  }
}

export async function checkChart(spec: HelmSpec, tree: BundleTree): Promise<Problem[]> {
  const problems: Problem[] = [];
  const files = new Map(tree.files.map((f) => [f.path, f]));
  await checkChartDir(spec.chart, files, problems, 0);
  return problems;
}
