import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Problem } from '../../src/errors.ts';
import { loadCel } from '../../src/cel/expression.ts';
import { evaluatePolicy, matches, objectId, violationLine } from '../../src/policy/evaluate.ts';
import { parseRules, type PolicyRule } from '../../src/policy/rule.ts';

// Pure logic: rules parsed and judged over plain objects, with the real CEL library.

await loadCel();

function parse(raw: unknown): { rules?: PolicyRule[]; problems: (Omit<Problem, 'file' | 'line' | 'column'> & { pointer: string })[] } {
  const problems: (Omit<Problem, 'file' | 'line' | 'column'> & { pointer: string })[] = [];
  const rules = parseRules(raw, '/rules', (pointer, p) => problems.push({ pointer, ...p }));
  return { ...(rules && { rules }), problems };
}

function rules(raw: unknown): PolicyRule[] {
  const r = parse(raw);
  assert.deepEqual(r.problems, []);
  return r.rules!;
}

const deployment = (name: string, image: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: 'shop' },
  spec: { replicas: 2, template: { spec: { containers: [{ name: 'app', image, ...extra }] } } },
});

test('rules: every problem at its pointer; a CEL syntax error names the column, an unknown variable is refused', () => {
  const { rules: parsed, problems } = parse([
    { name: 'ok', expression: 'object.kind == "Deployment"' },
    { name: 'broken', expression: 'object.spec.(' },
    { name: 'typo', expression: 'obj.spec.replicas > 1' },
    { name: 'ok', expression: 'true', messageExpression: '"x"' },
    { name: 'Bad Name', match: { kinds: [], labelSelector: {} }, expression: 'true' },
    { name: 'noexpr' },
  ]);
  assert.equal(parsed, undefined);
  const at = (pointer: string) => problems.filter((p) => p.pointer === pointer);
  assert.match(at('/rules/1/expression')[0]!.message, /not valid CEL at column \d+/);
  assert.equal(at('/rules/1/expression')[0]!.rule, 'cel');
  assert.match(at('/rules/2/expression')[0]!.message, /unknown variable "obj".*object, promote/);
  assert.match(at('/rules/3/name')[0]!.message, /named twice \(first at \/rules\/0\)/);
  assert.match(at('/rules/3/messageExpression')[0]!.hint!, /recorded in the ledger/);
  assert.equal(at('/rules/4/name')[0]!.rule, 'pattern');
  assert.match(at('/rules/4/match/kinds')[0]!.message, /non-empty strings/);
  assert.match(at('/rules/4/match/labelSelector')[0]!.hint!, /selectors are not supported/);
  assert.match(at('/rules/5/expression')[0]!.message, /needs an expression/);
  assert.deepEqual(parse([]).problems.map((p) => p.pointer), ['/rules']);
});

test('match: apiVersion (a group wildcard), kind, name; an object without a namespace is never skipped; a Namespace matches by its name', () => {
  const d = deployment('web', 'nginx:1');
  assert.ok(matches({ apiVersions: ['apps/*'], kinds: ['Deployment'] }, d));
  assert.ok(matches({ apiVersions: ['apps/v1'] }, d));
  assert.ok(!matches({ apiVersions: ['v1'] }, d));
  assert.ok(!matches({ apiVersions: ['batch/*'] }, d));
  assert.ok(!matches({ kinds: ['StatefulSet'] }, d));
  assert.ok(matches({ kinds: ['*'], names: ['web'] }, d));
  assert.ok(!matches({ names: ['api'] }, d));
  assert.ok(matches({ namespaces: ['shop'] }, d));
  assert.ok(!matches({ namespaces: ['other'] }, d));
  const noNamespace = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' } };
  assert.ok(matches({ namespaces: ['other'] }, noNamespace), 'an object that may land in any namespace is judged');
  assert.ok(matches({ namespaces: ['shop'] }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } }));
  assert.ok(!matches({ namespaces: ['shop'] }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'other' } }));
  assert.equal(objectId(d), 'Deployment shop/web');
  assert.equal(objectId({ kind: 'ClusterRole', metadata: { name: 'admin' } }), 'ClusterRole admin');
});

