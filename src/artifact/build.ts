import { resolve } from 'node:path';
import { buildBundle, type BuildOptions } from '../bundle/build.ts';
import type { ExcludedEntry } from '../bundle/walk.ts';
import { OCI_MANIFEST } from '../oci/media-types.ts';

// `promote build`: a bundle directory built (bundle/build.ts) and, with --oci-layout, stored in
// an OCI image layout by the same push as `promote push` (push.ts).

export interface BuildSummary {
  name: string;
  /** The manifest digest: the bundle's identity. */
  digest: string;
  mediaType: string;
  /** Manifest size in bytes. */
  size: number;
  created: string;
  files: number;
  directories: number;
  layer: { digest: string; size: number; uncompressedSize: number };
  annotations: Record<string, string>;
  /** Paths left out of the bundle and why (`.git/` is always left out and not listed). */
  excluded: ExcludedEntry[];
  /** `oci:<dir>@sha256:…` when written to an OCI layout. */
  reference?: string;
}

export interface BuildCommandOptions extends BuildOptions {
  /** Also store the artefact in this OCI image layout directory. */
  ociLayout?: string;
  /** Tag in the layout (default: none, stored by digest). */
  tag?: string;
  cwd?: string;
}

/** `promote build`: build, optionally store in an OCI layout, clean up, summarise. */
export async function build(dir: string, options: BuildCommandOptions = {}): Promise<BuildSummary> {
  const cwd = options.cwd ?? process.cwd();
  // try/finally rather than `await using`: tsc's downlevelling of `using` leaves the `.ts`
  // extension of dynamic imports inside it unrewritten, which breaks the compiled dist/.
  const built = await buildBundle(resolve(cwd, dir), options);
  try {
    const summary: BuildSummary = {
      name: built.name,
      digest: built.manifest.descriptor.digest,
      mediaType: OCI_MANIFEST,
      size: built.manifest.descriptor.size,
      created: built.config.value.created,
      files: built.files,
      directories: built.directories,
      layer: { digest: built.layer.descriptor.digest, size: built.layer.descriptor.size, uncompressedSize: built.layer.uncompressedSize },
      annotations: built.annotations,
      excluded: built.excluded,
    };
    if (options.ociLayout !== undefined) {
      const { LayoutRegistry } = await import('../oci/layout-registry.ts');
      const { pushBuiltBundle } = await import('./push.ts');
      const layoutPath = resolve(cwd, options.ociLayout);
      const pushed = await pushBuiltBundle(built, new LayoutRegistry(layoutPath), options.tag);
      summary.reference = `oci:${options.ociLayout}${options.tag ? `:${options.tag}` : ''}@${pushed.digest}`;
    }
    return summary;
  } finally {
    await built.dispose();
  }
}
