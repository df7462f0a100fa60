import { posix } from 'node:path';
import { isMap, isScalar, isSeq, type Node, type Pair, type YAMLMap } from 'yaml';
import type { Problem } from '../../errors.ts';
import { positionAt, readManifest, type ParsedManifest } from '../manifest-yaml.ts';
import { hasTemplateSyntax } from '../template.ts';

// What a kustomize bundle may ask of `kustomize build` (issue 15): only its own files. kustomize
// fetches a `resources:` entry it cannot find locally as a remote base (git over https or ssh,
// or an HTTP GET), and its load restrictor confines *files* to their kustomization's directory
// but lets a base *directory* be anywhere on the machine (`../../../../etc/x`). So every path
// a kustomization reachable from spec.path names must be a file or directory of the bundle:
// remote references, absolute paths and paths that climb out of the bundle are refused, each at
// its file:line, and `helmCharts:` (which needs --enable-helm and a chart repository) too.
// `promote build` runs this walk on the bundle as written (kustomize-checks.ts); kustomize-build.ts
// runs it again on the substituted files just before kustomize, since a path may take a parameter.

/** The files kustomize looks for in a kustomization directory, in its order (it refuses several). */
export const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'] as const;

const VENDOR_HINT = 'vendor the base into the bundle (copy its files in, e.g. with `kustomize localize`, or a git subtree) and name it by a path relative to the kustomization';
const INSIDE_HINT = 'a kustomize bundle renders from its own files only: copy what it needs into the bundle directory and name it by a relative path inside it';

/** How the walk reads a file of the bundle (bundle-relative path): its content, or why it cannot. */
export type ReadBundleFile = (path: string) => Uint8Array | string | { unreadable: string };

export interface KustomizationInput {
  /** The kustomization built (spec.path, normalised: `.` for the bundle directory). */
  root: string;
  /** Every file of the bundle, bundle-relative. */
  paths: ReadonlySet<string>;
  read: ReadBundleFile;
  /**
   * True before substitution (build): an entry holding `${params.…}` is only checked not to be
   * remote, since what it names is known at render, where the walk runs again on the result.
   */
  unsubstituted: boolean;
}

/** How a field's entries are read: paths of files (or also of kustomization directories), or inline documents. */
interface EntryRule {
  /** A directory may be named (a kustomization, walked in turn); files must be in or below the kustomization's own directory either way. */
  dirs: boolean;
  /** An entry with a line break is an inline document, not a path. */
  inline?: boolean;
}

const PATH_LISTS: Record<string, EntryRule> = {
  resources: { dirs: true },
  bases: { dirs: true },
  components: { dirs: true },
  generators: { dirs: true, inline: true },
  transformers: { dirs: true, inline: true },
  validators: { dirs: true, inline: true },
  crds: { dirs: false },
  configurations: { dirs: false },
  patchesStrategicMerge: { dirs: false, inline: true },
};

const FILE: EntryRule = { dirs: false };

/** Lists of objects whose `path` names a file. */
const PATH_OBJECT_LISTS = ['patches', 'patchesJson6902', 'replacements'];
const GENERATORS = ['configMapGenerator', 'secretGenerator'];
const HELM_FIELDS = ['helmCharts', 'helmChartInflationGenerator', 'helmGlobals'];

/** Why a path names something off the machine, if it looks like kustomize's remote forms (go-getter, git URLs, `?ref=`). */
export function remoteForm(entry: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(entry)) return 'a URL';
  if (/^git::|^git@|^gh:/i.test(entry)) return 'a git repository';
  if (/^(?:www\.)?(?:github\.com|gitlab\.com|bitbucket\.org)[/:]/i.test(entry)) return 'a repository on a git host';
  if (/\?(?:ref|version|submodules|timeout)=/.test(entry)) return 'a git reference';
  return undefined;
}

function kustomizationFiles(dir: string, paths: ReadonlySet<string>): string[] {
  return KUSTOMIZATION_FILES.map((name) => (dir === '.' ? name : `${dir}/${name}`)).filter((p) => paths.has(p));
}

