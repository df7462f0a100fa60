// The dir target's health check (--health-exec, DirTarget `health`): real child processes, a
// real directory; once through the real CLI agent on the embedded defaults.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { DesiredState } from '../../src/agent/target.ts';
import { HEALTH_CHECK_ID, OUTPUT_CAP_BYTES, splitCommand } from '../../src/agent/targets/dir-health.ts';
import { DirTarget } from '../../src/agent/targets/dir-target.ts';
import { cleanEnv } from '../bundle/helpers.ts';
import { promote } from '../cli/run-promote.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'promote-dir-health-'));
  dirs.push(d);
  return d;
}
function desired(files: Record<string, string>): DesiredState {
  return {
    owner: { pipeline: 'webapp', stage: 'dev', cluster: 'dev-1' },
    recordDigest: 'sha256:r1',
    bundleDigest: 'sha256:b1',
    files: Object.entries(files).map(([path, text]) => ({ path, content: Buffer.from(text) })),
  };
}
async function applied(target: DirTarget, d: DesiredState) {
  const a = await target.apply(d);
  await target.prune(d, a.set);
  return a.set;
}
const sh = (script: string, timeoutMs?: number) => ({ argv: ['sh', '-c', script], ...(timeoutMs !== undefined && { timeoutMs }) });

