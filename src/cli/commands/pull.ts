import type { Command } from '../command.ts';
import { stringOption } from '../command.ts';
import { REGISTRY_HELP, REGISTRY_OPTIONS, registryOptions } from '../registry-options.ts';

export const command: Command = {
  name: 'pull',
  summary: "pull a bundle's files, verifying every digest",
  usage: 'promote pull <reference> [-o <dir>] [options]',
  description: `
Fetches the bundle (a tag is resolved once; everything after is by digest), verifies the
manifest, config and content against their digests while they stream, and only then moves the
files into place: on any failure nothing is left behind. The output directory (default:
./<bundle name>) must not exist or be empty. Entries that could escape the directory (absolute
paths, "..", links), device files and oversized content are refused.

${REGISTRY_HELP}`,
  positionals: { min: 1, max: 1 },
  options: {
    out: { type: 'string', short: 'o', valueName: 'dir', description: 'directory to create (default: ./<bundle name>)' },
    verify: { type: 'boolean', description: 'verify the signature first (with --key; exit 4 and nothing written if it fails)' },
    key: { type: 'string', short: 'k', multiple: true, valueName: 'pub', description: 'trusted public key for --verify' },
    ...REGISTRY_OPTIONS,
  },
  examples: [
    { title: 'Pull by digest into ./webapp-1.4', command: 'promote pull registry.example.com/acme/webapp@sha256:4f1c… -o webapp-1.4' },
    { title: 'Pull a tag from a local plain-HTTP registry', command: 'promote pull localhost:5000/acme/webapp:dev --insecure' },
    { title: 'Pull from an OCI image layout directory', command: 'promote pull oci:./.promote/registry/webapp:dev -o /tmp/webapp' },
    { title: 'Pull only if signed by the CI key', command: 'promote pull registry.example.com/acme/webapp:1.4.0 --verify --key keys/ci.pub' },
  ],
  async run(ctx, args) {
    const { pullBundle } = await import('../../artifact/pull.ts');
    const out = stringOption(args, 'out');
    const options = await registryOptions(ctx, args);
    ctx.progress(`pulling ${args.positionals[0]}…`);
    const keys = args.values.key;
    if (args.values.verify === true || keys !== undefined) {
      const { PromoteError } = await import('../../errors.ts');
      if (args.values.verify !== true || !Array.isArray(keys)) throw new PromoteError('USAGE', '--verify and --key go together', { outcome: 'usage', hint: 'promote pull <reference> --verify --key <public key>' });
      const { policyFromInput } = await import('../../signing/policy-input.ts');
      const { verifiedPull } = await import('../../artifact/verify.ts');
      const verified = await verifiedPull(args.positionals[0]!, await policyFromInput({ keys, identities: [] }, ctx.cwd), { ...options, ...(out !== undefined && { out }) });
      return { data: verified, text: `${verified.reference} (verified)\n${verified.files} files (${verified.bytes} bytes) in ${verified.out}` };
    }
    const result = await pullBundle(args.positionals[0]!, { ...options, ...(out !== undefined && { out }) });
    return { data: result, text: `${result.reference}\n${result.files} files (${result.bytes} bytes) in ${result.out}` };
  },
};
