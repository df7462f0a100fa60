import { stringify } from 'yaml';

// The promote project around the imported bundle, in the layout `promote init` writes (so
// `promote validate`, `render` and `demo` find everything where they look): bundles/<name>/,
// environments/<env>.yaml, pipelines/<name>.yaml, .gitignore.

export interface ProjectFileOptions {
  name: string;
  /** Environment names, in pipeline order. */
  environments: readonly string[];
  /** Clusters of each environment. */
  clusters: readonly (readonly string[])[];
  /** Parameter values of each environment. */
  values: readonly Record<string, unknown>[];
}

export function bundleFile(name: string, sources: string): string {
  return `# Imported by promote import from ${sources}: one bundle for every environment.
# What may differ between them is declared in params.schema.json, and nothing else can.
apiVersion: promote/v1
kind: Bundle
metadata:
  name: ${name}
spec:
  parameters: params.schema.json
  manifests: manifests/
`;
}

export function environmentFile(name: string, values: Record<string, unknown>, clusters: readonly string[]): string {
  const doc = { apiVersion: 'promote/v1', kind: 'Environment', metadata: { name }, spec: { parameters: values, clusters: clusters.map((c) => ({ name: c })) } };
  return `# How ${name} differs from the other environments (values equal to the schema's defaults are left out).\n${stringify(doc, { lineWidth: 0 })}`;
}

/** A pipeline through the environments in order, with gates like those `promote init` writes. */
export function pipelineFile(name: string, environments: readonly string[]): string {
  const stages = environments.map((env, i) => {
    if (i === 0) return `    - name: ${env}\n      environment: ${env}\n      promotion: auto\n`;
    const from = `    - name: ${env}\n      environment: ${env}\n      from: ${environments[i - 1]}\n`;
    if (i < environments.length - 1) return `${from}      gates: [{converged: {}}, {soak: 1s}]\n`;
    return `${from}      gates:\n        - converged: {}\n        - soak: 1s\n        - approval: {count: 1, separateDuties: true}\n`;
  });
  return `# Imported by promote import: the environments in the order given, each promoted from the one
# before. The registry, ledger and clusters start on promote's embedded defaults (an OCI layout,
# a local git repository, directories under .promote/). The keys the trust lists name are made by
# \`promote keygen keys/ci\` (and keys/promoter, keys/agent, keys/approver). The soaks are seconds
# so that \`promote demo\` finishes quickly: size them for people (15m, 1h) for real use.
apiVersion: promote/v1
kind: Pipeline
metadata:
  name: ${name}
spec:
  repository: oci:./.promote/registry/${name}
  ledger:
    repository: ./.promote/ledger
    branch: main
  trust:
    bundles: [keys/ci.pub]
    promotions: [keys/promoter.pub]
    agents: [keys/agent.pub]
    approvers: [keys/approver.pub]
  stages:
${stages.join('')}`;
}

export const GITIGNORE = `# promote's local state: OCI layout registry, ledger, directory clusters, caches
.promote/
# private keys never go into git (the .pub files do)
keys/*.key
`;
