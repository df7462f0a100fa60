import { isMap, isScalar, type Document } from 'yaml';
import { PromoteError, type Problem } from '../errors.ts';
import { isManifestPath, parseManifest, positionAt } from './manifest-yaml.ts';
import { decodeText, isOnDisk, roleOf, type BundleLayout, type RenderInput } from './render.ts';

// Secrets stay out of bundles: a bundle is pushed to a registry, copied, cached and kept for
// ever, so a Kubernetes Secret carrying `data` or `stringData` in it is a leaked secret. The
// build refuses one unless bundle.yaml says `allowSecrets: true` (e.g. kube-prometheus ships
// three whose values are not sensitive).

export const SECRET_HINT =
  'keep secret values out of the bundle: create them in the cluster from a secret store (External Secrets Operator), commit them encrypted (Sealed Secrets, SOPS), or reference them as parameters {secretRef: {name, key}}; if these values are not secret, set spec.allowSecrets: true in bundle.yaml';

function field(doc: Document.Parsed, key: string): { node: unknown; offset: number | undefined } | undefined {
  const root = doc.contents;
  if (!isMap(root)) return undefined;
  const pair = root.items.find((p) => isScalar(p.key) && p.key.value === key);
  if (!pair) return undefined;
  const offset = isScalar(pair.key) ? pair.key.range?.[0] : undefined;
  return { node: pair.value, offset };
}

function nonEmpty(node: unknown): boolean {
  return isMap(node) && node.items.length > 0;
}

/** Every Secret object with data/stringData among the manifests, as problems (file:line). */
export function secretObjectProblems(files: readonly RenderInput[], layout: BundleLayout): Problem[] {
  const problems: Problem[] = [];
  for (const f of files) {
    if (roleOf(f.path, layout) !== 'manifests' || !isManifestPath(f.path)) continue;
    if (isOnDisk(f)) continue; // a shipped file: never rendered, so never checked
    const text = decodeText(f.content);
    if (text === undefined || !/\bSecret\b/.test(text)) continue;
    const manifest = parseManifest(f.path, text);
    for (const doc of manifest.documents) {
      const kind = field(doc, 'kind');
      const apiVersion = field(doc, 'apiVersion');
      if (!isScalar(kind?.node) || kind.node.value !== 'Secret') continue;
      if (!isScalar(apiVersion?.node) || apiVersion.node.value !== 'v1') continue;
      for (const key of ['data', 'stringData']) {
        const f2 = field(doc, key);
        if (!f2 || !nonEmpty(f2.node)) continue;
        const meta = field(doc, 'metadata');
        const name = isMap(meta?.node) ? meta.node.get('name') : undefined;
        const pos = positionAt(manifest, f2.offset ?? doc.range[0]);
        problems.push({
          file: f.path,
          ...pos,
          pointer: `/${key}`,
          rule: 'no-secrets',
          message: `Secret ${typeof name === 'string' ? `"${name}" ` : ''}carries ${key}; secret values do not belong in a bundle`,
          expected: `a Secret without ${key}, or spec.allowSecrets: true`,
        });
      }
    }
  }
  return problems;
}

/** Throws SECRET_IN_BUNDLE (exit 4) unless allowed or there are none. */
export function checkSecretObjects(files: readonly RenderInput[], layout: BundleLayout, allowSecrets: boolean): void {
  if (allowSecrets) return;
  const problems = secretObjectProblems(files, layout);
  if (problems.length === 0) return;
  const n = problems.length;
  throw new PromoteError('SECRET_IN_BUNDLE', `the bundle contains ${n} Secret value set${n === 1 ? '' : 's'} (data/stringData)`, {
    outcome: 'verification',
    problems,
    hint: SECRET_HINT,
  });
}
