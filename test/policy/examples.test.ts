import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { manifestValues, readManifest } from '../../src/bundle/manifest-yaml.ts';
import { evaluatePolicy, violationLine, type PolicyObject } from '../../src/policy/evaluate.ts';
import { loadPolicyFile } from '../../src/pipeline/policy-file.ts';

// The shipped example policies (examples/policies/), each against podinfo's real manifests
// (test/fixtures/podinfo-bundle, Apache-2.0) as they are and changed to break or keep the rule.

const EXAMPLES = fileURLToPath(new URL('../../examples/policies/', import.meta.url));
const PODINFO = fileURLToPath(new URL('../fixtures/podinfo-bundle/manifests/', import.meta.url));
const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;

async function podinfo(): Promise<PolicyObject[]> {
  const out: PolicyObject[] = [];
  for (const entry of (await readdir(PODINFO, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).sort((a, b) => join(a.parentPath, a.name).localeCompare(join(b.parentPath, b.name)))) {
    const path = join(entry.parentPath, entry.name);
    const parsed = readManifest(relative(PODINFO, path), await readFile(path));
    assert.deepEqual(parsed.problems, []);
    const values = manifestValues(parsed);
    assert.ok(!('problem' in values));
    values.values.forEach((object, index) => out.push({ file: `manifests/${parsed.path}`, index, object: object as Record<string, unknown> }));
  }
  return out;
}

/** Every container list of a workload, a CronJob's or a Pod's. */
function podSpecs(object: Record<string, unknown>): Record<string, unknown>[] {
  const spec = object.spec as Record<string, any> | undefined;
  if (!spec) return [];
  if (object.kind === 'Pod') return [spec];
  if (object.kind === 'CronJob') return [spec.jobTemplate.spec.template.spec];
  return spec.template?.spec ? [spec.template.spec] : [];
}

function eachContainer(objects: PolicyObject[], change: (c: Record<string, any>, object: Record<string, unknown>) => void): PolicyObject[] {
  const copy = structuredClone(objects);
  for (const o of copy) for (const pod of podSpecs(o.object)) for (const c of [...((pod.initContainers as any[]) ?? []), ...((pod.containers as any[]) ?? [])]) change(c, o.object);
  return copy;
}

async function judge(example: string, objects: PolicyObject[]): Promise<string[]> {
  const policy = await loadPolicyFile(join(EXAMPLES, example));
  const report = evaluatePolicy(policy.rules, [{ cluster: 'prod-eu-1', objects }], { stage: 'production', digest: DIGEST });
  return report.violations.map(violationLine);
}

const workloads = (objects: PolicyObject[]) => objects.filter((o) => podSpecs(o.object).length > 0).length;

test('examples: images-pinned refuses podinfo\'s tagged images, each workload named, and passes them pinned by digest', async () => {
  const objects = await podinfo();
  const found = await judge('images-pinned.yaml', objects);
  assert.equal(found.length, workloads(objects));
  assert.ok(workloads(objects) >= 8, 'podinfo has Deployments, a StatefulSet and CronJobs');
  assert.ok(found.includes('prod-eu-1: Deployment ${params.namespace}/frontend (manifests/frontend/deployment.yaml#0): images-pinned: every image must be pinned by digest (image@sha256:…) in production'), found.join('\n'));
  assert.ok(found.some((l) => l.includes('CronJob') && l.includes('images-pinned-cronjob')));
  const pinned = eachContainer(objects, (c) => (c.image = `${c.image.replace(/:[^/:]+$/, '')}@${DIGEST}`));
  assert.deepEqual(await judge('images-pinned.yaml', pinned), []);
  // A tag in front of the digest is still pinned; a digest that is not 64 hex is not.
  assert.deepEqual(await judge('images-pinned.yaml', eachContainer(objects, (c) => (c.image = `${c.image}@${DIGEST}`))), []);
  assert.equal((await judge('images-pinned.yaml', eachContainer(objects, (c) => (c.image = `${c.image}@sha256:abc`)))).length, workloads(objects));
});

test('examples: no-latest-tag passes podinfo\'s versioned tags and refuses :latest and untagged images (a registry port is not a tag)', async () => {
  const objects = await podinfo();
  assert.deepEqual(await judge('no-latest-tag.yaml', objects), []);
  const latest = eachContainer(objects, (c, o) => o.kind === 'StatefulSet' && (c.image = 'ghcr.io/stefanprodan/podinfo:latest'));
  assert.deepEqual(await judge('no-latest-tag.yaml', latest), ['prod-eu-1: StatefulSet ${params.namespace}/database-primary (manifests/database/statefulset-primary.yaml#0): no-latest-tag: images need a tag other than latest (or a digest)']);
  const untagged = eachContainer(objects, (c, o) => o.kind === 'CronJob' && (c.image = 'registry.local:5000/podinfo'));
  assert.equal((await judge('no-latest-tag.yaml', untagged)).filter((l) => l.includes('no-latest-tag-cronjob')).length, objects.filter((o) => o.object.kind === 'CronJob').length);
  assert.deepEqual(await judge('no-latest-tag.yaml', eachContainer(objects, (c) => (c.image = `podinfo:latest@${DIGEST}`))), []);
});

test('examples: no-privileged passes podinfo and refuses one privileged container', async () => {
  const objects = await podinfo();
  assert.deepEqual(await judge('no-privileged.yaml', objects), []);
  const privileged = eachContainer(objects, (c, o) => (o.metadata as any).name === 'cache' && (c.securityContext = { privileged: true }));
  const found = await judge('no-privileged.yaml', privileged);
  assert.equal(found.length, 1);
  assert.match(found[0]!, /^prod-eu-1: Deployment \S+\/cache \(manifests\/cache\/deployment\.yaml#0\): no-privileged: containers must not be privileged$/);
  assert.deepEqual(await judge('no-privileged.yaml', eachContainer(objects, (c) => (c.securityContext = { privileged: false }))), []);
});

test('examples: resource-limits passes podinfo (every container has cpu and memory limits) and refuses a container without a memory limit', async () => {
  const objects = await podinfo();
  assert.deepEqual(await judge('resource-limits.yaml', objects), []);
  const noMemory = eachContainer(objects, (c, o) => (o.metadata as any).name === 'backend' && delete c.resources.limits.memory);
  assert.deepEqual((await judge('resource-limits.yaml', noMemory)).map((l) => l.replace(/ \S+\/backend/, ' backend')), [
    'prod-eu-1: Deployment backend (manifests/backend/deployment.yaml#0): resource-limits: every container needs resources.limits.cpu and resources.limits.memory',
  ]);
  const noResources = eachContainer(objects, (c, o) => o.kind === 'CronJob' && delete c.resources);
  assert.ok((await judge('resource-limits.yaml', noResources)).every((l) => l.includes('resource-limits-cronjob')));
});

test('examples: a Pod is judged by the -pod rules', async () => {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'debug', namespace: 'ops' }, spec: { containers: [{ name: 'sh', image: 'busybox', securityContext: { privileged: true } }] } };
  const objects = [{ file: 'manifests/pod.yaml', index: 0, object: pod }];
  assert.deepEqual(
    (await Promise.all(['images-pinned.yaml', 'no-latest-tag.yaml', 'no-privileged.yaml', 'resource-limits.yaml'].map((e) => judge(e, objects)))).flat().map((l) => l.split(': ')[2]),
    ['images-pinned-pod', 'no-latest-tag-pod', 'no-privileged-pod', 'resource-limits-pod'],
  );
});
