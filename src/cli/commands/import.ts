import { stringOption, type Command } from '../command.ts';

type Report = import('../../import/import-project.ts').ImportReport;

function table(report: Report): string[] {
  const head = ['environment', 'equal', 'different', 'missing', 'extra'];
  const rows = report.proof.map((e) => [e.environment, String(e.equal), String(e.different), String(e.missing), String(e.extra)]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => `  ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}`);
}

function text(report: Report, where: string): string {
  const lines = [`imported ${report.environments.join(', ')} into ${where}: bundle ${report.bundle}, ${report.parameters.length} parameter${report.parameters.length === 1 ? '' : 's'}, ${report.files.length} files`];
  if (report.parameters.length) {
    lines.push('', 'parameters:');
    const width = Math.max(...report.parameters.map((p) => p.name.length));
    for (const p of report.parameters) {
      const facts = [p.kind === 'include' ? 'whether an object is rendered' : `${p.used.length} place${p.used.length === 1 ? '' : 's'}`, p.secret ? 'secret' : '', p.nullable ? 'null drops the key' : '', 'default' in p ? `default ${JSON.stringify(p.default)}` : ''];
      lines.push(`  ${p.name.padEnd(width)}  ${facts.filter(Boolean).join(', ')}`);
    }
  }
  if (report.warnings.length) {
    lines.push('', 'warnings:');
    for (const w of report.warnings) {
      // Which environments, when not all of them: a helm hook only production's values enable.
      const some = w.environments && w.environments.length < report.environments.length ? ` (${w.environments.join(', ')})` : '';
      const where = [w.object, w.pointer].filter(Boolean).join(' ');
      lines.push(`  ${where ? `${where}${some}: ` : some ? `${some.trim()} ` : ''}${w.message}`);
    }
  }
  if (report.inexpressible.length) {
    lines.push('', 'not expressible as parameters (rendered as in the first environment that has them):');
    for (const x of report.inexpressible) lines.push(`  ${x.object} ${x.pointer}: ${x.reason}`);
  }
  lines.push('', 'proof (the written project rendered per environment, compared object by object with its source):', ...table(report));
  for (const e of report.proof) {
    for (const d of e.differences) lines.push(`  ${e.environment}: ${d.object} ${d.pointer}: ${d.change}`);
    for (const o of e.missingObjects) lines.push(`  ${e.environment}: ${o}: missing`);
    for (const o of e.extraObjects) lines.push(`  ${e.environment}: ${o}: extra`);
  }
  lines.push('', report.equivalent ? 'equivalent: every environment renders what its source did' : 'NOT equivalent: the differences above remain (the project is written; fix them there or in the sources)');
  return lines.join('\n');
}

export const command: Command = {
  name: 'import',
  summary: 'turn per-environment copies (kustomize overlays, values files of a chart, manifest folders) into one bundle and environments, proven equivalent',
  usage: `promote import [<env>=]<source>… --out <dir> [--name <name>] [--clusters <env>=<cluster>,…]
  promote import --helm <chart> [<env>=]<values.yaml>[,<values.yaml>…]… --out <dir> [--release <name>] [--namespace <ns>] […]`,
  description: `
Reads one source per environment, in pipeline order: a kustomize overlay (built with kustomize,
or kubectl as PROMOTE_KUSTOMIZE=<path>, offline), a directory of manifests, or one YAML file.
With --helm <chart>, each argument is instead an environment's values file (several merge left
to right, as helm's -f), rendered with \`helm template\` (helm 3 on PATH or PROMOTE_HELM, offline;
hooks and tests left out, each named in the report); values-prod.yaml names environment prod.
Then import matches the objects by kind, namespace and name, and writes a promote project into
--out (a new or empty directory, all or nothing): bundles/<name>/ with one manifest per object,
every value that differs a \${params.…} reference declared in params.schema.json (typed from the
values seen, enum for a few string values, defaults where all environments but one agree),
objects only some environments have as conditional documents, environments/<env>.yaml with each
one's values, and pipelines/<name>.yaml through the environments in order. Secret values are
never written: Secrets with data are left out, secret-looking values become {secretRef}
parameters; each is a warning. Then the proof: the written project is rendered for every
environment and compared with its source object by object (parsed values: key order and YAML
style aside). Exit 0 only when every environment is equivalent; 1 when differences remain
(listed by object and JSON pointer, as is what could not be expressed as parameters).`,
  options: {
    out: { type: 'string', short: 'o', valueName: 'dir', description: 'where to write the project (must not exist, or be empty); required' },
    name: { type: 'string', valueName: 'name', description: "the bundle's and pipeline's name (default: --out's last component)" },
    clusters: { type: 'string', valueName: 'env=cluster,…', description: 'the clusters of each environment (default: one, <env>-1); repeat an environment for several' },
    helm: { type: 'string', valueName: 'chart', description: 'the arguments are values files of this chart directory (the one holding Chart.yaml)' },
    release: { type: 'string', valueName: 'name', description: "with --helm: the release name, or <env>=<name>,… per environment (default: the chart's name)" },
    namespace: { type: 'string', valueName: 'ns', description: 'with --helm: the release namespace, or <env>=<ns>,… per environment (default: default, as helm)' },
  },
  positionals: { min: 1, max: 64 },
  examples: [
    { title: 'Three kustomize overlays into one bundle', command: 'promote import overlays/dev overlays/staging overlays/production --out webapp' },
    { title: 'A chart with a values file per environment', command: 'promote import --helm podinfo staging=podinfo/values.yaml production=podinfo/values-prod.yaml --out podinfo-app' },
    { title: 'Name the environments and their clusters', command: 'promote import dev=deploy/dev prod=deploy/prod --out webapp --clusters dev=dev-1,prod=prod-eu-1,prod=prod-us-1' },
    { title: 'Then check and use it', command: 'cd webapp && promote validate && promote render bundles/webapp --env prod' },
    { title: 'The report as data', command: "promote import overlays/* --out webapp --output json | jq '.proof'" },
  ],
  async run(ctx, args) {
    const out = stringOption(args, 'out');
    if (out === undefined) {
      const { PromoteError } = await import('../../errors.ts');
      throw new PromoteError('USAGE', 'import needs --out <dir>', { outcome: 'usage', hint: "name a new directory for the project, e.g. --out webapp; run 'promote import --help' for examples" });
    }
    const { importProject } = await import('../../import/import-project.ts');
    const name = stringOption(args, 'name');
    const clusters = stringOption(args, 'clusters');
    const chart = stringOption(args, 'helm');
    const release = stringOption(args, 'release');
    const namespace = stringOption(args, 'namespace');
    if (chart === undefined && (release !== undefined || namespace !== undefined)) {
      const { PromoteError } = await import('../../errors.ts');
      throw new PromoteError('USAGE', `--${release !== undefined ? 'release' : 'namespace'} is only used with --helm`, { outcome: 'usage', hint: 'a kustomize overlay sets its own namespace; for a chart, add --helm <chart> and give values files' });
    }
    const helm = chart === undefined ? undefined : { chart, ...(release !== undefined && { release }), ...(namespace !== undefined && { namespace }) };
    const report = await importProject({ sources: args.positionals, out, cwd: ctx.cwd, env: ctx.env, ...(name !== undefined && { name }), ...(clusters !== undefined && { clusters }), ...(helm && { helm }) });
    const { relative } = await import('node:path');
    return { data: report, text: text(report, relative(ctx.cwd, report.out) || '.'), ...(!report.equivalent && { outcome: 'failed' as const }) };
  },
};
