// The dir target on a shared directory, through the real CLI on the embedded defaults
// (docs/agent.md "Ownership"): a file the agent did not write is never overwritten or deleted
// (Failed/Conflict) unless --adopt; a kill -9 mid-apply leaves temp files that the next round
// removes, while a live writer's are kept; a full disk leaves the target exactly as it was.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BIN, cleanEnv } from '../bundle/helpers.ts';
import { promote } from '../cli/run-promote.ts';

const dirs: string[] = [];
const mounts: string[] = [];
after(async () => {
  for (const m of mounts) spawnSync('umount', [m]);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

let dir: string;
let name: string;
let env: NodeJS.ProcessEnv;

async function run(...args: string[]) {
  return await promote(args, { cwd: dir, env });
}

async function ok(...args: string[]) {
  const r = await run(...args);
  assert.equal(r.code, 0, `promote ${args.join(' ')}: ${r.stderr}`);
  return r;
}

/** Pushes a variant of the project's bundle (changed by `edit`) and promotes it to dev. */
async function promoteVariant(tag: string, edit: (bundleDir: string) => Promise<void>): Promise<void> {
  const src = join(dir, 'variants', tag);
  await cp(join(dir, 'bundles', name), src, { recursive: true });
  await edit(src);
  const pushed = await ok('push', relative(dir, src), `oci:.promote/registry/${name}:${tag}`, '--sign', '--key', 'keys/ci.key');
  const digest = /sha256:[0-9a-f]{64}/.exec(pushed.stdout)![0];
  await ok('to', 'dev', '--bundle', digest, '--key', 'keys/promoter.key');
}

function agentArgs(target: string, ...extra: string[]): string[] {
  return ['agent', '--stage', 'dev', '--cluster', 'dev-1', '--target', `dir:${target}`, '--once', '--key', 'keys/agent.key', ...extra];
}

async function agent(target: string, ...extra: string[]) {
  const r = await run(...agentArgs(target, ...extra));
  const log = JSON.parse(r.stderr.trim().split('\n').at(-1)!) as { phase: string; reason: string; message: string };
  return { ...r, log };
}

async function tree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) out[relative(root, join(entry.parentPath, entry.name))] = await readFile(join(entry.parentPath, entry.name), 'utf8');
  }
  return out;
}

const temps = (t: Record<string, string>) => Object.keys(t).filter((p) => p.includes('promote-tmp'));
const inventory = async (root: string) => JSON.parse(await readFile(join(root, '.promote-inventory.json'), 'utf8')) as { files: Record<string, string>; pending?: unknown };

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'promote-dir-ownership-'));
  dirs.push(dir);
  env = cleanEnv({
    NO_COLOR: '1',
    PROMOTE_PASSWORD: '',
    XDG_CACHE_HOME: join(dir, '.cache'),
    GIT_AUTHOR_NAME: 'Pat', GIT_AUTHOR_EMAIL: 'pat@example.com', GIT_COMMITTER_NAME: 'Pat', GIT_COMMITTER_EMAIL: 'pat@example.com',
  });
  await ok('init', '.');
  name = dir.split('/').pop()!.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  await promoteVariant('v1', async () => {});
});

