import type { Command } from '../command.ts';
import { listOption, stringOption } from '../command.ts';
import { REGISTRY_HELP, REGISTRY_OPTIONS, registryOptions } from '../registry-options.ts';

export const command: Command = {
  name: 'sign',
  summary: 'sign a bundle by digest (cosign-compatible signature at sha256-<hex>.sig)',
  usage: 'promote sign <repository@sha256:…> --key <private key> [options]',
  description: `
Signs the digest with cosign's classic format: a simple-signing payload, ECDSA-SHA256, stored
as a layer of the manifest at tag sha256-<hex>.sig (signatures already there are kept).
\`cosign verify --key <pub>\` accepts it, and \`promote verify\` too.

A tag alone is refused — a tag can move between checking and signing; the error shows the
digest the tag points at now. \`promote push --sign --key K\` signs what it just pushed.
The key password comes from PROMOTE_PASSWORD or COSIGN_PASSWORD, else a terminal prompt.

${REGISTRY_HELP}`,
  positionals: { min: 1, max: 1 },
  options: {
    key: { type: 'string', short: 'k', valueName: 'file', description: 'private key: promote keygen / cosign generate-key-pair output, or PKCS#8 PEM' },
    annotation: { type: 'string', short: 'a', multiple: true, valueName: 'key=value', description: 'add a claim to the payload\'s "optional" section (as cosign -a)' },
    ...REGISTRY_OPTIONS,
  },
  examples: [
    { title: 'Sign what promote push printed', command: 'promote sign registry.example.com/acme/webapp@sha256:4f1c…e9 --key keys/ci.key' },
    { title: 'With a claim, password from the environment', command: 'PROMOTE_PASSWORD="$CI_KEY_PASSWORD" promote sign localhost:5000/acme/webapp@sha256:4f1c…e9 --key ci.key -a git-sha=$GIT_SHA --insecure' },
    { title: 'Sign a bundle in an OCI layout directory', command: 'promote sign oci:./.promote/registry/webapp@sha256:4f1c…e9 --key ci.key' },
  ],
  async run(ctx, args) {
    const { PromoteError } = await import('../../errors.ts');
    const key = stringOption(args, 'key');
    if (!key) throw new PromoteError('USAGE', 'sign needs --key <private key>', { outcome: 'usage', hint: 'create one with `promote keygen <name>`' });
    const annotations: Record<string, string> = {};
    for (const a of listOption(args, 'annotation')) {
      const eq = a.indexOf('=');
      if (eq <= 0) throw new PromoteError('USAGE', `--annotation "${a}" is not key=value`, { outcome: 'usage', hint: 'write -a key=value, e.g. -a git-sha=abc123' });
      annotations[a.slice(0, eq)] = a.slice(eq + 1);
    }
    const { signReference } = await import('../../artifact/sign.ts');
    const options = await registryOptions(ctx, args);
    const result = await signReference(args.positionals[0]!, {
      ...options,
      key,
      passwords: { env: ctx.env, interactive: ctx.interactive },
      ...(Object.keys(annotations).length && { annotations }),
    });
    ctx.log(result.added ? `signature stored at ${result.signatureTag} (${result.signatures} signature(s) there)` : `already signed with this key: nothing written`);
    return { data: result, text: `signed ${result.reference}` };
  },
};
