import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { parse } from 'yaml';
import { compareEnvironment } from '../../src/import/compare-objects.ts';
import { planImport } from '../../src/import/plan-import.ts';
import { compiled, configMap, container, deployment, environments, file, manifests, renderInMemory, resolved, schemaOf, written } from './helpers.ts';

// The planner on in-memory environments (pure: no disk, no binaries). Where a test checks that
// the bundle means what the copies meant, it renders the planned files with the real plain
// renderer in memory (helpers.ts renderInMemory) and compares with the proof's comparison.

type Json = Record<string, unknown>;

function roundTrips(plan: ReturnType<typeof planImport>, input: ReturnType<typeof environments>): void {
  for (const env of input) {
    const result = compareEnvironment(env.name, env.objects.map((o) => o.value), renderInMemory(plan, env.name), plan.withheld.filter((w) => w.environment === env.name));
    assert.ok(result.equivalent, `${env.name}: ${JSON.stringify(result)}`);
  }
}

test('in-memory: a replica count that differs becomes an integer parameter named from its path, typed and unquoted in the manifest', () => {
  const dev = deployment('podinfo');
  const prod = deployment('podinfo', { replicas: 3 });
  const input = environments(['dev', [dev]], ['production', [prod]]);
  const plan = planImport(input, { name: 'webapp' });
  const manifest = file(plan, 'bundles/webapp/manifests/deployment-podinfo.yaml');
  assert.match(manifest, /^ {2}replicas: \$\{params\.podinfo\.deployment\.replicas\}$/m);
  const schema = schemaOf(plan) as { properties: Json; required: string[] };
  assert.deepEqual(schema.required, ['podinfo']);
  const leaf = ((schema.properties.podinfo as { properties: Json }).properties.deployment as { properties: Json; required: string[] }).properties.replicas as Json;
  assert.equal(leaf.type, 'integer');
  assert.equal(leaf.default, undefined, 'two environments: no default');
  assert.deepEqual(written(plan, 'dev'), { podinfo: { deployment: { replicas: 1 } } });
  assert.deepEqual(written(plan, 'production'), { podinfo: { deployment: { replicas: 3 } } });
  assert.deepEqual(plan.parameters.map((p) => p.name), ['podinfo.deployment.replicas']);
  roundTrips(plan, input);
});

test('in-memory: the value all environments but one agree on is the default, and their files leave it out', () => {
  const input = environments(['dev', [deployment('api')]], ['staging', [deployment('api')]], ['production', [deployment('api', { replicas: 4 })]]);
  const plan = planImport(input, { name: 'api' });
  const leaf = (((schemaOf(plan).properties as Json).api as Json).properties as Json).deployment as { properties: Json; default?: unknown; required?: string[] };
  assert.deepEqual(leaf.properties.replicas, { description: 'Deployment.apps web/api /spec/replicas.', type: 'integer', default: 1 });
  assert.deepEqual(leaf.default, {}, 'an object of optional parameters defaults to {} so the defaults below it apply');
  assert.equal((schemaOf(plan).required as string[] | undefined), undefined);
  assert.deepEqual(written(plan, 'dev'), {});
  assert.deepEqual(written(plan, 'staging'), {});
  assert.deepEqual(written(plan, 'production'), { api: { deployment: { replicas: 4 } } });
  assert.deepEqual(resolved(plan, 'dev'), { api: { deployment: { replicas: 1 } } }, 'the default reaches a file that says nothing');
  assert.equal(plan.parameters[0]!.default, 1);
  roundTrips(plan, input);
});

