import { flag, stringOption, type Command } from '../command.ts';

export const command: Command = {
  name: 'init',
  summary: 'scaffold a project: a bundle with its parameter schema, three environments, a pipeline, keys',
  usage: 'promote init [dir] [--name <name>] [--helm | --kustomize] [--force]',
  description: `
Writes a project that passes \`promote validate\` as it is: bundles/<name>/ (bundle.yaml, a JSON
Schema for its parameters, manifests that use them), environments/{dev,staging,production}.yaml
(one, two and two clusters), pipelines/<name>.yaml (dev → staging → production with converged,
soak and approval gates), the key pairs the pipeline trusts (keys/ci, keys/promoter, keys/agent;
made like \`promote keygen\`), a .gitignore that keeps private keys and .promote/ out of git, and a
local ledger in .promote/ledger. The registry, ledger and clusters start on the embedded defaults
(an OCI layout, a local git repository, directories), so \`promote demo --project <dir>\` runs on
it at once. Existing files are never overwritten unless --force is given; the refusal names them.
Key password: PROMOTE_PASSWORD or COSIGN_PASSWORD, else asked twice on the terminal.

--helm makes the bundle a Helm chart instead (bundle.yaml spec.helm: {chart: chart}): the
environments' parameters are its values, checked against the chart's values.schema.json, and the
templates read promote's built-ins as .Values.global.promote.stage (environment, cluster,
digest). --kustomize makes it a kustomization (spec.kustomize: {path: app}) over a base, with
\${params.…} substituted in its files before \`kustomize build\`, e.g. a patch setting
replicas: \${params.replicas}. Rendering them (render, plan, demo, the agent) needs helm, or
kustomize or a kubectl, found through PROMOTE_HELM / PROMOTE_KUSTOMIZE, else on PATH;
validate and build do not (docs/renderers.md).`,
  options: {
    name: { type: 'string', valueName: 'name', description: "the bundle's and pipeline's name (default: the directory's name)" },
    helm: { type: 'boolean', description: 'the bundle is a Helm chart (spec.helm) taking the parameters as values' },
    kustomize: { type: 'boolean', description: 'the bundle is a kustomization (spec.kustomize) taking ${params.…}' },
    force: { type: 'boolean', description: 'overwrite the files init writes if they exist (nothing else is touched)' },
  },
  positionals: { min: 0, max: 1 },
  examples: [
    { title: 'A new project in ./webapp', command: 'promote init webapp' },
    { title: 'Then check it and run the whole flow on it', command: 'cd webapp && promote validate && promote demo' },
    { title: 'In CI or a script: the key password from the environment', command: 'PROMOTE_PASSWORD="$KEY_PASSWORD" promote init . --name checkout' },
    { title: 'A project whose bundle is a Helm chart, then render its dev values', command: 'promote init webapp --helm && cd webapp && promote render bundles/webapp --env dev' },
    { title: 'A project whose bundle is a kustomization, rendered by a kubectl', command: 'promote init webapp --kustomize && cd webapp && PROMOTE_KUSTOMIZE=$(command -v kubectl) promote render bundles/webapp --env dev' },
  ],
  async run(ctx, args) {
    const { resolve, relative } = await import('node:path');
    const { getPassword } = await import('../../signing/password.ts');
    const { initProject, defaultName } = await import('../../init/scaffold.ts');
    const dir = resolve(ctx.cwd, args.positionals[0] ?? '.');
    const name = stringOption(args, 'name') ?? defaultName(dir);
    if (flag(args, 'helm') && flag(args, 'kustomize')) {
      const { PromoteError } = await import('../../errors.ts');
      throw new PromoteError('USAGE', 'init takes --helm or --kustomize, not both: a bundle has one renderer', { outcome: 'usage', hint: 'pick the one your configuration is written for; without either the bundle is plain manifests' });
    }
    const renderer = flag(args, 'helm') ? 'helm' : flag(args, 'kustomize') ? 'kustomize' : 'plain';
    const password = () => getPassword(`the new private keys in ${relative(ctx.cwd, resolve(dir, 'keys')) || 'keys'}/`, { env: ctx.env, interactive: ctx.interactive, confirm: true });
    const result = await initProject({ dir, name, password, force: flag(args, 'force'), renderer });
    const where = relative(ctx.cwd, dir) || '.';
    const cd = where === '.' ? '' : `cd ${where} && `;
    const text = [
      `created project ${result.name} in ${where}:`,
      ...[...result.files, ...result.keys].map((f) => `  ${f}${result.overwritten.includes(f) ? '  (overwritten)' : ''}`),
      `  ${result.ledger}/  (a local git ledger)`,
      '',
      'Next:',
      `  ${cd}promote validate`,
      ...(renderer === 'plain' ? [] : [`  ${cd}promote render bundles/${result.name} --env dev    # needs ${renderer === 'helm' ? 'helm (PROMOTE_HELM or on PATH)' : 'kustomize or a kubectl (PROMOTE_KUSTOMIZE or kustomize on PATH)'}`]),
      `  promote demo --project ${where}`,
      `  ${cd}promote push bundles/${result.name} oci:.promote/registry/${result.name}:0.1.0 --sign --key keys/ci.key`,
    ].join('\n');
    return { data: result, text };
  },
};
