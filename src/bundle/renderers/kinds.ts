import { PromoteError, type Problem } from '../../errors.ts';
import { helmRenderer, type HelmSpec } from './helm.ts';
import { kustomizeRenderer, type KustomizeSpec } from './kustomize.ts';
import { plainRenderer, type PlainSpec } from './plain.ts';
import type { Renderer, RendererKind, RendererOptions } from './renderer.ts';

// Every renderer kind that runs a binary, once; bundle.yaml names at most one of them in its
// spec (by its key), none meaning the plain renderer. `npm run gen:schemas` writes their specs'
// schemas into schemas/bundle.schema.json. A new kind is a file under renderers/ and a line here.
export const RENDERER_KINDS = [helmRenderer, kustomizeRenderer] as const;

/** A bundle's renderer as bundle.yaml declares it and its config blob records it. */
export type RendererSpec = PlainSpec | HelmSpec | KustomizeSpec;

type AnyKind = RendererKind<Exclude<RendererSpec, PlainSpec>>;

const byKind = new Map<string, AnyKind>(RENDERER_KINDS.map((k) => [k.kind, k as unknown as AnyKind]));

export function rendererKind(kind: string): AnyKind | undefined {
  return byKind.get(kind);
}

/** The renderer for a spec (plain when none). */
export function createRenderer(spec: RendererSpec, options?: RendererOptions): Renderer {
  if (spec.kind === 'plain') return plainRenderer;
  const kind = byKind.get(spec.kind);
  if (!kind) throw new Error(`internal: no renderer kind ${spec.kind}`);
  return kind.create(spec, options);
}

/**
 * The renderer recorded in a config blob (`renderer`: {kind, …}), which is untrusted input: an
 * unknown kind or a malformed spec is BUNDLE_CONFIG_INVALID, never a guess.
 */
export function parseRecordedRenderer(raw: unknown, where: string): RendererSpec {
  if (raw === undefined) return { kind: 'plain' };
  const kind = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as { kind?: unknown }).kind : undefined;
  const k = typeof kind === 'string' ? byKind.get(kind) : undefined;
  const invalid = (why: string) =>
    new PromoteError('BUNDLE_CONFIG_INVALID', `the bundle config of ${where} is not valid: "renderer" ${why}`, {
      outcome: 'verification',
      hint: 'the artefact was built by a newer promote (upgrade) or crafted; rebuild it with promote build',
    });
  if (!k) throw invalid(`names ${typeof kind === 'string' ? `the unknown renderer ${JSON.stringify(kind)}` : 'no renderer kind'}`);
  const { kind: _, ...rest } = raw as Record<string, unknown>;
  const problems: Omit<Problem, 'file'>[] = [];
  const spec = k.parse(rest, '/renderer', (p) => problems.push(p));
  if (!spec) throw invalid(problems.map((p) => `${p.pointer}: ${p.message}`).join('; '));
  return spec;
}

/** The config blob's `renderer` for a bundle.yaml's renderer: none for plain (its digest stays what it was). */
export function recordedRenderer(spec: RendererSpec): ({ kind: string } & Record<string, unknown>) | undefined {
  return spec.kind === 'plain' ? undefined : { ...spec };
}