test('in-memory: enum for a string with fewer distinct values than environments, not for one value per environment', () => {
  const withLevel = (level: string, host: string) => {
    const d = deployment('web');
    container(d).args = [`--level=${level}`];
    (d.metadata as Json).annotations = { host };
    return d;
  };
  const input = environments(['dev', [withLevel('debug', 'dev.example')]], ['staging', [withLevel('info', 'staging.example')]], ['production', [withLevel('info', 'example')]], ['perf', [withLevel('info', 'perf.example')]]);
  const plan = planImport(input, { name: 'web' });
  const props = ((((schemaOf(plan).properties as Json).web as Json).properties as Json).deployment as Json).properties as Json;
  const level = ((((props.containers as Json).properties as Json).web as Json).properties as Json).args as Json;
  assert.ok(level, JSON.stringify(props));
  const arg = (level.properties as Json)._0 as Json;
  assert.deepEqual(arg.enum, ['--level=debug', '--level=info']);
  assert.equal(arg.default, '--level=info');
  const host = (props.annotations as Json).properties as Json;
  assert.equal((host.host as Json).enum, undefined, 'four hosts in four environments are not a choice');
  roundTrips(plan, input);
});

test('in-memory: containers, env and ports are matched by name; other lists by index; lists of another length are one value', () => {
  const make = (image: string, envs: Json[], command: string[], tolerations: Json[]) => {
    const d = deployment('app');
    Object.assign(container(d), { image, env: envs, command });
    (((d.spec as Json).template as Json).spec as Json).tolerations = tolerations;
    return d;
  };
  const dev = make('app:1', [{ name: 'MODE', value: 'dev' }, { name: 'COLOR', value: 'blue' }], ['run', '--fast'], [{ key: 'a' }]);
  const prod = make('app:2', [{ name: 'MODE', value: 'prod' }, { name: 'COLOR', value: 'blue' }], ['run', '--safe'], [{ key: 'a' }, { key: 'b' }]);
  const input = environments(['dev', [dev]], ['prod', [prod]]);
  const plan = planImport(input, { name: 'app' });
  assert.deepEqual(plan.parameters.map((p) => p.name).sort(), [
    'app.deployment.containers.app.command._1',
    'app.deployment.containers.app.env.MODE.value',
    'app.deployment.containers.app.image',
    'app.deployment.tolerations',
  ]);
  assert.deepEqual((written(plan, 'prod').app as Json).deployment, {
    containers: { app: { command: { _1: '--safe' }, env: { MODE: { value: 'prod' } }, image: 'app:2' } },
    tolerations: [{ key: 'a' }, { key: 'b' }],
  });
  const schema = schemaOf(plan);
  const tol = ((((schema.properties as Json).app as Json).properties as Json).deployment as Json).properties as Json;
  assert.equal((tol.tolerations as Json).type, 'array');
  roundTrips(plan, input);
});

test('in-memory: a key only some environments have is a nullable parameter whose null drops it', () => {
  const dev = deployment('app');
  const prod = deployment('app');
  container(prod).resources = { limits: { memory: '1Gi' } };
  const input = environments(['dev', [dev]], ['staging', [structuredClone(dev)]], ['prod', [prod]]);
  const plan = planImport(input, { name: 'app' });
  assert.deepEqual(plan.parameters.map((p) => [p.name, p.nullable, p.default]), [['app.deployment.containers.app.resources', true, null]]);
  const leaf = ((((((((schemaOf(plan).properties as Json).app as Json).properties as Json).deployment as Json).properties as Json).containers as Json).properties as Json).app as Json).properties as Json;
  assert.deepEqual((leaf.resources as Json).type, ['null', 'object']);
  assert.match(file(plan, 'bundles/app/manifests/deployment-app.yaml'), /^ {10}resources: \$\{params\.app\.deployment\.containers\.app\.resources\}$/m);
  assert.deepEqual(written(plan, 'dev'), {});
  assert.deepEqual(written(plan, 'prod'), { app: { deployment: { containers: { app: { resources: { limits: { memory: '1Gi' } } } } } } });
  assert.equal(((((resolved(plan, 'dev').app as Json).deployment as Json).containers as Json).app as Json).resources, null);
  roundTrips(plan, input);
});

