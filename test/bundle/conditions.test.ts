import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import { isPromoteError, type PromoteError } from '../../src/errors.ts';
import { renderFiles, toYamlStream, type RenderedFile, type SourceFile } from '../../src/bundle/render.ts';

// Conditional documents and null-dropped keys in the plain renderer (issue 15): renderFiles on
// real-looking manifests, with the parameters an environment would give.

const enc = (s: string) => new TextEncoder().encode(s);
const layout = { manifests: 'manifests/' };

function render(files: Record<string, string>, params: Record<string, unknown>): RenderedFile[] {
  const input: SourceFile[] = Object.entries(files).map(([path, text]) => ({ path, content: enc(text) }));
  return renderFiles(input, layout, { params, promote: { stage: 'staging', environment: 'staging' } });
}

function byPath(out: RenderedFile[]): Map<string, RenderedFile> {
  return new Map(out.map((f) => [f.path, f]));
}

/** What a YAML reader takes from the rendered text must be what the agent applies. */
function assertTextAgrees(f: RenderedFile): void {
  const reparsed = parseAllDocuments(f.content as string).map((d) => d.toJS()).filter((d) => d !== null && d !== undefined);
  assert.deepEqual(reparsed, f.documents, `${f.path}: text and documents agree`);
}

function failure(files: Record<string, string>, params: Record<string, unknown>): PromoteError {
  try {
    render(files, params);
  } catch (err) {
    assert.ok(isPromoteError(err, 'RENDER_FAILED'), String(err));
    return err;
  }
  assert.fail('expected RENDER_FAILED');
}

const DEBUG_DEPLOYMENT = `# A shell to debug from, staging only.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: debug-shell
  namespace: \${params.namespace}
  annotations:
    owner: platform-team   # who to ask
    promote.dev/include-when: "\${params.debug}"
spec:
  replicas: 1
  selector:
    matchLabels: {app: debug-shell}
  template:
    metadata:
      labels: {app: debug-shell}
    spec:
      containers:
        - name: shell
          image: \${params.debugImage}
          command: ["sleep", "infinity"]
`;

const APP = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports: [{port: 80}]
---
# Debug port, staging only.
apiVersion: v1
kind: Service
metadata:
  name: web-debug
  annotations:
    promote.dev/include-when: \${params.debug}
spec:
  ports: [{port: 5005}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web
data:
  mode: normal
`;

test('a staging-only debug Deployment: included with the annotation stripped when debug is true, the rest byte-identical', () => {
  const out = byPath(render({ 'manifests/debug.yaml': DEBUG_DEPLOYMENT, 'manifests/app.yaml': APP }, { namespace: 'shop', debug: true, debugImage: 'busybox:1.36' }));
  const debug = out.get('manifests/debug.yaml')!;
  // Exactly the annotation's line is gone; the other annotation, its comment and everything else stay.
  assert.equal(debug.content, DEBUG_DEPLOYMENT.replace('    promote.dev/include-when: "${params.debug}"\n', '').replace('${params.namespace}', 'shop').replace('${params.debugImage}', 'busybox:1.36'));
  const [deployment] = debug.documents as { metadata: { annotations: Record<string, string> } }[];
  assert.deepEqual(deployment!.metadata.annotations, { owner: 'platform-team' });
  assertTextAgrees(debug);
  // The only annotation: `annotations:` goes with it.
  const app = out.get('manifests/app.yaml')!;
  assert.equal(app.content, APP.replace('  annotations:\n    promote.dev/include-when: ${params.debug}\n', ''));
  assert.deepEqual((app.documents as { metadata: object }[]).map((d) => d.metadata), [{ name: 'web' }, { name: 'web-debug' }, { name: 'web' }]);
  assertTextAgrees(app);
});

test('a staging-only debug Deployment is left out when debug is false: its file is not rendered, its references need no value', () => {
  // No debugImage in production: the left-out document is never rendered, so that is no error.
  const rendered = render({ 'manifests/debug.yaml': DEBUG_DEPLOYMENT, 'manifests/app.yaml': APP }, { namespace: 'shop', debug: false });
  assert.deepEqual(rendered.map((f) => f.path), ['manifests/app.yaml']);
  const app = rendered[0]!;
  // The middle document goes from its `---` to the next one; the others stay byte for byte.
  const [first, , third] = APP.split(/(?=^---$)/m);
  assert.equal(app.content, `${first}${third}`);
  assert.deepEqual((app.documents as { metadata: { name: string } }[]).map((d) => d.metadata.name), ['web', 'web']);
  assertTextAgrees(app);
  assert.doesNotMatch(toYamlStream(rendered), /debug/);
});

const PDB = `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, annotations: {promote.dev/include-when: "!\${params.ephemeral}"}}
spec:
  minAvailable: 2
  selector:
    matchLabels: {app: web}
