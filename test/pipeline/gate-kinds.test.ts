import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PIPELINE_SCHEMA, pipelineSchemaText } from '../../scripts/gen-pipeline-schema.ts';
import { memoiseFacts, type GateFacts, type GateInput } from '../../src/pipeline/gate.ts';
import { evaluateGates } from '../../src/pipeline/gates/evaluate.ts';
import { GATE_KINDS, type GateSpec } from '../../src/pipeline/gates/kinds.ts';
import { noOutsideFacts } from './no-outside-facts.ts';

const D1 = `sha256:${'1'.repeat(64)}`;
const input: GateInput = { pipeline: 'webapp', stage: 'staging', from: 'dev', candidate: D1, now: new Date('2026-03-30T10:00:00Z'), promoter: 'Pat <pat@example.com>' };

test('the gate part of schemas/pipeline.schema.json is generated from the gate kinds (else run `npm run gen:schemas`)', () => {
  const committed = readFileSync(PIPELINE_SCHEMA, 'utf8');
  assert.equal(committed, pipelineSchemaText(committed), 'schemas/pipeline.schema.json is stale');
  const gate = (JSON.parse(committed) as { $defs: { gate: { properties: Record<string, unknown> } } }).$defs.gate;
  assert.deepEqual(Object.keys(gate.properties), GATE_KINDS.map((k) => k.type));
  for (const kind of GATE_KINDS) assert.deepEqual(gate.properties[kind.type], kind.schema, kind.type);
});

/** Plain-data facts that count how often each is fetched. */
function countingFacts() {
  const calls = { upstreamReports: 0, approvals: 0 };
  const facts: GateFacts = {
    ...noOutsideFacts,
    upstreamReports: async () => {
      calls.upstreamReports++;
      return { clusters: ['dev-1'], reports: [{ cluster: 'dev-1', phase: 'Converged', bundle: D1, since: '2026-03-30T09:00:00Z', observedAt: '2026-03-30T09:59:00Z' }] };
    },
    approvals: async () => {
      calls.approvals++;
      return { signed: false, approvals: [] };
    },
  };
  return { calls, facts: memoiseFacts(facts) };
}

const converged: GateSpec = { type: 'converged' };
const soak: GateSpec = { type: 'soak', duration: '15m', milliseconds: 900_000 };
const window: GateSpec = { type: 'window', days: ['Mon'], start: 0, end: 1440, hours: '00:00-24:00', timezone: 'UTC' };
const approval: GateSpec = { type: 'approval', count: 1, separateDuties: false };

test('gate facts (plain data): fetched once per plan however many gates ask, and not at all when no gate asks', async () => {
  const both = countingFacts();
  const results = await evaluateGates([converged, soak, approval, approval], { input, facts: both.facts });
  assert.deepEqual(results.map((r) => [r.gate, r.passed]), [['converged', true], ['soak 15m', true], ['approval 1', false], ['approval 1', false]]);
  assert.deepEqual(both.calls, { upstreamReports: 1, approvals: 1 });
  const none = countingFacts();
  await evaluateGates([window], { input, facts: none.facts });
  assert.deepEqual(none.calls, { upstreamReports: 0, approvals: 0 }, 'a window gate reads nothing');
  // Upstream gates do not apply to a change that keeps the bundle: nothing is read for them.
  const same = countingFacts();
  const skipped = await evaluateGates([converged, soak], { input, facts: same.facts, unchangedBundle: 'configuration' });
  assert.deepEqual(skipped.map((r) => [r.gate, r.applicable, r.evidence.reason]), [['converged', false, 'configuration-change'], ['soak 15m', false, 'configuration-change']]);
  assert.match(skipped[1]!.summary, /nothing new from upstream to soak$/);
  assert.deepEqual(same.calls, { upstreamReports: 0, approvals: 0 });
});

test('a gate kind is given only the facts it declares', async () => {
  const facts: GateFacts = { ...noOutsideFacts, upstreamReports: async () => ({ clusters: [], reports: [] }), approvals: async () => ({ signed: false, approvals: [] }) };
  const seen: Record<string, string[]> = {};
  const originals = GATE_KINDS.map((k) => k.evaluate);
  try {
    GATE_KINDS.forEach((kind, i) => {
      (kind as { evaluate: unknown }).evaluate = (spec: never, ctx: object) => {
        seen[kind.type] = Object.keys(ctx).filter((k) => k in facts);
        return originals[i]!(spec, ctx as never);
      };
    });
    await evaluateGates([converged, approval, window, { type: 'manual' }], { input, facts });
  } finally {
    GATE_KINDS.forEach((kind, i) => ((kind as { evaluate: unknown }).evaluate = originals[i]));
  }
  assert.deepEqual(seen, { converged: ['upstreamReports'], approval: ['approvals'], window: [], manual: [] });
});