test('in-memory: a value null in one environment and set in another makes the mapping around it the parameter', () => {
  const dev = deployment('app', { strategy: { type: 'RollingUpdate', rollingUpdate: null } });
  const prod = deployment('app', { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } } });
  const input = environments(['dev', [dev]], ['prod', [prod]]);
  const plan = planImport(input, { name: 'app' });
  assert.deepEqual(plan.parameters.map((p) => [p.name, p.nullable]), [['app.deployment.strategy', false]]);
  assert.deepEqual(written(plan, 'dev'), { app: { deployment: { strategy: { type: 'RollingUpdate', rollingUpdate: null } } } });
  assert.deepEqual(plan.inexpressible, []);
  roundTrips(plan, input);
});

test('in-memory: a null at the top of an object that is set elsewhere is reported as inexpressible, by object and pointer', () => {
  const dev = { ...configMap('settings', { a: '1' }), immutable: null };
  const prod = { ...configMap('settings', { a: '1' }), immutable: true };
  const input = environments(['dev', [dev]], ['prod', [prod]]);
  const plan = planImport(input, { name: 'app' });
  assert.equal(plan.inexpressible.length, 1);
  assert.deepEqual({ ...plan.inexpressible[0], reason: undefined }, { object: 'ConfigMap web/settings', pointer: '/immutable', reason: undefined });
  const prodResult = compareEnvironment('prod', [prod], renderInMemory(plan, 'prod'));
  assert.deepEqual(prodResult.differences, [{ object: 'ConfigMap web/settings', pointer: '/immutable', change: 'changed' }], 'the proof shows it too');
});

test('in-memory: a namespace per environment and a label per environment are one parameter each, shared by every object, and the Namespace objects match', () => {
  const objects = (ns: string) => [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'app.kubernetes.io/environment': ns } } },
    deployment('api', {}, { namespace: ns, labels: { 'app.kubernetes.io/environment': ns } }),
    configMap('api-config', { url: `http://api.${ns}.svc.cluster.local:8080` }, ns),
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'api', namespace: ns }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'api' }, subjects: [{ kind: 'ServiceAccount', name: 'api', namespace: ns }] },
  ];
  const input = environments(['dev', objects('dev')], ['staging', objects('staging')], ['production', objects('production')]);
  const plan = planImport(input, { name: 'app' });
  assert.deepEqual(plan.parameters.map((p) => [p.name, p.used.length]), [['namespace', 5], ['labels.environment', 2]]);
  assert.equal(manifests(plan).length, 4, 'one Namespace, not three conditional ones');
  assert.match(file(plan, 'bundles/app/manifests/configmap-api-config.yaml'), /url: "http:\/\/api\.\$\{params\.namespace\}\.svc\.cluster\.local:8080"/);
  assert.deepEqual(written(plan, 'staging'), { labels: { environment: 'staging' }, namespace: 'staging' });
  roundTrips(plan, input);
});

test('in-memory: an object in some environments only becomes a conditional document with a boolean parameter', () => {
  const debug = configMap('debug-settings', { verbose: 'true' });
  const input = environments(['dev', [deployment('api'), debug]], ['staging', [deployment('api')]], ['production', [deployment('api')]]);
  const plan = planImport(input, { name: 'app' });
  assert.deepEqual(plan.parameters.map((p) => [p.name, p.kind, p.default]), [['debug-settings.configmap.enabled', 'include', false]]);
  const text = file(plan, 'bundles/app/manifests/configmap-debug-settings.yaml');
  const doc = parse(text) as { metadata: { annotations: Json } };
  assert.deepEqual(doc.metadata.annotations, { 'promote.dev/include-when': '${params.debug-settings.configmap.enabled}' });
  assert.match(text, /promote\.dev\/include-when: "\$\{params\.debug-settings\.configmap\.enabled\}"/, 'quoted, as DESIGN.md §4b writes it');
  const leaf = ((((schemaOf(plan).properties as Json)['debug-settings'] as Json).properties as Json).configmap as Json).properties as Json;
  assert.deepEqual({ ...(leaf.enabled as Json), description: undefined }, { description: undefined, type: 'boolean', default: false });
  assert.deepEqual(written(plan, 'dev'), { 'debug-settings': { configmap: { enabled: true } } });
  assert.deepEqual(written(plan, 'production'), {});
  roundTrips(plan, input);
});

