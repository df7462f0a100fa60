import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { PromoteError, type Problem } from '../errors.ts';
import { formatBytes } from '../params/limits.ts';
import { parameterSchema } from '../params/parameter-schema.ts';
import type { LoadedBundleFile } from './bundle-file.ts';
import { conditionProblems, textConditionProblems } from './conditions.ts';
import { contentMarks, MAY_HOLD_SECRET, MAY_REFERENCE } from './content-marks.ts';
import { BUNDLE_MAX_MANIFEST_BYTES, BUNDLE_MAX_MANIFESTS_TOTAL_BYTES } from './limits.ts';
import { isManifestPath, manifestValues, readManifest } from './manifest-yaml.ts';
import { manifestReferenceProblems, textReferenceProblems } from './references.ts';
import { decodeText, isOnDisk, roleOf, unrenderedReference, type BundleLayout, type RenderInput } from './render.ts';
import { fileSecretProblems, manifestSecretProblems, SECRET_HINT } from './secrets.ts';
import { hasTemplateSyntax } from './template.ts';
import type { WalkEntry } from './walk.ts';

// What `promote build` (and `promote validate`) refuse beyond a broken bundle.yaml: a manifest
// that cannot be read as the renderer and the agent read it (not UTF-8, not valid YAML, over the
// size limit, an alias bomb — manifest-yaml.ts, issue 11 §5 and 12 §16), a `${params.…}` the
// parameter schema does not declare, a condition the schema does not back (an include-when on a
// parameter not declared boolean, a nullable parameter where a null cannot drop a key:
// conditions.ts), a file of manifests/ whose references would ship unrendered, and a Secret
// carrying values anywhere in the bundle (unless allowSecrets). All are found in one pass and
// reported together, so one failed build lists everything to fix.

export interface ContentRules {
  layout: BundleLayout;
  /** The *effective* parameter schema (parameter-schema.ts). */
  schema: Record<string, unknown>;
  allowSecrets: boolean;
}

export interface ContentProblems {
  /** Manifests that cannot be read or rendered. */
  unreadable: Problem[];
  references: Problem[];
  conditions: Problem[];
  secrets: Problem[];
}

const noProblems = (): ContentProblems => ({ unreadable: [], references: [], conditions: [], secrets: [] });

/** Checks one file of the bundle (bundle-relative path, its bytes), adding to `out`. */
export function checkBundleFile(path: string, content: Uint8Array, rules: ContentRules, out: ContentProblems): void {
  if (roleOf(path, rules.layout) === 'manifests') {
    if (isManifestPath(path)) {
      const manifest = readManifest(path, content);
      if (manifest.problems.length) return void out.unreadable.push(...manifest.problems);
      out.references.push(...manifestReferenceProblems(manifest, rules.schema));
      out.conditions.push(...conditionProblems(manifest, rules.schema));
      const expanded = manifestValues(manifest);
      if ('problem' in expanded) return void out.unreadable.push(expanded.problem);
      if (!rules.allowSecrets) out.secrets.push(...manifestSecretProblems(manifest, expanded));
      return;
    }
    const text = decodeText(content);
    if (text === undefined) {
      const unrendered = unrenderedReference(path, content);
      if (unrendered) out.unreadable.push(unrendered);
    } else if (hasTemplateSyntax(text)) {
      out.references.push(...textReferenceProblems(path, text, rules.schema));
      out.conditions.push(...textConditionProblems(path, text, rules.schema));
    }
  }
  if (!rules.allowSecrets) out.secrets.push(...fileSecretProblems(path, content));
}

/**
 * Every content problem of a source directory's files (`promote validate`). A file the reader
 * left on disk (shipped verbatim) is read here as build reads it: only when it is within
 * BUNDLE_MAX_MANIFEST_BYTES, so validate and build judge the same bytes.
 */
export function contentProblems(files: readonly RenderInput[], rules: ContentRules): Problem[] {
  const out = noProblems();
  for (const f of files) {
    if (!isOnDisk(f)) checkBundleFile(f.path, f.content, rules, out);
    else if (f.size <= BUNDLE_MAX_MANIFEST_BYTES) checkBundleFile(f.path, readFileSync(f.source), rules, out);
  }
  return [...out.unreadable, ...out.references, ...out.conditions, ...out.secrets];
}

function tooLargeManifest(path: string, size: number): Problem {
  return { file: path, rule: 'maxBytes', message: `the manifest is ${formatBytes(size)}, over the ${formatBytes(BUNDLE_MAX_MANIFEST_BYTES)} limit for one manifest`, expected: `at most ${BUNDLE_MAX_MANIFEST_BYTES} bytes` };
}

/**
 * `marks` (path → contentMarks) are what packing already found in the files it read: those of
 * them no check needs are not read a second time here. Every manifest is read and parsed (it
 * must be valid to build); another file only when its marks say a check needs it, and never one
 * over BUNDLE_MAX_MANIFEST_BYTES (its size, from the walk, decides before a byte is read).
 */
