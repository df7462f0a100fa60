import type { Command } from '../command.ts';
import { stringOption } from '../command.ts';
import { REGISTRY_HELP, REGISTRY_OPTIONS, registryOptions } from '../registry-options.ts';

export const command: Command = {
  name: 'push',
  summary: 'build a bundle and push it to a registry (or OCI layout); prints repository@sha256:…',
  usage: 'promote push [dir] <repository>[:tag] [options]',
  description: `
Builds the bundle directory (default: the current one) exactly as \`promote build\` does and
pushes it. Only blobs the registry lacks are uploaded: pushing an unchanged bundle again sends
one request. The printed repository@sha256:… reference is what you sign, promote and pull.

${REGISTRY_HELP}`,
  positionals: { min: 1, max: 2 },
  options: {
    ...REGISTRY_OPTIONS,
    'bundle-version': { type: 'string', valueName: 'version', description: 'set org.opencontainers.image.version (e.g. 1.4.0)' },
    source: { type: 'string', valueName: 'url', description: 'set org.opencontainers.image.source (default: $PROMOTE_SOURCE; never the clone URL); credentials are removed' },
    sign: { type: 'boolean', description: "sign the pushed digest (cosign-compatible) with --key; warns when the project's pipelines do not list the key in trust.bundles" },
    key: { type: 'string', short: 'k', valueName: 'file', description: 'private key for --sign (password: PROMOTE_PASSWORD/COSIGN_PASSWORD or a prompt)' },
  },
  examples: [
    { title: 'Push the bundle in ./webapp with a tag', command: 'promote push ./webapp registry.example.com/acme/webapp:1.4.0' },
    { title: 'Push to a local test registry over plain HTTP', command: 'promote push ./webapp localhost:5000/acme/webapp --insecure' },
    { title: 'Log in from CI without putting the token on the command line', command: 'echo "$REGISTRY_TOKEN" | promote push . ghcr.io/acme/webapp:$GIT_SHA --username ci --password-stdin' },
    { title: 'No registry: push into an OCI image layout directory', command: 'promote push ./webapp oci:./.promote/registry/webapp:dev' },
    { title: 'Push and sign what was pushed, in one step', command: 'promote push ./webapp registry.example.com/acme/webapp:1.4.0 --sign --key keys/ci.key' },
  ],
  async run(ctx, args) {
    const { pushBundle } = await import('../../artifact/push.ts');
    const [first, second] = args.positionals;
    const dir = second === undefined ? '.' : first!;
    const target = second ?? first!;
    const version = stringOption(args, 'bundle-version');
    const source = stringOption(args, 'source');
    const options = await registryOptions(ctx, args);
    ctx.progress(`pushing to ${target}…`);
    const key = stringOption(args, 'key');
    if (args.values.sign === true || key !== undefined) {
      const { PromoteError } = await import('../../errors.ts');
      if (args.values.sign !== true || key === undefined) throw new PromoteError('USAGE', '--sign and --key go together', { outcome: 'usage', hint: 'promote push <dir> <repository> --sign --key <private key>' });
      const { pushAndSign } = await import('../../artifact/sign.ts');
      const signed = await pushAndSign(dir, target, { ...options, ...(version !== undefined && { version }), ...(source !== undefined && { source }), key, passwords: { env: ctx.env, interactive: ctx.interactive } });
      ctx.log(`signed ${signed.reference} (${signed.signature.signatureTag})`);
      const { bundleSignerWarning } = await import('../../pipeline/bundle-signer-trust.ts');
      const warning = await bundleSignerWarning(ctx.cwd, dir, signed.publicKey);
      if (warning) ctx.log(warning);
      return { data: signed, text: signed.reference };
    }
    const result = await pushBundle(dir, target, { ...options, ...(version !== undefined && { version }), ...(source !== undefined && { source }) });
    ctx.log(result.unchanged ? 'already there: nothing to upload' : `uploaded ${result.uploaded} blob(s), ${result.skipped} already present`);
    return { data: result, text: result.reference };
  },
};
