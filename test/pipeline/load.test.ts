import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPromoteError, type PromoteError } from '../../src/errors.ts';
import { findPipelineFile, loadPipeline, stageOrder } from '../../src/pipeline/load.ts';

async function project(t: { after(fn: () => Promise<void>): void }, pipeline: string, envs = ['dev', 'staging', 'production']) {
  const dir = await mkdtemp(join(tmpdir(), 'promote-pipeline-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'pipelines'));
  await mkdir(join(dir, 'environments'));
  for (const e of envs) await writeFile(join(dir, 'environments', `${e}.yaml`), `apiVersion: promote/v1\nkind: Environment\nmetadata: {name: ${e}}\nspec: {parameters: {}}\n`);
  await writeFile(join(dir, 'pipelines', 'webapp.yaml'), pipeline);
  return { dir, file: join(dir, 'pipelines', 'webapp.yaml') };
}

async function problemsOf(file: string) {
  try {
    await loadPipeline(file);
  } catch (err) {
    assert.ok(isPromoteError(err, 'PIPELINE_INVALID'), String(err));
    assert.equal((err as PromoteError).exitCode, 4);
    return (err as PromoteError).problems;
  }
  assert.fail('expected the pipeline to be refused');
}

const GOOD = `apiVersion: promote/v1
kind: Pipeline
metadata: {name: webapp}
spec:
  repository: oci:./.promote/registry/webapp
  trust:
    bundles: [keys/ci.pub]
    promotions: [keys/promoter.pub]
  stages:
    - {name: dev, environment: dev, promotion: auto}
    - name: staging
      environment: staging
      from: dev
      gates: [{converged: {}}, {soak: 15m}]
    - name: production
      environment: production
      from: staging
      gates: [{converged: {}}, {soak: 1h}, {approval: {count: 1}},
              {window: {days: [Mon, Tue, Wed, Thu], hours: "09:00-16:00", timezone: Europe/Berlin}}]
`;

test('the pipeline from DESIGN.md loads with every gate parsed and paths resolved', async (t) => {
  const { dir, file } = await project(t, GOOD);
  const p = await loadPipeline(file);
  assert.equal(p.name, 'webapp');
  assert.equal(p.repository, `oci:${join(dir, '.promote/registry/webapp')}`);
  assert.deepEqual(p.trust.bundles, [{ key: 'keys/ci.pub' }]);
  assert.equal(p.ledger.repository, dir);
  assert.deepEqual(p.stages.map((s) => [s.name, s.from, s.promotion]), [['dev', undefined, 'auto'], ['staging', 'dev', 'manual'], ['production', 'staging', 'manual']]);
  const prod = p.stages[2]!;
  assert.deepEqual(prod.gates.map((g) => g.type), ['converged', 'soak', 'approval', 'window']);
  assert.deepEqual(prod.gates[1], { type: 'soak', duration: '1h', milliseconds: 3_600_000 });
  assert.deepEqual(prod.gates[2], { type: 'approval', count: 1, separateDuties: false });
  assert.deepEqual(prod.gates[3], { type: 'window', days: ['Mon', 'Tue', 'Wed', 'Thu'], start: 540, end: 960, hours: '09:00-16:00', timezone: 'Europe/Berlin' });
  assert.equal(prod.source.line, 15);
  assert.deepEqual(stageOrder(p).map((s) => s.name), ['dev', 'staging', 'production']);
  assert.equal(await findPipelineFile(dir), file);
  assert.equal(await findPipelineFile(dir, 'webapp'), file);
});

test('unknown environment, missing from, duplicate name and a cycle are all reported together with file:line', async (t) => {
  const { file } = await project(t, `apiVersion: promote/v1
kind: Pipeline
metadata: {name: webapp}
spec:
  repository: localhost:5000/acme/webapp
  stages:
    - {name: dev, environment: dev}
    - {name: staging, environment: stagin, from: dev}
    - {name: production, environment: production, from: stageing}
    - {name: dev, environment: dev}
    - {name: a, environment: dev, from: b}
    - {name: b, environment: dev, from: a}
`);
  const problems = await problemsOf(file);
  const byRule = (rule: string) => problems.filter((p) => p.rule === rule);
  assert.equal(problems.length, 4, JSON.stringify(problems, null, 1));
  const env = byRule('environment-exists')[0]!;
  assert.equal(env.line, 8);
  assert.equal(env.file, file);
  assert.match(env.message, /unknown environment "stagin"/);
  assert.match(env.hint!, /did you mean "staging"/);
  const from = byRule('graph-from-exists')[0]!;
  assert.equal(from.line, 9);
  assert.match(from.message, /comes from "stageing", which is not a stage/);
  assert.match(from.hint!, /did you mean "staging"/);
  const dup = byRule('unique')[0]!;
  assert.equal(dup.line, 10);
  assert.match(dup.hint!, /first "dev" is at line 7/);
  const cycle = byRule('graph-cycle')[0]!;
  assert.equal(cycle.line, 11);
  assert.match(cycle.message, /cycle: a ← b ← a/);
});

test('malformed gates are reported at their lines: bad duration, timezone, hours, approvals, unknown gate', async (t) => {
  const { file } = await project(t, `apiVersion: promote/v1
kind: Pipeline
metadata: {name: webapp}
spec:
  repository: localhost:5000/acme/webapp
  stages:
    - name: dev
      environment: dev
      gates: [{soak: 10m}]
    - name: production
      environment: production
      from: dev
      gates:
        - {soak: soon}
        - {window: {hours: "9-17", timezone: Europe/Berln}}
        - {approval: {count: 3, from: [alice]}}
        - {aproval: {count: 1}}
`);
  const problems = await problemsOf(file);
  const lines = problems.map((p) => `${p.line} ${p.rule}`).sort();
  // The JSON Schema finds the malformed values; the loader adds what a schema cannot know.
  assert.deepEqual(lines, ['14 pattern', '15 pattern', '15 required', '15 gate-window-timezone', '16 satisfiable', '17 additionalProperties', '9 gate-needs-from'].sort());
  assert.match(problems.find((p) => p.rule === 'additionalProperties')!.hint!, /did you mean "approval"/);
});

test('a document that is not a pipeline says what is missing', async (t) => {
  const { file } = await project(t, 'apiVersion: v1\nkind: Deployment\nspec: {}\n');
  const problems = await problemsOf(file);
  assert.deepEqual(problems.map((p) => p.pointer).sort(), ['/apiVersion', '/kind', '/metadata', '/spec/repository', '/spec/stages'].sort());
});

test('findPipelineFile asks which pipeline when there are several, and suggests near names', async (t) => {
  const { dir } = await project(t, GOOD);
  await writeFile(join(dir, 'pipelines', 'api.yaml'), GOOD);
  await assert.rejects(findPipelineFile(dir), (e: PromoteError) => e.code === 'PIPELINE_NOT_FOUND' && /api, webapp/.test(e.hint!));
  await assert.rejects(findPipelineFile(dir, 'webap'), (e: PromoteError) => /did you mean --pipeline webapp/.test(e.hint!));
});

test('separateDuties and from need trust.approvers: without it they are errors at their lines naming the fix; with it approver entries keep who holds each key', async (t) => {
  const gates = `  stages:
    - name: dev
      environment: dev
    - name: production
      environment: production
      from: dev
      gates:
        - {approval: {count: 1, separateDuties: true}}
        - {approval: {count: 1, from: [alex@example.com]}}
        - {approval: {count: 1}}
`;
  const { file } = await project(t, `apiVersion: promote/v1\nkind: Pipeline\nmetadata: {name: webapp}\nspec:\n  repository: localhost:5000/acme/webapp\n${gates}`);
  const problems = await problemsOf(file);
  assert.deepEqual(problems.map((p) => `${p.line} ${p.rule} ${p.pointer}`), ['13 approval-needs-approvers /spec/stages/1/gates/0/approval/separateDuties', '14 approval-needs-approvers /spec/stages/1/gates/1/approval/from']);
  assert.match(problems[0]!.message, /separateDuties needs signed approvals, and the pipeline has no trust.approvers/);
  assert.match(problems[0]!.hint!, /spec.trust.approvers \(e.g. approvers: \[keys\/alex.pub\]/);

  const signed = await project(t, `apiVersion: promote/v1\nkind: Pipeline\nmetadata: {name: webapp}\nspec:\n  repository: localhost:5000/acme/webapp\n  trust:\n    approvers: [keys/sam.pub, {key: keys/alex.pub, name: Alex, email: alex@example.com}, {keyless: {issuer: https://accounts.example.com, subject: kim@example.com}, name: Kim}]\n${gates}`);
  const pipeline = await loadPipeline(signed.file);
  assert.deepEqual(pipeline.trust.approvers, [{ key: 'keys/sam.pub' }, { key: 'keys/alex.pub', name: 'Alex', email: 'alex@example.com' }, { keyless: { issuer: 'https://accounts.example.com', subject: 'kim@example.com' }, name: 'Kim' }]);
});

test('converged refuses timeout (it never waited): an error at its line and pointer saying what to use instead, also beside schema errors', async (t) => {
  const pipeline = (extra: string) => `apiVersion: promote/v1
kind: Pipeline
metadata: {name: webapp}
spec:
  repository: localhost:5000/acme/webapp
  stages:
    - {name: dev, environment: dev${extra}}
    - name: staging
      environment: staging
      from: dev
      gates:
        - converged:
            timeout: 10m
`;
  const { file } = await project(t, pipeline(''));
  const problems = await problemsOf(file);
  assert.deepEqual(problems.map((p) => `${p.line} ${p.rule} ${p.pointer}`), ['13 gate-converged-timeout /spec/stages/1/gates/0/converged/timeout']);
  assert.match(problems[0]!.message, /converged has no timeout: .* never waits/);
  assert.match(problems[0]!.hint!, /remove timeout; promote run retries every --interval .* soak gate/);
  // A schema error elsewhere in the file does not hide it.
  const broken = await project(t, pipeline(', promotion: sometimes'));
  assert.deepEqual((await problemsOf(broken.file)).map((p) => `${p.line} ${p.rule}`), ['7 enum', '13 gate-converged-timeout']);
  // Without timeout the gate loads as before.
  const fine = await project(t, pipeline('').replace('        - converged:\n            timeout: 10m\n', '        - converged: {}\n'));
  assert.deepEqual((await loadPipeline(fine.file)).stages[1]!.gates, [{ type: 'converged' }]);
});
