import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPromoteError, type PromoteError } from '../../src/errors.ts';
import { loadPipeline } from '../../src/pipeline/load.ts';

// spec.notify in the pipeline loader: defaults, and each mistake at its pointer and line.

async function pipelineFile(t: { after(fn: () => Promise<void>): void }, notify: string) {
  const dir = await mkdtemp(join(tmpdir(), 'promote-notify-load-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'pipelines'));
  await mkdir(join(dir, 'environments'));
  await writeFile(join(dir, 'environments', 'dev.yaml'), 'apiVersion: promote/v1\nkind: Environment\nmetadata: {name: dev}\nspec: {parameters: {}}\n');
  const file = join(dir, 'pipelines', 'webapp.yaml');
  await writeFile(file, `apiVersion: promote/v1
kind: Pipeline
metadata: {name: webapp}
spec:
  repository: oci:./registry
  trust: {bundles: [keys/ci.pub], promotions: [keys/promoter.pub]}
${notify}
  stages:
    - {name: dev, environment: dev, promotion: auto}
`);
  return file;
}

async function problems(file: string) {
  try {
    await loadPipeline(file);
  } catch (err) {
    assert.ok(isPromoteError(err, 'PIPELINE_INVALID'), String(err));
    return (err as PromoteError).problems;
  }
  assert.fail('expected the pipeline to be refused');
}

test('spec.notify: format defaults to json, events to all; secretFrom kept as a reference', async (t) => {
  const p = await loadPipeline(await pipelineFile(t, `  notify:
    - webhook: {url: https://hooks.example/promote, secretFrom: {env: PROMOTE_WEBHOOK_SECRET}}
    - webhook: {url: "https://hooks.slack.com/services/T/B/X", format: slack, events: [refused, approval-requested]}`));
  assert.deepEqual(p.notify, [
    { webhook: { url: 'https://hooks.example/promote', format: 'json', secretFrom: { env: 'PROMOTE_WEBHOOK_SECRET' } } },
    { webhook: { url: 'https://hooks.slack.com/services/T/B/X', format: 'slack', events: ['refused', 'approval-requested'] } },
  ]);
  assert.equal((await loadPipeline(await pipelineFile(t, ''))).notify, undefined);
});

test('an unknown event name or format, a missing url and a secret written inline are refused at their pointers', async (t) => {
  const found = await problems(await pipelineFile(t, `  notify:
    - webhook: {url: https://hooks.example/a, format: teams}
    - webhook: {url: https://hooks.example/b, events: [promoted, promotd]}
    - webhook: {format: json}
    - webhook: {url: https://hooks.example/c, secretFrom: s3cr3t-inline}`));
  const at = (pointer: string) => found.filter((p) => p.pointer === pointer);
  assert.equal(at('/spec/notify/0/webhook/format').length, 1, JSON.stringify(found, null, 1));
  assert.equal(at('/spec/notify/0/webhook/format')[0]!.line, 8);
  assert.equal(at('/spec/notify/1/webhook/events/1').length, 1, JSON.stringify(found, null, 1));
  assert.ok(at('/spec/notify/2/webhook').length + at('/spec/notify/2/webhook/url').length >= 1, JSON.stringify(found, null, 1));
  assert.ok(found.some((p) => p.pointer?.startsWith('/spec/notify/3/webhook/secretFrom')), JSON.stringify(found, null, 1));
  // The inline "secret" is not echoed back in any problem.
  assert.ok(!JSON.stringify(found).includes('s3cr3t-inline'), JSON.stringify(found));
});

test('a refused webhook URL is never echoed: a Slack URL pasted without its scheme, with a leading space or another scheme keeps its secret path out of every problem and the message', async (t) => {
  const file = await pipelineFile(t, `  notify:
    - webhook: {url: hooks.slack.com/services/T000/B000/XXXXSECRET1, format: slack}
    - webhook: {url: " https://hooks.slack.com/services/T000/B000/XXXXSECRET2"}
    - webhook: {url: "ftp://u:PWSECRET3@hooks.example/XXXXSECRET3"}`);
  let err: unknown;
  try {
    await loadPipeline(file);
  } catch (e) {
    err = e;
  }
  assert.ok(isPromoteError(err, 'PIPELINE_INVALID'), String(err));
  const found = (err as PromoteError).problems ?? [];
  for (const i of [0, 1, 2]) assert.ok(found.some((p) => p.pointer === `/spec/notify/${i}/webhook/url`), JSON.stringify(found, null, 1));
  const shown = `${(err as PromoteError).message}\n${JSON.stringify(found)}\n${JSON.stringify((err as PromoteError).details ?? null)}`;
  assert.doesNotMatch(shown, /SECRET[123]/, shown);
});