`;

test('a production-only PodDisruptionBudget: "!${params.x}" includes it when the boolean is false (flow-style annotations)', () => {
  const production = render({ 'manifests/pdb.yaml': PDB }, { ephemeral: false });
  assert.equal(production.length, 1);
  assert.equal(production[0]!.content, PDB.replace(', annotations: {promote.dev/include-when: "!${params.ephemeral}"}', ''));
  assert.deepEqual((production[0]!.documents![0] as { metadata: unknown }).metadata, { name: 'web' });
  assertTextAgrees(production[0]!);
  assert.deepEqual(render({ 'manifests/pdb.yaml': PDB }, { ephemeral: true }), [], 'staging (ephemeral): no PodDisruptionBudget');
});

test('include-when in a JSON manifest and among other flow-style annotations keeps the rest of the text', () => {
  const json = '{\n  "kind": "ConfigMap",\n  "metadata": {\n    "name": "j",\n    "annotations": {\n      "promote.dev/include-when": "${params.on}",\n      "a": "1"\n    }\n  }\n}\n';
  const flow = 'kind: ConfigMap\nmetadata:\n  name: f\n  annotations: {a: "1", promote.dev/include-when: "${params.on}", b: "2"}\n';
  const last = 'kind: ConfigMap\nmetadata:\n  name: l\n  annotations: {a: "1", promote.dev/include-when: "${params.on}"}\n';
  const out = byPath(render({ 'manifests/j.json': json, 'manifests/f.yaml': flow, 'manifests/l.yaml': last }, { on: true }));
  assert.equal(out.get('manifests/j.json')!.content, '{\n  "kind": "ConfigMap",\n  "metadata": {\n    "name": "j",\n    "annotations": {\n      "a": "1"\n    }\n  }\n}\n');
  assert.equal(out.get('manifests/f.yaml')!.content, 'kind: ConfigMap\nmetadata:\n  name: f\n  annotations: {a: "1", b: "2"}\n');
  assert.equal(out.get('manifests/l.yaml')!.content, 'kind: ConfigMap\nmetadata:\n  name: l\n  annotations: {a: "1"}\n');
  for (const f of out.values()) assertTextAgrees(f);
  assert.deepEqual(render({ 'manifests/j.json': json }, { on: false }), []);
});

test('a file whose documents are all left out is not rendered; one with an empty document besides is not either, one with a kept document is', () => {
  const off = 'kind: A\nmetadata: {annotations: {promote.dev/include-when: "${params.off}"}}\n';
  const out = render({ 'manifests/all.yaml': `${off}---\n${off}`, 'manifests/empty-too.yaml': `# header only\n---\n${off}`, 'manifests/kept.yaml': `${off}---\nkind: B\n`, 'manifests/plain.yaml': '# nothing here\n' }, { off: false });
  // A file with no document at all was never conditional: it renders as before.
  assert.deepEqual(out.map((f) => [f.path, f.content]), [['manifests/kept.yaml', '---\nkind: B\n'], ['manifests/plain.yaml', '# nothing here\n']]);
});

const WORKLOAD = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      priorityClassName: \${params.priorityClass}
      containers:
        - name: web
          image: web:1.0   # pinned
          resources:
            limits:
              cpu: \${params.cpuLimit}
              memory: 512Mi
        - name: \${params.sidecarName}
          image: proxy:2.0
      nodeSelector:
        pool: \${params.pool}
