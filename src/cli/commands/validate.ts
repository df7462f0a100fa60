import { stringOption, type Command } from '../command.ts';

export const command: Command = {
  name: 'validate',
  summary: 'check pipelines, environments and parameters against their schemas; list every problem',
  usage: 'promote validate [dir] [--env <name>] [--bundle <dir>]',
  description: `
Checks a project in one pass and lists every problem at once, each with file:line:column, the
JSON pointer, the schema rule, what was expected and what was found:
  - pipelines/*.yaml against schemas/pipeline.schema.json and the stage graph;
  - environments/*.yaml against schemas/environment.schema.json;
  - each environment's parameters (and each cluster's merged overrides) against the bundle's own
    parameter schema (JSON Schema 2020-12, ajv strict: unknown keys are errors, defaults applied,
    secret properties must be {secretRef: {name, key}} references — values are never printed);
  - the bundle's manifests: every \${params.…} declared, no Secret carrying data/stringData.
[dir] is the project root (default: the current directory); the bundle is <dir>/bundle.yaml,
else the only <dir>/bundles/<name>/bundle.yaml, unless --bundle names another directory. With
several bundles/<name>/, each pipeline's environments are checked against the bundle it promotes
(the one named like the pipeline or like the last part of its repository), and every problem
names its bundle; when a pipeline promotes none of them by name, validate lists them and exits 2
(choose with --bundle). Exit 4 when anything is invalid.`,
  options: {
    env: { type: 'string', short: 'e', valueName: 'name', description: 'check only this environment (environments/<name>.yaml)' },
    bundle: { type: 'string', valueName: 'dir', description: 'the bundle directory whose parameter schema environments must satisfy (default: [dir] if it holds bundle.yaml, else the one bundles/<name>/ each pipeline promotes)' },
  },
  positionals: { min: 0, max: 1 },
  examples: [
    { title: 'Check everything in the current project', command: 'promote validate' },
    { title: 'Check only the staging environment', command: 'promote validate --env staging' },
    { title: 'A project whose bundle lives in a sub-directory', command: 'promote validate --bundle ./bundle' },
    { title: 'Every problem as JSON, for CI annotations', command: 'promote validate --output json' },
  ],
  async run(ctx, args) {
    const { validateProject } = await import('../../artifact/validate.ts');
    const env = stringOption(args, 'env');
    const bundleDir = stringOption(args, 'bundle');
    const { isAbsolute, resolve } = await import('node:path');
    // Paths in problems stay as the user wrote them (environments/dev.yaml:3:5).
    const local = (p: string) => (isAbsolute(p) || ctx.cwd === process.cwd() ? p : resolve(ctx.cwd, p));
    const report = await validateProject({
      root: local(args.positionals[0] ?? '.'),
      ...(env !== undefined && { environment: env }),
      ...(bundleDir !== undefined && { bundleDir: local(bundleDir) }),
    });
    for (const note of report.notes) ctx.log(`note: ${note}`);
    const bundles = report.bundles ?? (report.bundle ? [report.bundle] : []);
    const schemaOf = (names: string[] | undefined) => (names && bundles.length > 1 ? `the schema${names.length === 1 ? '' : 's'} of bundle${names.length === 1 ? '' : 's'} ${names.join(', ')}` : 'the bundle schema');
    for (const warning of report.warnings) ctx.log(`warning: ${warning}`);
    const lines = [
      ...bundles.map((b) => `bundle ${b.name}: manifests reference only declared parameters; schema ${b.schema} is valid`),
      ...report.pipelines.map((p) => `pipeline ${p}: valid`),
      ...report.environments.map((e) => `environment ${e.name}: valid${e.parametersChecked ? ` (parameters satisfy ${schemaOf(e.bundles)}` + (e.clusters.length ? ` for clusters ${e.clusters.join(', ')})` : ')') : ' (shape only)'}`),
    ];
    return { data: report, text: lines.join('\n') || 'nothing to validate' };
  },
};