test('in-memory: a Secret with values is left out and warned about; secret-looking values elsewhere become secretRef parameters and never reach an environment file', () => {
  const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'web' }, data: { password: 'aHVudGVyMg==' } };
  const token = 'Zx8Qw3Lr9Tb2Vn6Mk4Hs7Jd1Fp5Gy0Ca';
  const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK\n-----END RSA PRIVATE KEY-----\n';
  const make = (password: string) => {
    const d = deployment('api');
    container(d).env = [{ name: 'DB_PASSWORD', value: password }, { name: 'MODE', value: 'x' }];
    return [d, secret, configMap('keys', { 'signing.pem': pem, note: token })];
  };
  const input = environments(['dev', make('dev-pw')], ['prod', make('prod-pw')]);
  const plan = planImport(input, { name: 'api' });
  assert.equal(manifests(plan).some((f) => f.path.includes('secret-db')), false, 'the Secret is not in the bundle');
  const all = plan.files.map((f) => f.content).join('\n');
  for (const s of ['dev-pw', 'prod-pw', 'aHVudGVyMg==', token, 'MIIBOgIBAAJBAK']) assert.ok(!all.includes(s), `${s} is written somewhere`);
  assert.deepEqual(plan.parameters.filter((p) => p.secret).map((p) => p.name).sort(), ['api.deployment.containers.api.env.DB_PASSWORD.value', 'keys.configmap.data.note', 'keys.configmap.data.signing-pem']);
  const leaf = ((((((((((schemaOf(plan).properties as Json).api as Json).properties as Json).deployment as Json).properties as Json).containers as Json).properties as Json).api as Json).properties as Json).env as Json).properties as Json;
  assert.equal(((leaf.DB_PASSWORD as Json).properties as Json).value !== undefined, true);
  assert.equal((((leaf.DB_PASSWORD as Json).properties as Json).value as Json)['x-promote-secret'], true);
  assert.deepEqual((((written(plan, 'dev').api as Json).deployment as Json).containers as Json).api, { env: { DB_PASSWORD: { value: { secretRef: { name: 'api', key: 'DB_PASSWORD' } } } } });
  compiled(plan);
  resolved(plan, 'prod');
  const warned = plan.warnings.map((w) => `${w.object} ${w.pointer ?? ''}`).sort();
  assert.deepEqual(warned, ['ConfigMap web/keys /data/note', 'ConfigMap web/keys /data/signing.pem', 'Deployment.apps web/api /spec/template/spec/containers/0/env/0/value', 'Secret web/db ']);
  assert.deepEqual(plan.withheld.filter((w) => w.environment === 'dev').map((w) => `${w.object.kind}/${w.object.name}${w.pointer}`).sort(), ['ConfigMap/keys/data/note', 'ConfigMap/keys/data/signing.pem', 'Deployment/api/spec/template/spec/containers/0/env/0/value', 'Secret/db']);
  roundTrips(plan, input);
});

test('in-memory: literal text that looks like a promote reference is escaped, so it renders as written', () => {
  const script = 'echo ${params.x} and $${params.y} and ${HOME} and ${promote.stage}\n';
  const input = environments(['dev', [configMap('script', { 'run.sh': script, mode: 'a' })]], ['prod', [configMap('script', { 'run.sh': script, mode: 'b' })]]);
  const plan = planImport(input, { name: 'app' });
  assert.match(file(plan, 'bundles/app/manifests/configmap-script.yaml'), /\$\$\{params\.x\} and \$\$\$\{params\.y\} and \$\{HOME\} and \$\$\{promote\.stage\}/);
  roundTrips(plan, input);
});

