// Builds a DesiredState from plain files, as the renderer would hand them to a target.
import { readFile, readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { DesiredState, RenderedFile } from '../../src/agent/target.ts';

export const OWNER = { pipeline: 'webapp', stage: 'dev', cluster: 'dev-1' };

export function yamlFile(path: string, ...docs: unknown[]): RenderedFile {
  const text = docs.map((d) => JSON.stringify(d)).join('\n---\n');
  return { path, content: Buffer.from(text), documents: docs };
}

export function desiredOf(files: RenderedFile[], record = 'sha256:r1', owner = OWNER): DesiredState {
  return { owner, recordDigest: record, bundleDigest: `sha256:b-${record}`, files };
}

/** Every *.yaml under `dir` (sorted, recursively), parsed like the renderer parses manifests. */
export async function filesFromDir(dir: string): Promise<RenderedFile[]> {
  const out: RenderedFile[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('.yaml') || e.name.endsWith('.yml')) {
        const content = await readFile(p);
        const documents = parseAllDocuments(content.toString('utf8')).map((doc) => doc.toJS());
        out.push({ path: relative(dir, p).split(sep).join('/'), content, documents });
      }
    }
  };
  await walk(dir);
  return out;
}

/**
 * kube-prometheus' CRDs are written for Kubernetes >= 1.25: CEL rules (`x-kubernetes-validations`)
 * and `default: ""` in their schemas. The 1.20 test server's server-side apply rejects both
 * ("field not declared in schema"; "must be of type string: null" — a 422, so the agent reports
 * it rather than falling back). This removes exactly those two schema features, leaving the CRDs
 * as large as they are, which is the point of the fixture. (Its Services without `protocol` are
 * left alone: 1.20 cannot server-side apply them, and the agent writes them without SSA.)
 */
export function forKubernetes120(files: RenderedFile[]): RenderedFile[] {
  const strip = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(strip);
    if (node === null || typeof node !== 'object') return node;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
      if (k === 'x-kubernetes-validations') continue;
      if (k === 'default' && v === '') continue;
      out[k] = strip(v);
    }
    return out;
  };
  return files.map((f) => {
    if (!f.documents?.some((d) => (d as { kind?: string } | null)?.kind === 'CustomResourceDefinition')) return f;
    const documents = f.documents.map(strip);
    return { path: f.path, content: Buffer.from(documents.map((d) => JSON.stringify(d)).join('\n---\n')), documents };
  });
}
