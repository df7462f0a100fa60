import type { Problem } from '../../errors.ts';
import type { BundleLayout, RenderContext, RenderedFile, RenderInput } from '../render.ts';

// The seam between a bundle and what turns it into manifests (DESIGN.md §4b, issue 15): one
// renderer per bundle, declared in bundle.yaml (`spec.helm`, `spec.kustomize`; neither is the
// plain `${params.…}` substitution of render.ts). Every reader — `promote render`, `plan`'s diff,
// the agent — goes through renderTree (render-tree.ts), so all three render the same way.

/** A file of a bundle: bundle-relative path ('/'-separated), where it is on disk, its size. */
export interface TreeFile {
  path: string;
  source: string;
  size: number;
}

/**
 * The files of one bundle, exactly those that are (or, for a source directory, would be) packed:
 * a pulled bundle's extraction, or a source walk with the ignore rules applied. A renderer reads
 * nothing else — a file beside the bundle, ignored or outside it, is not there to be read.
 */
export interface BundleTree {
  files: readonly TreeFile[];
  layout: BundleLayout;
  /** `bundle <registry>@<digest>` or `bundle <dir>`, for messages. */
  what: string;
  /** The bundle's name (bundle.yaml metadata.name, the config's `name`): helm's default release name. */
  name?: string;
  /** Bundle-relative paths that are the bundle's contract, not its content (bundle.yaml, the schema where known). */
  contract: readonly string[];
  /** The plain renderer's input, when a caller already read it (sources.ts): not read again. */
  read?: readonly RenderInput[];
}

/** What rendered a bundle: recorded in the agent's status report, shown by `plan`. */
export interface RendererIdentity {
  /** `plain`, `helm` or `kustomize`. */
  kind: string;
  /** The binary's own version string (`v3.17.3+ge4da497`); none for the built-in renderer. */
  version?: string;
  /** Absolute path of the binary run. */
  binary?: string;
}

export interface Renderer {
  readonly kind: string;
  identify(): Promise<RendererIdentity>;
  /** The rendered files, in byte order of their paths; throws RENDER_* with every problem. */
  render(tree: BundleTree, ctx: RenderContext): Promise<RenderedFile[]>;
}

/** What bundle.yaml lays down for every renderer's input: its parameter schema, whether Secret values may ship. */
export interface BundleRules {
  schema: object;
  allowSecrets: boolean;
}

/** How a renderer that runs a binary finds and bounds it. */
export interface RendererOptions {
  /** Where PROMOTE_HELM / PROMOTE_KUSTOMIZE and PATH are read (default: process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Wall-clock limit of one render (default RENDER_TIMEOUT_MS, or PROMOTE_RENDER_TIMEOUT). */
  timeoutMs?: number;
  /** Limit on what the binary may print (default BUNDLE_MAX_MANIFESTS_TOTAL_BYTES). */
  maxOutputBytes?: number;
}

/**
 * One kind of renderer: the key it is declared under in bundle.yaml's spec, the schema of its
 * spec there (written into schemas/bundle.schema.json by `npm run gen:schemas`), its parser, its
 * build-time checks and its factory. A new kind is a file under renderers/ and a line in kinds.ts.
 */
export interface RendererKind<S extends { kind: string }> {
  kind: S['kind'];
  schema: object;
  /**
   * The spec from bundle.yaml (already checked against the schema) or from a config blob
   * (untrusted: everything is checked); problems name `pointer` and below.
   */
  parse(raw: unknown, pointer: string, report: (problem: Omit<Problem, 'file'>) => void): S | undefined;
  /** Bundle-relative directory the spec renders (recorded as the config's `manifests`). */
  root(spec: S): string;
  /** Problems `promote build` refuses (a missing chart dependency, a remote base, a Secret value, …). */
  check?(spec: S, tree: BundleTree, rules: BundleRules): Promise<Problem[]>;
  create(spec: S, options?: RendererOptions): Renderer;
}