test('in-memory: strings a YAML 1.1 reader would take for something else stay strings', () => {
  const data = { a: 'on', b: '0755', c: 'yes', d: '1.5', e: 'null', f: '', g: ' padded ', h: 'multi\nline\n' };
  const input = environments(['dev', [configMap('cfg', { ...data, x: '1' })]], ['prod', [configMap('cfg', { ...data, x: '2' })]]);
  const plan = planImport(input, { name: 'app' });
  const text = file(plan, 'bundles/app/manifests/configmap-cfg.yaml');
  for (const k of ['a', 'b', 'c', 'd', 'e']) assert.match(text, new RegExp(`^ {2}${k}: "`, 'm'), `${k} is quoted`);
  roundTrips(plan, input);
});

test('in-memory: names stay unique when leaving out spec/template/metadata would make two clash', () => {
  const make = (v: string) => deployment('api', { selector: { matchLabels: { app: 'api', tier: v } } }, { labels: { tier: v } });
  const dev = make('a');
  const prod = make('b');
  (((dev.spec as Json).template as Json).metadata as Json).labels = { app: 'api', tier: 'x' };
  (((prod.spec as Json).template as Json).metadata as Json).labels = { app: 'api', tier: 'y' };
  const input = environments(['dev', [dev]], ['prod', [prod]]);
  const plan = planImport(input, { name: 'api' });
  const names = plan.parameters.map((p) => p.name);
  assert.equal(new Set(names).size, names.length, names.join(', '));
  assert.ok(names.every((n) => !names.some((m) => m.startsWith(`${n}.`))), 'no name is the prefix of another');
  assert.ok(names.every((n) => /^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$/.test(n)), names.join(', '));
  roundTrips(plan, input);
});

test('in-memory: objects whose names differ by a kustomize content hash are matched, their name one parameter with every reference to it, with a warning naming the object and /metadata/name', () => {
  const make = (hash: string, maxmemory: string) => {
    const d = deployment('cache');
    (((d.spec as Json).template as Json).spec as Json).volumes = [{ name: 'config', configMap: { name: `redis-config-${hash}` } }];
    return [d, configMap(`redis-config-${hash}`, { 'redis.conf': `maxmemory ${maxmemory}\n` })];
  };
  const input = environments(['dev', make('bd2fcfgt6k', '64mb')], ['prod', make('5m7h2c9tbd', '1gb')]);
  const plan = planImport(input, { name: 'cache' });
  assert.equal(manifests(plan).length, 2);
  const w = plan.warnings.find((x) => x.pointer === '/metadata/name');
  assert.ok(w, JSON.stringify(plan.warnings));
  assert.equal(w.object, 'ConfigMap web/redis-config-bd2fcfgt6k');
  assert.match(w.message, /redis-config-bd2fcfgt6k, redis-config-5m7h2c9tbd\): the name is parameter redis-config\.configmap\.name now \(also in the place that refers to it\)/);
  // One parameter for the name and the volume that refers to it, named without the hash.
  assert.deepEqual(plan.parameters.map((p) => [p.name, p.used.map((u) => u.pointer)]), [
    ['redis-config.configmap.name', ['/spec/template/spec/volumes/0/configMap/name', '/metadata/name']],
    ['redis-config.configmap.data.redis-conf', ['/data/redis.conf']],
  ]);
  assert.deepEqual(manifests(plan).map((m) => m.path.split('/').at(-1)), ['deployment-cache.yaml', 'configmap-redis-config.yaml']);
  assert.deepEqual(written(plan, 'prod')['redis-config'], { configmap: { name: 'redis-config-5m7h2c9tbd', data: { 'redis-conf': 'maxmemory 1gb\n' } } });
  roundTrips(plan, input);
});