test('evaluate: false is a violation with the message (or VAP\'s default), an evaluation error is one too, each object in file#index; promote is bound per cluster', () => {
  const policy = rules([
    { name: 'pinned', match: { kinds: ['Deployment'] }, expression: "object.spec.template.spec.containers.all(c, c.image.contains('@sha256:'))", message: 'pin images by digest' },
    { name: 'replicas', match: { kinds: ['Deployment'] }, expression: 'object.spec.replicas >= 2' },
    { name: 'strategy', match: { kinds: ['Deployment'] }, expression: "object.spec.strategy.type == 'RollingUpdate'" },
    { name: 'eu-only', expression: "promote.cluster.startsWith('eu-') && promote.stage == 'production' && promote.digest.startsWith('sha256:')" },
    { name: 'jobs', match: { kinds: ['Job'] }, expression: 'true' },
  ]);
  const objects = [
    { file: 'manifests/web.yaml', index: 0, object: deployment('web', 'nginx:1.27') },
    { file: 'manifests/web.yaml', index: 1, object: { ...deployment('api', `api@sha256:${'a'.repeat(64)}`), spec: { replicas: 3, strategy: { type: 'RollingUpdate' }, template: { spec: { containers: [{ image: `api@sha256:${'a'.repeat(64)}` }] } } } } },
  ];
  const report = evaluatePolicy(policy, [{ cluster: 'eu-1', objects }, { cluster: 'us-1', objects }], { stage: 'production', digest: `sha256:${'b'.repeat(64)}` });
  assert.equal(report.objects, 4);
  assert.deepEqual(report.unmatched, ['jobs']);
  const lines = report.violations.map(violationLine);
  assert.deepEqual(lines, [
    'eu-1: Deployment shop/web (manifests/web.yaml#0): pinned: pin images by digest',
    'eu-1: Deployment shop/web (manifests/web.yaml#0): strategy: the expression could not be evaluated: field not found: strategy',
    'us-1: Deployment shop/web (manifests/web.yaml#0): pinned: pin images by digest',
    'us-1: Deployment shop/web (manifests/web.yaml#0): strategy: the expression could not be evaluated: field not found: strategy',
    'us-1: Deployment shop/web (manifests/web.yaml#0): eu-only: failed expression: promote.cluster.startsWith(\'eu-\') && promote.stage == \'production\' && promote.digest.startsWith(\'sha256:\')',
    'us-1: Deployment shop/api (manifests/web.yaml#1): eu-only: failed expression: promote.cluster.startsWith(\'eu-\') && promote.stage == \'production\' && promote.digest.startsWith(\'sha256:\')',
  ]);
  assert.equal(report.violations[1]!.error, true);
  assert.equal(report.more, 0);
});

test('evaluate: a non-boolean result is a violation, not a pass', () => {
  const report = evaluatePolicy(rules([{ name: 'typo', expression: 'object.metadata.name' }]), [{ cluster: 'c', objects: [{ file: 'f.yaml', index: 0, object: deployment('web', 'x') }] }], { stage: 's', digest: 'd' });
  assert.equal(report.violations.length, 1);
  assert.match(report.violations[0]!.message, /could not be evaluated: the expression gave the string "web", not true or false/);
});

test('evaluate: violations kept are capped and the rest counted', () => {
  const objects = Array.from({ length: 30 }, (_, i) => ({ file: 'm.yaml', index: i, object: deployment(`w${i}`, 'nginx') }));
  const report = evaluatePolicy(rules([{ name: 'never', expression: 'false' }, { name: 'also-never', expression: '1 == 2' }]), [{ cluster: 'c', objects }], { stage: 's', digest: 'd' }, 25);
  assert.equal(report.violations.length, 25);
  assert.equal(report.more, 35);
  assert.deepEqual(report.unmatched, []);
});

test('evaluate: a comprehension nested in another over a large rendered list stops at the read budget with a violation, never a pass nor an endless gate', () => {
  const items = Array.from({ length: 1000 }, (_, i) => ({ name: `k${i}`, value: String(i) }));
  const big = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'big', namespace: 'shop' }, data: {}, items };
  const objects = [{ file: 'big.yaml', index: 0, object: big }, { file: 'big.yaml', index: 1, object: { ...big, metadata: { name: 'big2', namespace: 'shop' } } }];
  // Unique names, checked pairwise: true for this list, and about a million comparisons per object.
  const quadratic = rules([{ name: 'unique-names', expression: 'object.items.all(a, object.items.all(b, a.value == b.value || a.name != b.name))' }]);
  const started = performance.now();
  const report = evaluatePolicy(quadratic, [{ cluster: 'c', objects }], { stage: 's', digest: 'd' }, 25, 100_000);
  assert.ok(performance.now() - started < 5000, 'stopped at the budget, not after every comparison');
  assert.equal(report.budgetExceeded, true);
  assert.equal(report.objects, 1, 'judging stopped at the first object');
  assert.equal(report.violations.length, 1);
  assert.equal(report.violations[0]!.error, true);
  assert.match(violationLine(report.violations[0]!), /^c: ConfigMap shop\/big \(big\.yaml#0\): unique-names: judging stopped here: the policy read more than 100000 fields/);

  const cheap = evaluatePolicy(rules([{ name: 'named', expression: 'object.items.all(a, a.name != "")' }]), [{ cluster: 'c', objects }], { stage: 's', digest: 'd' }, 25, 100_000);
  assert.deepEqual([cheap.violations, cheap.budgetExceeded, cheap.objects], [[], undefined, 2], 'a linear rule over the same list stays within the same budget');

  // A comprehension over a map's keys is bounded the same way.
  const labels = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, 'v']));
  const mapped = evaluatePolicy(rules([{ name: 'pairs', expression: 'object.metadata.labels.all(a, object.metadata.labels.all(b, a == b || a != b))' }]), [{ cluster: 'c', objects: [{ file: 'm.yaml', index: 0, object: { kind: 'ConfigMap', metadata: { name: 'm', labels } } }] }], { stage: 's', digest: 'd' }, 25, 100_000);
  assert.equal(mapped.budgetExceeded, true);
});
