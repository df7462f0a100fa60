import type { Command } from '../command.ts';
import { REGISTRY_HELP, REGISTRY_OPTIONS, registryOptions } from '../registry-options.ts';

export const command: Command = {
  name: 'copy',
  summary: 'copy a bundle with its signatures and promotion records to another registry or layout',
  usage: 'promote copy <source> <target> [options]',
  description: `
Copies the artefact byte for byte (the digest stays the same) together with everything that
refers to it: cosign signatures (sha256-<hex>.sig), promotion records and approvals (OCI
referrers), recursively. Works between registries, OCI layout directories (oci:<dir>) and both.
Status reports are not copied from a registry without the referrers API (they are read by their
tag, which copy does not carry).
Blobs the target already has are skipped; within one registry they are mounted, not uploaded.
The target keeps the source's tag unless it names its own.

${REGISTRY_HELP} The same credentials options apply to both sides; per-registry credentials come
from the docker config.`,
  positionals: { min: 2, max: 2 },
  options: { ...REGISTRY_OPTIONS },
  examples: [
    { title: 'Relocate a bundle to a production registry', command: 'promote copy registry.example.com/acme/webapp@sha256:4f1c… prod.example.com/acme/webapp:1.4.0' },
    { title: 'Export a bundle and its signatures to a directory (air gap)', command: 'promote copy registry.example.com/acme/webapp:1.4.0 oci:./export/webapp' },
    { title: 'Import it on the other side', command: 'promote copy oci:./export/webapp:1.4.0 registry.internal/acme/webapp' },
  ],
  async run(ctx, args) {
    const { copy } = await import('../../oci/copy.ts');
    const options = await registryOptions(ctx, args);
    const [source, target] = args.positionals as [string, string];
    ctx.progress(`copying ${source} to ${target}…`);
    const result = await copy(source, target, options);
    ctx.log(
      `copied ${result.manifests} manifest(s), ${result.referrers.length} referrer(s); blobs: ${result.blobsUploaded} uploaded, ` +
        `${result.blobsMounted} mounted, ${result.blobsSkipped} already there`,
    );
    return { data: result, text: result.reference };
  },
};