describe('the dir target owns only what it wrote (CLI)', () => {
  it('never overwrites or prunes a file that was there before it (Failed/Conflict, the rest applied); --adopt takes it over and says so', async () => {
    const target = join(dir, 'shared');
    await mkdir(join(target, 'manifests'), { recursive: true });
    const handMade = '# hand-made, not from the bundle\nkind: Service\n';
    await writeFile(join(target, 'manifests/service.yaml'), handMade);
    await writeFile(join(target, 'notes.txt'), 'someone else\n');

    for (let round = 0; round < 2; round++) {
      const first = await agent(target);
      assert.equal(first.code, 1, first.stderr);
      assert.equal(first.log.phase, 'Failed');
      assert.equal(first.log.reason, 'Conflict');
      assert.match(first.stdout, /^Failed: 1 object could not be applied: manifests\/service\.yaml exists and was not written by this agent .*--adopt/);
      assert.equal(await readFile(join(target, 'manifests/service.yaml'), 'utf8'), handMade, 'the foreign file is untouched');
      assert.match(await readFile(join(target, 'manifests/deployment.yaml'), 'utf8'), /kind: Deployment/, 'the rest of the render is applied');
      assert.deepEqual(Object.keys((await inventory(target)).files).sort(), ['manifests/deployment.yaml', 'manifests/namespace.yaml'], 'and is all the inventory owns');
    }
    const shown = JSON.parse((await ok('status', '--output', 'json')).stdout) as { clusters: { cluster: string; observed?: { phase: string; reason?: string } }[] };
    const observed = shown.clusters.find((c) => c.cluster === 'dev-1')?.observed;
    assert.deepEqual([observed?.phase, observed?.reason], ['Failed', 'Conflict'], 'the signed status report says so');

    // Same bytes as the bundle's are no proof of ownership: a file the inventory does not list is foreign.
    const copy = join(dir, 'copy');
    await mkdir(join(copy, 'manifests'), { recursive: true });
    const rendered = await readFile(join(target, 'manifests/deployment.yaml'), 'utf8');
    await writeFile(join(copy, 'manifests/deployment.yaml'), rendered);
    const fooled = await agent(copy);
    assert.equal(fooled.log.reason, 'Conflict');
    assert.match(fooled.stdout, /manifests\/deployment\.yaml exists and was not written by this agent/);

    // Told to adopt: the file is taken over, and the signed report says which.
    const adopted = await agent(`${target}?adopt=true`, '--output', 'json');
    assert.equal(adopted.code, 0, adopted.stderr);
    const status = JSON.parse(adopted.stdout) as { phase: string; message: string; objects: { notable: { id: string; reason?: string }[] } };
    assert.equal(status.phase, 'Converged');
    assert.match(status.message, /adopted 1 existing object: manifests\/service\.yaml/);
    assert.deepEqual(status.objects.notable.filter((n) => n.reason === 'Adopted').map((n) => n.id), ['manifests/service.yaml']);
    assert.match(await readFile(join(target, 'manifests/service.yaml'), 'utf8'), /kind: Service\nmetadata:/);

    // A human edit of an owned file is drift (corrected), not a foreign file: no --adopt needed.
    await writeFile(join(target, 'manifests/service.yaml'), 'edited: by hand\n');
    const healed = await agent(target);
    assert.equal(healed.code, 0, healed.stderr);
    assert.equal(healed.log.reason, 'DriftCorrected');

    // The copy's foreign file survives a bundle that drops it, and so do files never rendered.
    await promoteVariant('v2-no-deployment', async (b) => rm(join(b, 'manifests/deployment.yaml')));
    const dropped = await agent(copy);
    assert.equal(dropped.code, 0, dropped.stderr);
    assert.equal(await readFile(join(copy, 'manifests/deployment.yaml'), 'utf8'), rendered, 'a foreign file is never pruned');
    const prunedOwn = await agent(target);
    assert.equal(prunedOwn.code, 0, prunedOwn.stderr);
    assert.deepEqual(Object.keys(await tree(target)).sort(), ['.promote-inventory.json', 'manifests/namespace.yaml', 'manifests/service.yaml', 'notes.txt'], 'an owned file is pruned; notes.txt stays');
  });

  it('kill -9 mid-apply: the next round removes the dead writer\'s temp files, but never a live writer\'s', async () => {
    await promoteVariant('v3-many', async (b) => {
      for (let i = 0; i < 300; i++) {
        await writeFile(join(b, 'manifests', `cm-${i}.yaml`), `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${i}\n  namespace: \${params.namespace}\ndata:\n  n: "${i}"\n`);
      }
    });
    const target = join(dir, 'replicas');
    // Replica B (an old pod during a rollout) is stopped while its temp files are on disk.
    const b = spawn(process.execPath, [BIN, ...agentArgs(target)], { cwd: dir, env, stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => b.once('exit', () => resolve()));
    const caught = await stopWhenTemp(b, join(target, 'manifests'));
    assert.ok(caught, 'replica B finished before it could be stopped mid-apply');
    const left = temps(await tree(target));
    assert.ok(left.length > 0);

    // Replica A converges the same directory; B is alive (stopped), so its temp files stay.
    const a = await agent(target);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.log.phase, 'Converged');
    assert.deepEqual(temps(await tree(target)), left, "a live writer's temp files are not removed");

    // B is killed (-9, no cleanup runs). A's next round has nothing to apply, and still cleans up.
    b.kill('SIGKILL');
    await exited;
    const next = await agent(target);
    assert.equal(next.code, 0, next.stderr);
    const final = await tree(target);
    assert.deepEqual(temps(final), [], 'no temp file outlives its dead writer');
    assert.equal(Object.keys(final).filter((p) => p.startsWith('manifests/cm-')).length, 300);
  });

  it('a full disk leaves the target as it was (old files, no temp files) and reports Failed with the reason', async () => {
    await promoteVariant('v4', async () => {});
    const small = join(dir, 'small');
    await mkdir(small);
    // A real full disk where this process may mount a 1 MiB tmpfs (root); elsewhere a file size
    // limit (ulimit -f: EFBIG), which fails the same write the same way.
    const tmpfs = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small]).status === 0;
    if (tmpfs) mounts.push(small);
    const target = join(small, 'target');
    const converged = await agent(target);
    assert.equal(converged.code, 0, converged.stderr);
    const before = await tree(target);

    await promoteVariant('v5-big', async (b) => {
      const big = 'x'.repeat(64 * 1024);
      await writeFile(join(b, 'manifests', 'zz-big.yaml'), `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\n  namespace: \${params.namespace}\ndata:\n${Array.from({ length: 24 }, (_, i) => `  k${i}: ${big}\n`).join('')}`);
      const svc = join(b, 'manifests', 'service.yaml');
      await writeFile(svc, (await readFile(svc, 'utf8')).replace('port: 80', 'port: 8080'));
    });
    let full;
    if (tmpfs) {
      full = await agent(target);
    } else {
      // The bundle cache is written by the same process: fill it first, outside the limit.
      await ok(...agentArgs(join(dir, 'warm-cache')));
      full = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn('sh', ['-c', `ulimit -f 1024; exec "$0" "$@"`, process.execPath, BIN, ...agentArgs(target)], { cwd: dir, env });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      }).then((r) => ({ ...r, log: JSON.parse(r.stderr.trim().split('\n').at(-1)!) as { phase: string; reason: string; message: string } }));
    }
    assert.equal(full.code, 1, full.stderr);
    assert.equal(full.log.phase, 'Failed');
    assert.equal(full.log.reason, 'WriteFailed');
    assert.match(full.log.message, tmpfs ? /no space left on device \(ENOSPC\); nothing in .* was changed/ : /EFBIG.*; nothing in .* was changed/);
    assert.deepEqual(await tree(target), before, 'every old file intact, no new file, no temp file, the same inventory');
  });
});

/** Polls `dir` until a promote temp file appears, then SIGSTOPs `child`; false if it exited first. */
async function stopWhenTemp(child: ChildProcess, watched: string): Promise<boolean> {
  let gone = false;
  child.once('exit', () => (gone = true));
  while (!gone) {
    const names = await readdir(watched).catch(() => [] as string[]);
    if (names.some((n) => n.endsWith('.promote-tmp'))) {
      child.kill('SIGSTOP');
      return true;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  return false;
}