function directories(paths: ReadonlySet<string>): Set<string> {
  const dirs = new Set<string>(['.']);
  for (const p of paths) {
    for (let i = p.indexOf('/'); i !== -1; i = p.indexOf('/', i + 1)) dirs.add(p.slice(0, i));
  }
  return dirs;
}

const escapePointer = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

/** Every problem of the kustomizations reachable from `input.root`, in the order they are met. */
export function kustomizationProblems(input: KustomizationInput): Problem[] {
  const problems: Problem[] = [];
  const dirs = directories(input.paths);
  const visited = new Set<string>();

  const visit = (dir: string, from: Problem | undefined): void => {
    if (visited.has(dir)) return;
    visited.add(dir);
    const found = kustomizationFiles(dir, input.paths);
    if (found.length === 0) {
      const none = `no ${KUSTOMIZATION_FILES.join(', ')}`;
      if (from) problems.push({ ...from, rule: 'kustomize-path', message: `${from.message} is a directory with ${none}`, hint: 'a directory named in a kustomization must hold a kustomization; name the file itself for a plain resource' });
      // bundle.yaml's loader saw one on disk: the bundle's files do not hold it.
      else problems.push({ file: 'bundle.yaml', pointer: '/spec/kustomize/path', rule: 'kustomize-path', message: `the bundle's files hold ${none} in ${dir}`, hint: 'a file excluded by .promoteignore is not in the bundle: include the kustomization' });
      return;
    }
    if (found.length > 1) {
      problems.push({ file: found[1]!, rule: 'kustomize-path', message: `${dir} holds ${found.join(' and ')}; kustomize refuses a directory with more than one kustomization file`, hint: 'keep one of them' });
      return;
    }
    const file = found[0]!;
    const content = input.read(file);
    if (typeof content === 'object' && 'unreadable' in content) {
      problems.push({ file, rule: 'kustomize-path', message: `${file} cannot be read: ${content.unreadable}` });
      return;
    }
    const manifest = readManifest(file, typeof content === 'string' ? Buffer.from(content) : content);
    if (manifest.problems.length) {
      problems.push(...manifest.problems);
      return;
    }
    const contents = manifest.documents.find((d) => d.contents !== null)?.contents;
    if (!contents) return;
    if (!isMap(contents)) {
      problems.push({ file, ...positionAt(manifest, contents.range?.[0] ?? 0), rule: 'kustomize-path', message: `${file} is not a mapping; a kustomization is one YAML mapping` });
      return;
    }
    checkFields(manifest, dir, contents);
  };

  const at = (manifest: ParsedManifest, node: Node | null | undefined, pointer: string): Pick<Problem, 'file' | 'line' | 'column' | 'pointer'> => ({
    file: manifest.path,
    ...positionAt(manifest, node?.range?.[0] ?? 0),
    pointer,
  });

  /** Checks one path entry, and walks the kustomization directory it names. */
  const checkEntry = (manifest: ParsedManifest, dir: string, node: Node, pointer: string, field: string, rule: EntryRule): void => {
    if (!isScalar(node) || typeof node.value !== 'string') {
      problems.push({ ...at(manifest, node, pointer), rule: 'kustomize-path', message: `${field} entries must be strings (paths)` });
      return;
    }
    const raw = node.value;
    if (rule.inline && (raw.includes('\n') || raw.trimStart().startsWith('{'))) return;
    const entry = field === 'files' ? raw.slice(raw.indexOf('=') + 1) : raw;
    const where = at(manifest, node, pointer);
    const shown = `${field} entry ${JSON.stringify(entry.length > 120 ? `${entry.slice(0, 120)}…` : entry)}`;
    const remote = remoteForm(entry);
    if (remote) {
      problems.push({ ...where, rule: 'remote-base', message: `${shown} is ${remote}: kustomize would fetch it over the network, and a bundle must render from its own files`, hint: VENDOR_HINT });
      return;
    }
    if (input.unsubstituted && hasTemplateSyntax(entry)) return;
    if (entry.startsWith('/')) {
      problems.push({ ...where, rule: 'outside-bundle', message: `${shown} is an absolute path, outside the bundle`, hint: INSIDE_HINT });
      return;
    }
    const resolved = posix.normalize(posix.join(dir, entry)).replace(/\/+$/, '');
    if (resolved === '..' || resolved.startsWith('../')) {
      problems.push({ ...where, rule: 'outside-bundle', message: `${shown} resolves outside the bundle`, hint: INSIDE_HINT });
      return;
    }
    const isFile = input.paths.has(resolved);
    const isDir = !isFile && dirs.has(resolved);
    if (!isFile && !isDir) {
      problems.push({
        ...where,
        rule: 'kustomize-path',
        message: `${shown} names nothing in the bundle (${resolved}); kustomize would try it as a remote base`,
        hint: 'fix the path, or add the file to the bundle (a file ignored by .promoteignore is not in it)',
      });
      return;
    }
    const within = dir === '.' || resolved === dir || resolved.startsWith(`${dir}/`);
    if (isFile && !within) {
      problems.push({
        ...where,
        rule: 'kustomize-path',
        message: `${shown} is a file outside the kustomization's directory ${dir}; kustomize's load restrictor (LoadRestrictionsRootOnly, which promote keeps) refuses it`,
        hint: `move the file under ${dir}, or make the directory that holds it a kustomization and list that directory in resources`,
      });
      return;
    }
    if (isDir) {
      if (!rule.dirs) {
        problems.push({ ...where, rule: 'kustomize-path', message: `${shown} is a directory; ${field} names files` });
        return;
      }
      visit(resolved, { ...where, message: shown });
    }
  };

  const checkFields = (manifest: ParsedManifest, dir: string, map: YAMLMap): void => {
    for (const pair of map.items as Pair<Node, Node>[]) {
      const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
      if (key === undefined) continue;
      const value = pair.value;
      const pointer = `/${escapePointer(key)}`;
      if (HELM_FIELDS.includes(key)) {
        problems.push({
          ...at(manifest, pair.key, pointer),
          rule: 'helm-charts',
          message: `${key} needs \`kustomize build --enable-helm\`, which runs helm and fetches charts from their repositories; promote never enables it`,
          hint: 'render the chart as a helm bundle (bundle.yaml spec.helm, docs/renderers.md), or run `helm template` once and vendor its output as a resource',
        });
        continue;
      }
      if (value === null || value === undefined || (isScalar(value) && value.value === null)) continue;
      const list = (each: (item: Node, pointer: string) => void): void => {
        if (!isSeq(value)) return void problems.push({ ...at(manifest, value, pointer), rule: 'kustomize-path', message: `${key} must be a list` });
        value.items.forEach((item, i) => each(item as Node, `${pointer}/${i}`));
      };
      const rule = PATH_LISTS[key];
      if (rule) {
        list((item, p) => checkEntry(manifest, dir, item, p, key, rule));
      } else if (PATH_OBJECT_LISTS.includes(key)) {
        list((item, p) => {
          if (!isMap(item)) return;
          const path = item.get('path', true) as Node | undefined;
          if (path !== undefined) checkEntry(manifest, dir, path, `${p}/path`, `${key} path`, FILE);
        });
      } else if (GENERATORS.includes(key)) {
        list((item, p) => {
          if (!isMap(item)) return;
          for (const sub of ['files', 'envs'] as const) {
            const entries = item.get(sub, true) as Node | undefined;
            if (entries === undefined) continue;
            if (!isSeq(entries)) {
              problems.push({ ...at(manifest, entries, `${p}/${sub}`), rule: 'kustomize-path', message: `${key} ${sub} must be a list` });
              continue;
            }
            entries.items.forEach((e, i) => checkEntry(manifest, dir, e as Node, `${p}/${sub}/${i}`, sub, FILE));
          }
          const env = item.get('env', true) as Node | undefined;
          if (env !== undefined) checkEntry(manifest, dir, env, `${p}/env`, 'env', FILE);
        });
      } else if (key === 'openapi' && isMap(value)) {
        const path = value.get('path', true) as Node | undefined;
        if (path !== undefined) checkEntry(manifest, dir, path, `${pointer}/path`, 'openapi path', FILE);
      }
    }
  };

  visit(input.root, undefined);
  return problems;
}
