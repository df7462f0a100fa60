import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { renderFiles } from '../../src/bundle/render.ts';
import { parameterSchema, type ParameterSchema } from '../../src/params/parameter-schema.ts';
import type { ImportEnvironment } from '../../src/import/import-input.ts';
import type { ImportPlan } from '../../src/import/plan-import.ts';

// Shared by the import tests: small Kubernetes objects to vary per environment, and readers of a
// plan's files — the schema compiled as promote compiles it, each environment's parameters
// validated against it (defaults applied), and the bundle rendered in memory by the real plain
// renderer (bundle/render.ts), so a test can check the round trip without writing anything.

type Json = Record<string, unknown>;

export function deployment(name: string, spec: Json = {}, metadata: Json = {}): Json {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'web', ...metadata },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name, image: `example/${name}:1.0`, ports: [{ name: 'http', containerPort: 8080 }] }] },
      },
      ...spec,
    },
  };
}

export function configMap(name: string, data: Json, namespace = 'web'): Json {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data };
}

export function environments(...envs: [string, Json[]][]): ImportEnvironment[] {
  return envs.map(([name, objects]) => ({ name, objects: objects.map((value) => ({ value: structuredClone(value) })) }));
}

/** The container of a deployment template, for editing a copy. */
export function container(d: Json, i = 0): Json {
  return ((((d.spec as Json).template as Json).spec as Json).containers as Json[])[i]!;
}

export function file(plan: ImportPlan, path: string): string {
  const f = plan.files.find((x) => x.path === path);
  assert.ok(f, `the plan has no ${path}; it has ${plan.files.map((x) => x.path).join(', ')}`);
  return f.content;
}

export function manifests(plan: ImportPlan): { path: string; content: string }[] {
  return plan.files.filter((f) => f.path.startsWith(`${plan.bundleDir}/manifests/`));
}

export function schemaOf(plan: ImportPlan): Json {
  return JSON.parse(file(plan, `${plan.bundleDir}/params.schema.json`)) as Json;
}

export function compiled(plan: ImportPlan): ParameterSchema {
  return parameterSchema(schemaOf(plan), 'params.schema.json');
}

/** What environments/<env>.yaml sets under spec.parameters. */
export function written(plan: ImportPlan, env: string): Json {
  const doc = parse(file(plan, `environments/${env}.yaml`)) as { spec: { parameters: Json } };
  return doc.spec.parameters;
}

/** The parameters an environment resolves to: valid against the schema, defaults applied. */
export function resolved(plan: ImportPlan, env: string, schema = compiled(plan)): Json {
  const values = structuredClone(written(plan, env));
  const ok = schema.validate(values);
  assert.ok(ok, `environment ${env} does not satisfy the generated schema: ${JSON.stringify(schema.validate.errors)}`);
  return values;
}

/** The documents the bundle renders for `env`, by the real plain renderer, in memory. */
export function renderInMemory(plan: ImportPlan, env: string): unknown[] {
  const prefix = `${plan.bundleDir}/`;
  const files = manifests(plan).map((f) => ({ path: f.path.slice(prefix.length), content: new TextEncoder().encode(f.content) }));
  const rendered = renderFiles(files, { manifests: 'manifests/' }, { params: resolved(plan, env), promote: { environment: env, stage: env } });
  return rendered.flatMap((f) => (f.kind === 'manifest' ? (f.documents ?? []) : []));
}
