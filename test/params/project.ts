import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';

// A throw-away project on disk (bundle.yaml, schema, manifests, environments) for tests of the
// parameter and rendering code paths that users meet through real files.

export const PARAMS_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  required: ['namespace', 'replicas'],
  properties: {
    namespace: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' },
    replicas: { type: 'integer', minimum: 1, maximum: 10 },
    hostname: { type: 'string', format: 'hostname' },
    debug: { type: 'boolean', default: false },
    resources: { type: 'object', default: { cpu: '100m' }, properties: { cpu: { type: 'string' }, memory: { type: 'string' } } },
    hosts: { type: 'array', items: { type: 'string' }, default: [] },
    region: { type: 'string', enum: ['eu-west-1', 'us-east-1'] },
    db: { type: 'object', properties: { host: { type: 'string' }, password: { type: 'string', writeOnly: true } } },
    apiKey: { type: 'string', 'x-promote-secret': true },
  },
};

export const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: \${params.namespace}
  labels:
    environment: \${promote.environment}
spec:
  replicas: \${params.replicas}
  template:
    spec:
      containers:
        - name: web
          env:
            - name: DEBUG
              value: "\${params.debug}"
          resources:
            requests: \${params.resources}
          args: \${params.hosts}
`;

export interface ProjectFiles {
  [path: string]: string | object;
}

export function environmentYaml(name: string, body: string): string {
  return `apiVersion: promote/v1\nkind: Environment\nmetadata:\n  name: ${name}\nspec:\n${body}`;
}

export const DEFAULT_FILES: ProjectFiles = {
  'bundle.yaml': 'apiVersion: promote/v1\nkind: Bundle\nmetadata:\n  name: web\nspec:\n  parameters: params.schema.json\n  manifests: manifests/\n',
  'params.schema.json': PARAMS_SCHEMA,
  'manifests/deployment.yaml': DEPLOYMENT,
  'environments/dev.yaml': environmentYaml('dev', '  parameters:\n    namespace: dev\n    replicas: 1\n'),
};

export async function makeProject(t: TestContext, files: ProjectFiles = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'promote-params-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const [path, content] of Object.entries({ ...DEFAULT_FILES, ...files })) {
    const full = join(dir, path);
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`);
  }
  return dir;
}
