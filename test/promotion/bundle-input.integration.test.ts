// Issue 11 §5: the bundles a user names (`to --bundle`, `plan --bundle`, `approve`, `rollback
// --to`, `verify`) are taken as they were printed. Through the real CLI on the embedded defaults
// (an OCI layout, a local git ledger), in a project `promote init` wrote.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cleanEnv } from '../bundle/helpers.ts';
import { promote, type Run } from '../cli/run-promote.ts';

let base: string;
let dir: string;
let env: NodeJS.ProcessEnv;
let name: string;
/** The first bundle, as `promote push` printed it (`oci:./.promote/registry/<name>@sha256:…`). */
let printed: string;
let d1: string;
let d2: string;

const run = (args: string[], cwd = dir): Promise<Run> => promote(args, { cwd, env });
async function ok(args: string[], cwd = dir): Promise<Run> {
  const r = await run(args, cwd);
  assert.equal(r.code, 0, `promote ${args.join(' ')}: ${r.stderr}`);
  return r;
}
const KEY = ['--key', 'keys/promoter.key'];
// init lists keys/approver.pub in trust.approvers: approvals are signed with it.
const APPROVER_KEY = ['--key', 'keys/approver.key'];

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'promote-bundle-input-'));
  dir = join(base, 'shop');
  await mkdir(dir);
  name = 'shop';
  env = cleanEnv({
    NO_COLOR: '1',
    PROMOTE_PASSWORD: '',
    XDG_CACHE_HOME: join(base, '.cache'),
    GIT_AUTHOR_NAME: 'Pat', GIT_AUTHOR_EMAIL: 'pat@example.com', GIT_COMMITTER_NAME: 'Pat', GIT_COMMITTER_EMAIL: 'pat@example.com',
  });
  await ok(['init', '.', '--name', name]);
  const pushed = await ok(['push', `bundles/${name}`, `oci:./.promote/registry/${name}`, '--sign', '--key', 'keys/ci.key']);
  printed = pushed.stdout.trim();
  assert.match(printed, /^oci:\.\/\.promote\/registry\/shop@sha256:[0-9a-f]{64}$/, 'push prints the reference relative to the working directory');
  d1 = printed.slice(printed.indexOf('@') + 1);
  await writeFile(join(dir, 'bundles', name, 'manifests', 'extra.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra, namespace: "${params.namespace}"}\ndata: {variant: "2"}\n');
  const second = await ok(['push', `bundles/${name}`, `oci:./.promote/registry/${name}:v2`, '--sign', '--key', 'keys/ci.key']);
  d2 = /sha256:[0-9a-f]{64}/.exec(second.stdout)![0];
});
after(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('bundles named as promote printed them (CLI, OCI layout, git ledger)', () => {
  it('to --bundle takes the oci: reference push printed, relative to the working directory (and from another directory)', async () => {
    const first = await ok(['to', 'dev', '--bundle', printed, ...KEY]);
    assert.match(first.stdout, new RegExp(`^promoted ${d1} to dev\\n`));
    // From a sub-directory the same layout is spelt relative to there, the pipeline file by path:
    // each is resolved against its own base (the caller's cwd; the pipeline file's directory).
    const sub = join(dir, 'bundles');
    const again = await ok(['plan', 'dev', '--pipeline', `../pipelines/${name}.yaml`, '--bundle', `oci:../.promote/registry/${name}@${d1}`, '--no-diff', '--output', 'json'], sub);
    assert.equal(JSON.parse(again.stdout).candidate, d1);
    assert.equal(JSON.parse(again.stdout).upToDate, true);
    // A layout that really is another one is still refused, and the message shows where it points.
    const other = await run(['plan', 'dev', '--bundle', `oci:./elsewhere@${d1}`]);
    assert.equal(other.code, 2);
    assert.match(other.stderr, new RegExp(`error: oci:\\./elsewhere@${d1} \\(oci:${dir}/elsewhere\\) is not in oci:${dir}/\\.promote/registry/${name}`));
  });

  it('a 12-digit digest as status prints it (with or without sha256:) names the bundle for plan, to, approve and rollback --to', async () => {
    await ok(['to', 'dev', '--bundle', d1, ...KEY]); // (already done by the test above when it passed)
    const status = await ok(['status']);
    const short = new RegExp(`^dev\\s+dev-1\\s+([0-9a-f]{12})\\s`, 'm').exec(status.stdout)?.[1];
    assert.equal(short, d1.slice(7, 19), status.stdout);

    const plan = await run(['plan', 'staging', '--bundle', short!, '--no-diff', '--output', 'json']);
    assert.equal(JSON.parse(plan.stdout).candidate, d1, plan.stderr);
    const approved = await ok(['approve', 'production', `sha256:${short}`, ...APPROVER_KEY, '--output', 'json']);
    assert.equal(JSON.parse(approved.stdout).bundle, d1);

    await ok(['to', 'dev', '--bundle', d2.slice(0, 19), ...KEY]);
    const back = await ok(['rollback', 'dev', '--to', d1.slice(0, 19), ...KEY, '--output', 'json']);
    assert.equal(JSON.parse(back.stdout).bundle, d1);
    assert.equal(JSON.parse(back.stdout).action, 'rollback');
  });

  it('a prefix that names nothing, or is too short, is a usage error that says so', async () => {
    const none = await run(['to', 'dev', '--bundle', 'sha256:000000000000', ...KEY]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, new RegExp(`error: no bundle in oci:${dir}/\\.promote/registry/${name} has a digest starting sha256:000000000000 \\(looked in the ledger of dev and the tags of the repository\\)\\nhint: use the full digest`));
    const tooShort = await run(['approve', 'production', 'sha256:' + d1.slice(7, 13), ...APPROVER_KEY, '--output', 'json']);
    assert.equal(tooShort.code, 2);
    assert.equal(JSON.parse(tooShort.stdout).error.code, 'DIGEST_TOO_SHORT');
    const rollback = await run(['rollback', 'dev', '--to', 'f'.repeat(12), ...KEY]);
    assert.equal(rollback.code, 2, rollback.stderr);
    assert.match(rollback.stderr, /no bundle in .* has a digest starting/);
  });

  it('a digest that does not exist is "not in the repository", not "has no signature … sign it" (to, plan, verify)', async () => {
    const missing = `sha256:${'0'.repeat(64)}`;
    const to = await run(['to', 'dev', '--bundle', missing, ...KEY, '--output', 'json']);
    assert.equal(to.code, 2, to.stdout);
    const error = JSON.parse(to.stdout).error;
    assert.equal(error.code, 'BUNDLE_NOT_FOUND');
    assert.match(error.message, new RegExp(`bundle ${missing} is not in oci:${dir}/\\.promote/registry/${name}`));
    assert.doesNotMatch(to.stdout, /sign it|no signature/);
    const plan = await run(['plan', 'dev', '--bundle', missing, '--no-diff']);
    assert.equal(plan.code, 2);
    assert.match(plan.stdout, /FAIL {2}signature: bundle sha256:0{64} is not in oci:/);
    const verify = await run(['verify', `oci:./.promote/registry/${name}@${missing}`, '--key', 'keys/ci.pub']);
    assert.equal(verify.code, 2, verify.stderr);
    assert.match(verify.stderr, new RegExp(`^error: bundle ${missing} is not in oci:${dir}/\\.promote/registry/${name}\\n`));
    assert.doesNotMatch(verify.stderr, /no signature|sign it/);
    // An existing bundle nobody signed still says exactly that.
    await writeFile(join(dir, 'bundles', name, 'manifests', 'extra.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\ndata: {variant: "3"}\n');
    const unsigned = /sha256:[0-9a-f]{64}/.exec((await ok(['push', `bundles/${name}`, `oci:./.promote/registry/${name}:v3`])).stdout)![0];
    const refused = await run(['verify', `oci:./.promote/registry/${name}@${unsigned}`, '--key', 'keys/ci.pub']);
    assert.equal(refused.code, 4);
    assert.match(refused.stderr, /has no signature/);
  });
});
