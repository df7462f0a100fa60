import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempDir } from '../bundle/helpers.ts';
import { buildBinary } from '../../scripts/build-binary.ts';
import { imageContext } from '../../scripts/image-context.ts';
import { finalInstruction, missingSources, parseDockerfile, stagesBuilt } from '../deploy/dockerfile.ts';

// The single executable (npm run build:binary), built into a temp dir and run the way a CI job or
// the agent image runs it: from a directory with no promote files, with a PATH that has git but
// no node. Every file it reads at run time must be embedded (src/assets.ts).

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

test('the single executable runs init, validate, demo and the agent with no Node on PATH', { timeout: 300_000 }, async () => {
  await using tmp = await tempDir('promote-binary-');
  const binary = join(tmp.path, 'out', 'promote-linux-x64');
  const built = await buildBinary(binary, join(tmp.path, 'sea'));

  // A PATH holding only git: `node` must not be found there.
  const bin = join(tmp.path, 'bin');
  await mkdir(bin);
  const { stdout: git } = await run('sh', ['-c', 'command -v git']);
  await symlink(git.trim(), join(bin, 'git'));
  const home = join(tmp.path, 'home');
  await mkdir(home);
  const env = { PATH: bin, HOME: home, PROMOTE_PASSWORD: 'binary-test', NO_COLOR: '1' };
  await assert.rejects(run('sh', ['-c', 'command -v node'], { env: { PATH: bin } }), 'no node on this PATH');
  const work = join(tmp.path, 'work');
  await mkdir(work);
  const promote = (args: string[], cwd = work) => run(binary, args, { cwd, env, maxBuffer: 16 * 1024 * 1024 });

  const version = JSON.parse((await promote(['version', '--output', 'json'])).stdout);
  assert.equal(version.runtime, 'binary');
  assert.equal(version.node, process.version, 'the Node of the node devDependency is inside');
  const { version: pkgVersion } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
  assert.equal(version.version, pkgVersion);
  const head = await run('git', ['-C', root, 'rev-parse', 'HEAD']).then((r) => r.stdout.trim(), () => 'unknown');
  assert.equal(version.commit, head, 'the commit stamped at build time');

  await promote(['init', 'shop']);
  const validated = await promote(['validate'], join(work, 'shop'));
  assert.match(validated.stdout, /pipeline pipelines\/shop\.yaml: valid/);
  const demo = JSON.parse((await promote(['demo', '--project', 'shop', '--output', 'json'])).stdout);
  assert.equal(demo.releases.length, 2);
  assert.ok(demo.status.every((row: { phase: string }) => row.phase === 'Converged'), JSON.stringify(demo.status));
  const agentHelp = await promote(['agent', '--help']);
  assert.match(agentHelp.stdout, /^Usage:\n  promote agent/m);

  // The agent image's binary context: what the Dockerfile copies is there; its entrypoint runs.
  const ctx = join(tmp.path, 'ctx');
  imageContext({ from: 'binary', out: ctx, binary });
  const df = parseDockerfile(await readFile(join(ctx, 'Dockerfile'), 'utf8'));
  assert.deepEqual(missingSources(stagesBuilt(df), ctx), []);
  const [program, ...args] = JSON.parse(finalInstruction(df, 'ENTRYPOINT')!) as string[];
  assert.equal(program, '/usr/local/bin/promote');
  const entry = await run(join(ctx, 'promote-linux-x64'), [...args, '--help'], { env });
  assert.match(entry.stdout, /^Usage:\n  promote agent/m);
  assert.ok(built.bundleBytes < 16 * 2 ** 20, `bundled script ${built.bundleBytes} bytes`);
});