test('in-memory: the generated schema compiles under promote\'s rules and every environment satisfies it', () => {
  const a = deployment('api');
  const b = deployment('api', { replicas: 2.5 as unknown as number, paused: true });
  const c = deployment('api', { replicas: 2 });
  const input = environments(['a', [a]], ['b', [b]], ['c', [c]]);
  const plan = planImport(input, { name: 'api' });
  const schema = compiled(plan);
  for (const env of ['a', 'b', 'c']) resolved(plan, env, schema);
  const props = ((((schemaOf(plan).properties as Json).api as Json).properties as Json).deployment as Json).properties as Json;
  assert.equal((props.replicas as Json).type, 'number', 'a fraction among integers makes it a number');
  assert.deepEqual((props.paused as Json).type, ['boolean', 'null']);
  assert.ok(!schema.validate({ api: { deployment: { replicas: 1, typo: 1 } } }), 'unknown keys are errors');
});

test('in-memory: the pipeline has a stage per environment in the order given, each from the one before; clusters default to <env>-1', () => {
  const input = environments(['dev', [deployment('a')]], ['qa', [deployment('a')]], ['prod', [deployment('a')]]);
  const plan = planImport(input, { name: 'a', clusters: { prod: ['prod-eu-1', 'prod-us-1'] } });
  const pipeline = parse(file(plan, 'pipelines/a.yaml')) as { spec: { stages: Json[] } };
  assert.deepEqual(pipeline.spec.stages.map((s) => [s.name, s.environment, s.from ?? null]), [['dev', 'dev', null], ['qa', 'qa', 'dev'], ['prod', 'prod', 'qa']]);
  assert.equal(pipeline.spec.stages[0]!.promotion, 'auto');
  assert.ok(isDeepStrictEqual((pipeline.spec.stages[2]!.gates as Json[]).at(-1), { approval: { count: 1, separateDuties: true } }));
  const clusters = (env: string) => ((parse(file(plan, `environments/${env}.yaml`)) as { spec: { clusters: Json[] } }).spec.clusters).map((c) => c.name);
  assert.deepEqual(clusters('dev'), ['dev-1']);
  assert.deepEqual(clusters('prod'), ['prod-eu-1', 'prod-us-1']);
});

test('in-memory: bad input is refused with a stable code: duplicate or invalid environment names, objects twice or without a name, unknown clusters, a bad name', () => {
  const d = deployment('a');
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      return (err as { code?: string }).code;
    }
    return 'none';
  };
  assert.equal(code(() => planImport(environments(['dev', [d]], ['dev', [d]]), { name: 'a' })), 'IMPORT_ENVIRONMENT_DUPLICATE');
  assert.equal(code(() => planImport(environments(['Dev', [d]]), { name: 'a' })), 'IMPORT_ENVIRONMENT_NAME_INVALID');
  assert.equal(code(() => planImport(environments(['dev', [d, d]]), { name: 'a' })), 'IMPORT_OBJECT_DUPLICATE');
  assert.equal(code(() => planImport(environments(['dev', [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: {} }]]), { name: 'a' })), 'IMPORT_OBJECT_INVALID');
  assert.equal(code(() => planImport(environments(['dev', [d]]), { name: 'a', clusters: { prod: ['p-1'] } })), 'IMPORT_CLUSTERS_INVALID');
  assert.equal(code(() => planImport(environments(['dev', [d]]), { name: 'A_b' })), 'IMPORT_NAME_INVALID');
  assert.equal(code(() => planImport([], { name: 'a' })), 'IMPORT_NO_ENVIRONMENTS');
});

test('in-memory: the same input plans the same files', () => {
  const input = environments(['dev', [deployment('a'), configMap('c', { x: '1' })]], ['prod', [deployment('a', { replicas: 2 })]]);
  assert.deepEqual(planImport(input, { name: 'a' }), planImport(structuredClone(input), { name: 'a' }));
});
