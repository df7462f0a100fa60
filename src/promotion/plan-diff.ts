import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Registry } from '../oci/registry.ts';

// The rendered difference a promotion would make to a stage: the parameters, and the manifests
// an agent would apply now versus after. Unlike `to`, this downloads both bundles' content (a
// preview is worth it; a promotion never pays it).

export interface ParameterDifference {
  path: string;
  before?: unknown;
  after?: unknown;
}

export interface PlanDiff {
  parameters: ParameterDifference[];
  changedFiles: string[];
  /** Unified diff of the rendered files (current → candidate). */
  manifests: string;
}

export interface RenderSide {
  /** Where this bundle is (the stage's repository now, the source repository for the candidate). */
  registry: Registry;
  digest: string;
  parameters: Record<string, unknown>;
}

function flatten(value: unknown, prefix: string, out: Map<string, unknown>): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) out.set(prefix, value);
}

export function parameterDifferences(before: Record<string, unknown>, after: Record<string, unknown>): ParameterDifference[] {
  const a = new Map<string, unknown>();
  const b = new Map<string, unknown>();
  flatten(before, '', a);
  flatten(after, '', b);
  const out: ParameterDifference[] = [];
  for (const path of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const x = a.get(path);
    const y = b.get(path);
    if (JSON.stringify(x) === JSON.stringify(y)) continue;
    out.push({ path, ...(a.has(path) && { before: x }), ...(b.has(path) && { after: y }) });
  }
  return out;
}

async function render(side: RenderSide, stage: string, environment: string, dir: string): Promise<Map<string, string>> {
  const { registry } = side;
  const { resolveBundle, extractBundle } = await import('../oci/pull.ts');
  const { renderBundleDirectory } = await import('../bundle/render-environment.ts');
  const bundle = await resolveBundle(registry, side.digest);
  await extractBundle(registry, bundle, dir);
  const { decodeText, isOnDisk } = await import('../bundle/render.ts');
  const { fileSha256Digest, sha256Digest } = await import('../oci/digest.ts');
  const files = await renderBundleDirectory(dir, side.parameters, { stage, environment, digest: side.digest });
  // Files shipped verbatim diff as text when they are text; binaries by size and digest.
  const show = (c: string | Uint8Array) => (typeof c === 'string' ? c : (decodeText(c) ?? `(binary: ${c.length} bytes, ${sha256Digest(c)})\n`));
  const out = new Map<string, string>();
  // A shipped file stays on disk (it may be hundreds of MiB): it diffs by size and digest.
  for (const f of files) out.set(f.path, isOnDisk(f) ? `(file: ${f.size} bytes, ${await fileSha256Digest(f.source)})\n` : show(f.content));
  return out;
}

export async function planDiff(stage: string, environment: string, current: RenderSide | undefined, candidate: RenderSide): Promise<PlanDiff> {
  const { createTwoFilesPatch } = await import('diff');
  const tmp = await mkdtemp(join(tmpdir(), 'promote-plan-'));
  try {
    const after = await render(candidate, stage, environment, join(tmp, 'candidate'));
    const before = current ? await render(current, stage, environment, join(tmp, 'current')) : new Map<string, string>();
    const patches: string[] = [];
    const changedFiles: string[] = [];
    for (const path of [...new Set([...before.keys(), ...after.keys()])].sort()) {
      const a = before.get(path) ?? '';
      const b = after.get(path) ?? '';
      if (a === b) continue;
      changedFiles.push(path);
      patches.push(createTwoFilesPatch(`now/${path}`, `after/${path}`, a, b, undefined, undefined, { context: 3 }).replace(/^=+\n/, ''));
    }
    return { parameters: parameterDifferences(current?.parameters ?? {}, candidate.parameters), changedFiles, manifests: patches.join('') };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
