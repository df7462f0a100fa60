import type { Command } from '../command.ts';
import { flag } from '../command.ts';
import { REGISTRY_HELP, REGISTRY_OPTIONS, registryOptions } from '../registry-options.ts';

export const command: Command = {
  name: 'inspect',
  summary: 'show a bundle: manifest, annotations, files with sizes, signatures and records',
  usage: 'promote inspect <reference> [options]',
  description: `
Reads the manifest and (for a bundle) its config and content, verified by digest, and lists
what refers to it: cosign signatures and OCI referrers such as promotion records and status
reports. Nothing is written. --no-files skips downloading the content layer.

${REGISTRY_HELP}`,
  positionals: { min: 1, max: 1 },
  options: {
    'no-files': { type: 'boolean', description: 'do not download the content layer to list files' },
    ...REGISTRY_OPTIONS,
  },
  examples: [
    { title: 'What is in this bundle, and who signed or promoted it?', command: 'promote inspect registry.example.com/acme/webapp@sha256:4f1c…' },
    { title: 'Inspect a bundle kept in an OCI layout', command: 'promote inspect oci:./.promote/registry/webapp:dev' },
    { title: 'The annotations as JSON, for a script', command: "promote inspect localhost:5000/acme/webapp:dev --insecure --no-files --output json | jq .annotations" },
  ],
  async run(ctx, args) {
    const { inspect } = await import('../../artifact/inspect.ts');
    const { formatInspect } = await import('../inspect-text.ts');
    const options = await registryOptions(ctx, args);
    const result = await inspect(args.positionals[0]!, { ...options, noFiles: flag(args, 'no-files') });
    return { data: result, text: formatInspect(result) };
  },
};