export async function checkBundleContent(bundleFile: LoadedBundleFile, entries: readonly WalkEntry[], marks?: ReadonlyMap<string, number>): Promise<void> {
  const layout = { manifests: bundleFile.spec.manifests, ...(bundleFile.spec.files !== undefined && { files: bundleFile.spec.files }) };
  const schema = parameterSchema(bundleFile.parameterSchema, join(bundleFile.dir, bundleFile.spec.parameters));
  const rules: ContentRules = { layout, schema: schema.effective, allowSecrets: bundleFile.spec.allowSecrets };
  // One file at a time, read into one reused buffer: memory stays flat however large the bundle
  // is. Reads are synchronous: thousands of small manifests cost no thread-pool round trips.
  const out = noProblems();
  let scratch = Buffer.allocUnsafeSlow(64 * 1024);
  const read = (path: string): Buffer => {
    const fd = openSync(path, 'r');
    try {
      const size = Math.min(fstatSync(fd).size, BUNDLE_MAX_MANIFEST_BYTES + 1);
      if (scratch.length < size) scratch = Buffer.allocUnsafeSlow(size);
      let n = 0;
      for (let r = 1; n < size && r > 0; n += r) r = readSync(fd, scratch, n, size - n, n);
      return scratch.subarray(0, n);
    } finally {
      closeSync(fd);
    }
  };
  // Every reader loads each file under spec.manifests whole (sources.ts readRenderInput), so the
  // same per-file and total limits apply to all of them here, whatever their extension.
  let manifestBytes = 0;
  let overTotal = false;
  for (const e of entries) {
    if (e.type !== 'file') continue;
    const inManifests = roleOf(e.path, layout) === 'manifests';
    const needed = (m: number): boolean => (inManifests && (m & MAY_REFERENCE) !== 0) || (!rules.allowSecrets && (m & MAY_HOLD_SECRET) !== 0);
    if (inManifests) {
      manifestBytes += e.size;
      if (manifestBytes > BUNDLE_MAX_MANIFESTS_TOTAL_BYTES && !overTotal) {
        overTotal = true;
        out.unreadable.push({ file: e.path, rule: 'maxBytes', message: `the files under ${layout.manifests} come to more than ${formatBytes(BUNDLE_MAX_MANIFESTS_TOTAL_BYTES)} in all (reached at ${e.path}); readers hold every manifest at once`, expected: `at most ${BUNDLE_MAX_MANIFESTS_TOTAL_BYTES} bytes of manifests` });
      }
      if (e.size > BUNDLE_MAX_MANIFEST_BYTES) {
        out.unreadable.push(tooLargeManifest(e.path, e.size));
        continue;
      }
    }
    if (inManifests && isManifestPath(e.path)) {
      checkBundleFile(e.path, Buffer.from(read(e.source)), rules, out);
      continue;
    }
    if (e.size > BUNDLE_MAX_MANIFEST_BYTES) continue;
    const known = marks?.get(e.path);
    if (known !== undefined && !needed(known)) continue;
    const view = read(e.source);
    if (!needed(contentMarks(view))) continue;
    checkBundleFile(e.path, Buffer.from(view), rules, out);
  }
  const { unreadable, references, conditions, secrets } = out;
  const problems = [...unreadable, ...references, ...conditions, ...secrets];
  if (problems.length === 0) return;
  const n = problems.length;
  const kinds = [unreadable, references, conditions, secrets].filter((p) => p.length > 0).length;
  const code = kinds > 1 ? 'BUNDLE_INVALID' : unreadable.length ? 'MANIFEST_INVALID' : references.length ? 'UNDECLARED_REFERENCE' : conditions.length ? 'CONDITION_INVALID' : 'SECRET_IN_BUNDLE';
  const plural = (k: number, one: string, many = `${one}s`) => `${k} ${k === 1 ? one : many}`;
  const what = [
    unreadable.length && plural(new Set(unreadable.map((p) => p.file)).size, 'unreadable manifest'),
    references.length && plural(references.length, 'undeclared reference'),
    conditions.length && plural(conditions.length, 'condition the schema does not back', 'conditions the schema does not back'),
    secrets.length && plural(secrets.length, 'Secret value set'),
  ]
    .filter(Boolean)
    .join(' and ');
  throw new PromoteError(code, `cannot build ${bundleFile.spec.name}: ${what} (${plural(n, 'problem')})`, {
    outcome: 'verification',
    problems,
    hint: [
      unreadable.length && 'fix each manifest at the line and column shown: the agent reads manifests exactly this way and would refuse it',
      references.length && 'declare every ${params.…} in the parameter schema (or write $${params.…} for literal text)',
      conditions.length && 'declare each include-when parameter {"type": "boolean"}; use a parameter whose type allows null only as the whole unquoted value of a key (a null drops the key), or take "null" out of its type',
      secrets.length && SECRET_HINT,
    ]
      .filter(Boolean)
      .join('; '),
    details: { dir: bundleFile.dir },
  });
}
