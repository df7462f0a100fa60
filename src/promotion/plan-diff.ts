import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RendererOptions } from '../bundle/renderers/renderer.ts';
import type { ContentReader } from '../oci/registry.ts';
import { clusterNames } from '../params/cluster-names.ts';
import { parameterDifferences, type ParameterDifference } from '../params/parameter-diff.ts';

// The rendered difference a promotion would make to a stage: the parameters, and — cluster by
// cluster — the files each agent would apply now versus after, rendered exactly as the agent
// renders them (that cluster's merged parameters, `${promote.cluster}` set). Unlike `to`, this
// downloads the bundles' content (a preview is worth it; a promotion never pays it); a
// configuration change downloads its one bundle once.

export interface ClusterDiff {
  cluster: string;
  /** The cluster's merged parameters, now → after. */
  parameters: ParameterDifference[];
  changedFiles: string[];
  /** Unified diff of the cluster's rendered files (now → after). */
  manifests: string;
  /** An earlier cluster whose rendered diff is the same, byte for byte (text output prints it once). */
  sameAs?: string;
}

/** A renderer as the plan shows it (renderers/renderer.ts RendererIdentity). */
export interface ShownRenderer {
  kind: string;
  version?: string;
  /** The binary this machine ran (not in any signed record). */
  binary?: string;
}

export interface PlanRenderers {
  /** What rendered the bundle the stage runs now, on this machine (absent before the first promotion). */
  now?: ShownRenderer;
  /** What rendered the candidate, on this machine: the diff is its output. */
  after: ShownRenderer;
  /** What the stage's agents last reported rendering with (trusted reports that say; `reason` when one could not render), by cluster (plan-renderers.ts). */
  reported: { cluster: string; kind: string; version?: string; reason?: string }[];
  /** Some agent reports the candidate's renderer kind at another version than this machine rendered with. */
  versionDiffers: boolean;
}

export interface PlanDiff {
  /** The environment's own parameters (a record's `parameters`), now → after. */
  parameters: ParameterDifference[];
  /** One per cluster the stage's agents run on. */
  clusters: ClusterDiff[];
  /** The renderer of each side (and what the agents report), so a change of helm version is visible. */
  renderer: PlanRenderers;
}

export interface RenderSide {
  /** Where this bundle is (the stage's repository now, the source repository for the candidate). */
  registry: ContentReader;
  digest: string;
  /** The environment's values (a record's `parameters`). */
  parameters: Record<string, unknown>;
  /** Each cluster's merged values (a record's `clusters`); empty for an environment without clusters. */
  clusters: { name: string; parameters: Record<string, unknown> }[];
}

export interface PlanDiffTarget {
  stage: string;
  environment: string;
  /** The candidate schema's secret pointers: shown by reference name only. */
  secrets?: string[];
  /** How the bundles' renderer binary is found (the project's environment). */
  renderer?: RendererOptions;
}

type Pulled = import('../bundle/render-pulled.ts').PulledBundle;

async function extract(side: RenderSide, dir: string): Promise<Pulled> {
  const { pullInto } = await import('../artifact/pull.ts');
  return pullInto(side.registry, side.digest, dir);
}

function shown(r: { kind: string; version?: string; binary?: string }): ShownRenderer {
  return { kind: r.kind, ...(r.version !== undefined && { version: r.version }), ...(r.binary !== undefined && { binary: r.binary }) };
}

async function render(bundle: Pulled, params: Record<string, unknown>, builtins: import('../bundle/render.ts').BuiltinValues, options?: RendererOptions): Promise<{ files: Map<string, string>; renderer: ShownRenderer }> {
  const { decodeText, isOnDisk } = await import('../bundle/render.ts');
  const { renderPulled } = await import('../bundle/render-pulled.ts');
  const { fileSha256Digest, sha256Digest } = await import('../oci/digest.ts');
  // The agent's render (render-pulled.ts), so the diff is of what the agents will apply.
  const { files, renderer } = await renderPulled(bundle, { params, promote: builtins }, options);
  // Files shipped verbatim diff as text when they are text; binaries by size and digest.
  const show = (c: string | Uint8Array) => (typeof c === 'string' ? c : (decodeText(c) ?? `(binary: ${c.length} bytes, ${sha256Digest(c)})\n`));
  const out = new Map<string, string>();
  // A shipped file stays on disk (it may be hundreds of MiB): it diffs by size and digest.
  for (const f of files) out.set(f.path, isOnDisk(f) ? `(file: ${f.size} bytes, ${await fileSha256Digest(f.source)})\n` : show(f.content));
  return { files: out, renderer: shown(renderer) };
}

/** The values one cluster's agent renders with: its entry in the record, else the environment's. */
export function valuesFor(side: Pick<RenderSide, 'parameters' | 'clusters'>, cluster: string): Record<string, unknown> {
  return side.clusters.find((c) => c.name === cluster)?.parameters ?? side.parameters;
}

export async function planDiff(target: PlanDiffTarget, current: RenderSide | undefined, candidate: RenderSide): Promise<PlanDiff> {
  const { createTwoFilesPatch } = await import('diff');
  const tmp = await mkdtemp(join(tmpdir(), 'promote-plan-'));
  try {
    const after = await extract(candidate, join(tmp, 'candidate'));
    const before = current ? (current.digest === candidate.digest ? after : await extract(current, join(tmp, 'current'))) : undefined;
    const clusters = clusterNames({ name: target.environment, clusters: candidate.clusters });
    const out: ClusterDiff[] = [];
    const seen = new Map<string, string>();
    let renderers: { now?: ShownRenderer; after?: ShownRenderer } = {};
    for (const cluster of clusters) {
      const afterValues = valuesFor(candidate, cluster);
      const beforeValues = current ? valuesFor(current, cluster) : {};
      const builtins = (digest: string) => ({ stage: target.stage, environment: target.environment, cluster, digest });
      const now = before && current ? await render(before, beforeValues, builtins(current.digest), target.renderer) : undefined;
      const next = await render(after, afterValues, builtins(candidate.digest), target.renderer);
      renderers = { now: renderers.now ?? now?.renderer, after: renderers.after ?? next.renderer };
      const a = now?.files ?? new Map<string, string>();
      const b = next.files;
      const patches: string[] = [];
      const changedFiles: string[] = [];
      for (const path of [...new Set([...a.keys(), ...b.keys()])].sort()) {
        const x = a.get(path) ?? '';
        const y = b.get(path) ?? '';
        if (x === y) continue;
        changedFiles.push(path);
        patches.push(createTwoFilesPatch(`now/${path}`, `after/${path}`, x, y, undefined, undefined, { context: 3 }).replace(/^=+\n/, ''));
      }
      const manifests = patches.join('');
      const sameAs = seen.get(manifests);
      if (sameAs === undefined) seen.set(manifests, cluster);
      out.push({ cluster, parameters: parameterDifferences(beforeValues, afterValues, target.secrets), changedFiles, manifests, ...(sameAs !== undefined && { sameAs }) });
    }
    const renderer: PlanRenderers = { ...(renderers.now && { now: renderers.now }), after: renderers.after!, reported: [], versionDiffers: false };
    return { parameters: parameterDifferences(current?.parameters ?? {}, candidate.parameters, target.secrets), clusters: out, renderer };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
