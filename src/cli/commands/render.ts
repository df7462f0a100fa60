import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { stringOption, type Command } from '../command.ts';
import { REGISTRY_HELP, REGISTRY_OPTIONS, registryOptions } from '../registry-options.ts';
import { reexecWithMemoryFlags } from '../v8-memory-flags.ts';
import { VERIFY_OPTIONS, verifyPolicy } from '../verify-options.ts';

const isDirectory = (path: string) => stat(path).then((s) => s.isDirectory(), () => false);

export const command: Command = {
  name: 'render',
  summary: 'print the exact manifests an agent would apply for an environment (and cluster)',
  usage: 'promote render [dir|ref] --env <name> [--cluster <name>] [-o <dir>] [--verify (--key <pub> … | --certificate-identity … --certificate-oidc-issuer …)]',
  description: `
Renders a bundle directory, or a pushed bundle (repo:tag, repo@sha256:…, oci:<layout>[:tag];
pulled with every digest verified), with one environment's parameters (merged with a cluster's
overrides when --cluster is given), validated against the bundle's parameter schema, exactly as
an agent would. References: \${params.a.b} and the built-ins \${promote.stage|environment|cluster|digest}.
An unquoted scalar that is exactly one reference takes the typed value (number, boolean, object,
list); in longer or quoted strings a reference is replaced by its text. Every other \${…} (shell
variables in scripts) is left exactly as written; $\${params.x} prints a literal \${params.x}.
Output: one YAML stream on stdout (each file marked "# Source: <path>"), or with -o every rendered
file written into a new directory (all or nothing). Nothing is printed or written when any
problem is found (exit 4). Environments come from <dir>/environments if it exists, else from
./environments (or --root). For a pushed bundle, \${promote.digest} is its digest.
A helm or kustomize bundle (docs/renderers.md) is rendered by the binary PROMOTE_HELM /
PROMOTE_KUSTOMIZE names, else helm / kustomize on PATH; which one and its version are printed on
stderr, in the stream's header comment ("# rendered by helm v3.17.3…") and as "renderer" in
--output json.
Signatures are checked only with --verify (as \`promote verify\` does: --key, or keyless
--certificate-identity[-regexp] with --certificate-oidc-issuer[-regexp]): a tag is resolved once,
that digest is verified, and the bundle is rendered from that digest; when it does not verify,
render exits 4 and prints and writes nothing. Without --verify, only digests are checked.
${REGISTRY_HELP}`,
  options: {
    env: { type: 'string', short: 'e', valueName: 'name', description: 'the environment (environments/<name>.yaml); required' },
    cluster: { type: 'string', short: 'c', valueName: 'name', description: "merge this cluster's parameter overrides (and set ${promote.cluster})" },
    stage: { type: 'string', valueName: 'name', description: '${promote.stage} (default: the pipeline stage bound to the environment, else its name)' },
    root: { type: 'string', valueName: 'dir', description: 'project root holding environments/ and pipelines/' },
    out: { type: 'string', short: 'o', valueName: 'dir', description: 'write the rendered files into this new or empty directory instead of stdout' },
    ...VERIFY_OPTIONS,
    ...REGISTRY_OPTIONS,
  },
  positionals: { min: 0, max: 1 },
  examples: [
    { title: 'What staging would run, as a YAML stream', command: 'promote render ./bundle --env staging' },
    { title: 'One cluster of production, with its overrides', command: 'promote render ./bundle --env production --cluster prod-us-1' },
    { title: 'Write the files into a directory', command: 'promote render ./bundle --env dev -o /tmp/rendered-dev' },
    { title: 'A pushed bundle, by digest', command: 'promote render registry.example.com/acme/webapp@sha256:4f1c… --env staging' },
    { title: 'A pushed bundle, only if the CI key signed it', command: 'promote render registry.example.com/acme/webapp:1.4.0 --env production --verify --key keys/ci.pub' },
    { title: 'Check what the server would say about it', command: 'promote render ./bundle --env dev | kubectl apply --dry-run=server -f -' },
  ],
  async run(ctx, args) {
    const env = stringOption(args, 'env');
    if (env === undefined) {
      const { PromoteError } = await import('../../errors.ts');
      throw new PromoteError('USAGE', 'render needs --env <name>', { outcome: 'usage', hint: "name the environment to render for, e.g. --env staging; run 'promote render --help' for examples" });
    }
    const source = args.positionals[0] ?? '.';
    // A pushed bundle is pulled and read (src/cli/v8-memory-flags.ts); a directory is not.
    if (!(await isDirectory(resolve(ctx.cwd, source)))) reexecWithMemoryFlags();
    const policy = await verifyPolicy(ctx, args);
    const cluster = stringOption(args, 'cluster');
    const stage = stringOption(args, 'stage');
    const root = stringOption(args, 'root');
    const out = stringOption(args, 'out');
    const registry = await registryOptions(ctx, args);
    const render = policy
      ? async (o: import('../../artifact/render.ts').RenderSourceOptions) => (await import('../../artifact/render.ts')).verifiedRender(o, policy, { env: ctx.env, cwd: ctx.cwd })
      : async (o: import('../../artifact/render.ts').RenderSourceOptions) => (await import('../../artifact/render.ts')).renderSource(o);
    const result = await render({
      source,
      environment: env,
      cwd: ctx.cwd,
      env: ctx.env,
      registry,
      ...(cluster !== undefined && { cluster }),
      ...(stage !== undefined && { stage }),
      ...(root !== undefined && { root }),
      ...(out !== undefined && { out }),
    });
    if (result.renderer.kind !== 'plain') {
      const { rendererName } = await import('../../artifact/render.ts');
      ctx.log(`rendered by ${rendererName(result.renderer)}${result.renderer.binary ? ` (${result.renderer.binary})` : ''}`);
    }
    if (out !== undefined) {
      const where = cluster ? `${env}/${cluster}` : env;
      return { data: result, text: `rendered ${result.files.length} files of ${result.bundle} for ${where} into ${out}` };
    }
    const { stream, ...data } = result;
    return { data, text: stream ?? '' };
  },
};