describe('dir target health check', () => {
  it('is Healthy when the command exits 0, run in the directory with the PROMOTE_* variables and not the agent environment', async () => {
    const root = await tempDir();
    process.env.PROMOTE_TEST_SECRET = 'hunter2';
    try {
      const target = new DirTarget(root, { health: sh('test "$PWD" = "$PROMOTE_TARGET_DIR" && grep -q ready app.conf && test "$PROMOTE_BUNDLE $PROMOTE_RECORD $PROMOTE_CLUSTER" = "sha256:b1 sha256:r1 dev-1" && test -z "$PROMOTE_TEST_SECRET"') });
      const d = desired({ 'app.conf': 'state: ready\n' });
      const h = await target.health(d, await applied(target, d), { timeoutMs: 0 });
      assert.equal(h.healthy, true, JSON.stringify(h.objects));
      assert.deepEqual(h.objects.find((o) => o.id === HEALTH_CHECK_ID)?.health, 'Healthy');
    } finally {
      delete process.env.PROMOTE_TEST_SECRET;
    }
  });

  it('retries a failing command within the timeout and is Healthy once it passes', async () => {
    const root = await tempDir();
    // Fails twice, then passes: a counter file outside the target.
    const counter = join(await tempDir(), 'n');
    const target = new DirTarget(root, { health: sh(`n=$(cat ${counter} 2>/dev/null || echo 0); echo $((n+1)) > ${counter}; [ "$n" -ge 2 ]`) });
    const d = desired({ 'a.txt': 'a' });
    const h = await target.health(d, await applied(target, d), { timeoutMs: 5000, pollMs: 50 });
    assert.equal(h.healthy, true, JSON.stringify(h.objects));
  });

  it('is Degraded (HealthCheckFailed) after the timeout, with the last output lines and the exit code', async () => {
    const root = await tempDir();
    const target = new DirTarget(root, { health: sh('echo starting; echo "config error: listen 80 in use" >&2; exit 3') });
    const d = desired({ 'a.txt': 'a' });
    const set = await applied(target, d);
    const t0 = Date.now();
    const h = await target.health(d, set, { timeoutMs: 400, pollMs: 50 });
    assert.ok(Date.now() - t0 >= 350, 'it waited out the timeout');
    assert.equal(h.healthy, false);
    const check = h.objects.find((o) => o.id === HEALTH_CHECK_ID)!;
    assert.deepEqual([check.health, check.reason], ['Degraded', 'HealthCheckFailed']);
    assert.match(check.message!, /exited 3 \(\d+ runs over \d+s\): starting \| config error: listen 80 in use$/);
  });

  it('kills a hanging command (and its children) at its own timeout: Degraded, HealthCheckTimeout', async () => {
    const root = await tempDir();
    const target = new DirTarget(root, { health: sh('echo waiting; sleep 30', 300) });
    const d = desired({ 'a.txt': 'a' });
    const set = await applied(target, d);
    const t0 = Date.now();
    const h = await target.health(d, set, { timeoutMs: 0 });
    assert.ok(Date.now() - t0 < 5000, `killed, not waited for (${Date.now() - t0} ms)`);
    const check = h.objects.find((o) => o.id === HEALTH_CHECK_ID)!;
    assert.deepEqual([check.health, check.reason], ['Degraded', 'HealthCheckTimeout']);
    assert.match(check.message!, /was killed after 0\.3s: waiting$/);
  });

  it('caps the output it keeps and puts only the last lines, each cut short, in the message', async () => {
    const root = await tempDir();
    // 1 MiB of output, then three long lines.
    const target = new DirTarget(root, { health: sh(`head -c 1048576 /dev/zero | tr '\\0' x; echo; for i in 1 2 3 4; do printf "line$i %0300d\\n" 0; done; exit 1`) });
    const d = desired({ 'a.txt': 'a' });
    const h = await target.health(d, await applied(target, d), { timeoutMs: 0 });
    const message = h.objects.find((o) => o.id === HEALTH_CHECK_ID)!.message!;
    assert.ok(message.length < 1000, `message is ${message.length} chars`);
    assert.ok(OUTPUT_CAP_BYTES < 1048576);
    assert.match(message, /: line2 0+… \| line3 0+… \| line4 0+…$/);
    assert.doesNotMatch(message, /line1|xxx/);
  });

  it('splits a command into words as a shell would, without running one', () => {
    assert.deepEqual(splitCommand(`grep -q 'state: ready' "app conf" a\\ b $HOME`), ['grep', '-q', 'state: ready', 'app conf', 'a b', '$HOME']);
    assert.throws(() => splitCommand("sh -c 'x"), /unterminated/);
    assert.throws(() => splitCommand('  '), /needs a command/);
  });

  it('promote agent --once --health-exec: Degraded with the check\'s message in --output json, exit 1; refused on kubernetes', async () => {
    const dir = await tempDir();
    const env = cleanEnv({ NO_COLOR: '1', PROMOTE_PASSWORD: '', XDG_CACHE_HOME: join(dir, '.cache'), GIT_AUTHOR_NAME: 'Pat', GIT_AUTHOR_EMAIL: 'pat@example.com', GIT_COMMITTER_NAME: 'Pat', GIT_COMMITTER_EMAIL: 'pat@example.com' });
    const ok = async (...args: string[]) => {
      const r = await promote(args, { cwd: dir, env });
      assert.equal(r.code, 0, `promote ${args.join(' ')}: ${r.stderr}`);
      return r;
    };
    await ok('init', '.');
    const name = dir.split('/').pop()!.toLowerCase().replace(/[^a-z0-9-]/g, '-');
    const pushed = await ok('push', `bundles/${name}`, `oci:.promote/registry/${name}:0.1.0`, '--sign', '--key', 'keys/ci.key');
    await ok('to', 'dev', '--bundle', /sha256:[0-9a-f]{64}/.exec(pushed.stdout)![0], '--key', 'keys/promoter.key');
    await writeFile(join(dir, 'check.sh'), 'echo "checking $PROMOTE_CLUSTER"\ngrep -q "no-such-text" manifests/deployment.yaml || { echo "deployment.yaml: not ready"; exit 2; }\n');
    const args = ['agent', '--stage', 'dev', '--cluster', 'dev-1', '--target', 'dir:.promote/clusters/dev-1', '--once', '--key', 'keys/agent.key', '--output', 'json', '--health-timeout', '0s', '--health-exec', `sh ${join(dir, 'check.sh')}`];
    const r = await promote(args, { cwd: dir, env });
    assert.equal(r.code, 1, r.stderr);
    const status = JSON.parse(r.stdout) as { phase: string; reason: string; message: string };
    assert.deepEqual([status.phase, status.reason], ['Degraded', 'HealthCheckFailed'], status.message);
    assert.match(status.message, /health-exec: health check `sh \S+check.sh` exited 2: checking dev-1 \| deployment.yaml: not ready/);

    const k8s = await promote(['agent', '--stage', 'dev', '--cluster', 'dev-1', '--target', 'kubernetes', '--once', '--health-exec', 'true'], { cwd: dir, env });
    assert.equal(k8s.code, 2, k8s.stderr);
    assert.match(k8s.stderr, /--health-exec is for dir: targets/);
  });
});