`;

test('a key whose whole unquoted value is a reference to null is dropped, in text and documents; set, it is kept', () => {
  const dropped = render({ 'manifests/w.yaml': WORKLOAD }, { priorityClass: null, cpuLimit: null, sidecarName: null, pool: null })[0]!;
  assert.equal(
    dropped.content,
    WORKLOAD.replace('      priorityClassName: ${params.priorityClass}\n', '')
      .replace('              cpu: ${params.cpuLimit}\n', '')
      // The first key of a list item: the next key moves up beside the dash.
      .replace('        - name: ${params.sidecarName}\n          image', '        - image')
      // An emptied mapping is written {} (`pool:` under `nodeSelector:` with nothing would read as null).
      .replace('pool: ${params.pool}', '{}'),
  );
  const spec = (dropped.documents![0] as { spec: { template: { spec: Record<string, unknown> } } }).spec.template.spec;
  assert.deepEqual(spec, { containers: [{ name: 'web', image: 'web:1.0', resources: { limits: { memory: '512Mi' } } }, { image: 'proxy:2.0' }], nodeSelector: {} });
  assertTextAgrees(dropped);

  const kept = render({ 'manifests/w.yaml': WORKLOAD }, { priorityClass: 'high', cpuLimit: '500m', sidecarName: 'proxy', pool: 'general' })[0]!;
  assert.equal(kept.content, WORKLOAD.replace('${params.priorityClass}', 'high').replace('${params.cpuLimit}', '500m').replace('${params.sidecarName}', 'proxy').replace('${params.pool}', 'general'));
  assertTextAgrees(kept);
});

test('a null stays null where it cannot drop a key: a list item, a longer string, a quoted scalar, a flow collection', () => {
  const f = render({ 'manifests/n.yaml': 'args:\n  - ${params.n}\nurl: http://${params.n}/\nq: "${params.n}"\nflow: {a: "${params.n}"}\nkeep: ${params.s}\n' }, { n: null, s: 'x' })[0]!;
  assert.deepEqual(f.documents, [{ args: [null], url: 'http://null/', q: 'null', flow: { a: 'null' }, keep: 'x' }]);
  assertTextAgrees(f);
});

test('an include-when that is not a boolean at render time is RENDER_FAILED at file:line:column', () => {
  const err = failure({ 'manifests/debug.yaml': DEBUG_DEPLOYMENT }, { namespace: 'shop', debug: 'yes', debugImage: 'busybox' });
  assert.equal(err.exitCode, 4);
  assert.deepEqual(err.problems.map((p) => [p.file, p.line, p.column, p.rule]), [['manifests/debug.yaml', 9, 32, 'include-when']]);
  assert.match(err.problems[0]!.message, /promote\.dev\/include-when: \$\{params\.debug\} is "yes" \(a string\), not a boolean/);
  assert.match(err.message, /manifests\/debug\.yaml:9:32: /);
  // Null is not false either, nor is a missing value.
  assert.match(failure({ 'manifests/debug.yaml': DEBUG_DEPLOYMENT }, { namespace: 'shop', debug: null }).problems[0]!.message, /is null, not a boolean/);
  assert.match(failure({ 'manifests/debug.yaml': DEBUG_DEPLOYMENT }, { namespace: 'shop' }).problems[0]!.message, /parameter "debug" has no value/);
});

test('an include-when that is not one parameter reference is RENDER_FAILED, naming the form', () => {
  for (const value of ['"true"', '"${params.a} ${params.b}"', '"${promote.stage}"', '"!!${params.a}"', '{x: 1}']) {
    const err = failure({ 'manifests/c.yaml': `kind: A\nmetadata:\n  annotations:\n    promote.dev/include-when: ${value}\n` }, { a: true, b: true });
    assert.deepEqual(err.problems.map((p) => [p.line, p.rule]), [[4, 'include-when']], value);
    assert.match(err.problems[0]!.message, /must be one boolean parameter, "\$\{params\.<name>\}" or "!\$\{params\.<name>\}"/, value);
  }
});

test('an include-when deeper than the document\'s own metadata is an ordinary annotation to the renderer (the build refuses it)', () => {
  const f = render({ 'manifests/d.yaml': 'kind: Deployment\nspec:\n  template:\n    metadata:\n      annotations:\n        promote.dev/include-when: "${params.on}"\n' }, { on: false })[0]!;
  assert.deepEqual(f.documents, [{ kind: 'Deployment', spec: { template: { metadata: { annotations: { 'promote.dev/include-when': 'false' } } } } }]);
});
