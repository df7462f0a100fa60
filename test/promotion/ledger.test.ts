import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { isPromoteError, type PromoteError } from '../../src/errors.ts';
import { approvalMutation, holdMutation, promotionMutation } from '../../src/promotion/changes.ts';
import { GitLedger } from '../../src/promotion/ledger.ts';
import { recordDigest } from '../../src/records/promotion-record.ts';
import type { StageState } from '../../src/promotion/stage-file.ts';
import { testRecord } from './fixtures/record.ts';
import { bareRemote, git, isolatedEnv, localRepo } from './git-env.ts';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const D3 = `sha256:${'3'.repeat(64)}`;
const PAT = { name: 'Pat', email: 'pat@example.com' };

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'promote-ledger-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('a local ledger: one commit per promotion with trailers and the promoter as author; the checked-out file follows', async (t) => {
  const dir = await tempDir(t);
  const env = isolatedEnv(dir, PAT);
  const repo = await localRepo(dir, env);
  const ledger = await GitLedger.open({ repository: repo }, { env });
  assert.equal(ledger.branchName, 'main');
  assert.equal(ledger.remote, undefined);
  const first = testRecord({ digest: D1 });
  const r1 = await ledger.update('webapp', 'production', promotionMutation(first));
  assert.equal(r1?.attempts, 1);
  const second = testRecord({ digest: D2, sequence: 2, previous: recordDigest(first), force: { reason: 'INC-1' } });
  await ledger.update('webapp', 'production', promotionMutation(second));

  const state = (await ledger.read('webapp', 'production'))!;
  assert.equal(state.record?.bundle.digest, D2);
  assert.equal(state.recordDigest, recordDigest(second));
  // The user's working tree and index show the new file, not a phantom revert.
  const onDisk = parseYaml(await readFile(join(repo, 'promotions/webapp/production.yaml'), 'utf8')) as StageState;
  assert.equal(onDisk.recordDigest, recordDigest(second));
  assert.equal(git(repo, env, 'status', '--porcelain'), '');

  const log = git(repo, env, 'log', '-1', '--format=%an <%ae>%n%B');
  assert.match(log, /^Pat <pat@example.com>\npromote webapp\/production: sha256:222222222222 from staging\n/);
  assert.match(log, new RegExp(`Promoted-Bundle: ${D2}\nPromoted-From: staging\nPromotion-Record: ${recordDigest(second)}\nGate-Evidence: converged: pass — 2/2 clusters of staging Converged\nForced-Reason: INC-1\nPrevious-Record: ${recordDigest(first)}`));
  const history = await ledger.history('webapp', 'production');
  assert.deepEqual(history.map((h) => [h.action, h.trailers['Promoted-Bundle']?.[0], h.author]), [['promotion', D2, 'Pat <pat@example.com>'], ['promotion', D1, 'Pat <pat@example.com>']]);
  assert.deepEqual(history.map((h) => h.commit), git(repo, env, 'log', '--format=%H', '--', 'promotions/webapp/production.yaml').trim().split('\n'));
});

test('compare-and-swap: a promotion planned on a stale record is refused (exit 3) with who moved the stage', async (t) => {
  const dir = await tempDir(t);
  const env = isolatedEnv(dir, PAT);
  const remote = await bareRemote(dir, env);
  const alice = await GitLedger.open({ repository: remote, branch: 'main' }, { env, cacheDir: join(dir, 'cache-a') });
  const bob = await GitLedger.open({ repository: remote, branch: 'main' }, { env: isolatedEnv(dir, { name: 'Bob', email: 'bob@example.com' }), cacheDir: join(dir, 'cache-b') });
  await alice.update('webapp', 'production', promotionMutation(testRecord({ digest: D1 })));
  await bob.refresh();
  const base = (await bob.read('webapp', 'production'))!;
  // Alice moves the stage on; Bob still plans on D1's record.
  await alice.update('webapp', 'production', promotionMutation(testRecord({ digest: D2, sequence: 2, previous: base.recordDigest!, promotedBy: 'Alice <alice@example.com>' })));
  const stale = testRecord({ digest: D3, sequence: 2, previous: base.recordDigest! });
  await assert.rejects(bob.update('webapp', 'production', promotionMutation(stale)), (err: PromoteError) => {
    assert.equal(err.code, 'LEDGER_STAGE_MOVED');
    assert.equal(err.exitCode, 3);
    assert.match(err.message, new RegExp(`now holds ${D2} \\(promotion by Alice <alice@example.com>`));
    return true;
  });
  const history = await bob.history('webapp', 'production');
  assert.deepEqual(history.map((h) => h.trailers['Promoted-Bundle']?.[0]), [D2, D1]);
});

test('compare-and-swap: when another stage moved first, the commit is rebuilt on the new tip (no merge, nothing lost)', async (t) => {
  const dir = await tempDir(t);
  const env = isolatedEnv(dir, PAT);
  const remote = await bareRemote(dir, env);
  const a = await GitLedger.open({ repository: remote, branch: 'main' }, { env, cacheDir: join(dir, 'cache-a') });
  const b = await GitLedger.open({ repository: remote, branch: 'main' }, { env, cacheDir: join(dir, 'cache-b') });
  await a.update('webapp', 'staging', promotionMutation(testRecord({ digest: D1, stage: 'staging', from: 'dev' })));
  await b.refresh();
  await a.update('webapp', 'dev', approvalMutation('webapp', 'dev', { bundle: D1, by: 'Ann <ann@example.com>', at: '2026-03-30T10:00:00Z' }));
  let seen = 0;
  const result = await b.update('webapp', 'production', (current, attempt) => {
    seen = attempt;
    return promotionMutation(testRecord({ digest: D1 }))(current, attempt, undefined);
  });
  // b built its first commit on the tip it had fetched; the remote refused the push (a moved
  // on), so b fetched, re-ran the mutation on the new state and pushed on top.
  assert.equal(result?.attempts, 2);
  assert.equal(seen, 2);
  assert.equal(git(remote, env, 'rev-list', '--count', 'main').trim(), '3');
  assert.equal(git(remote, env, 'rev-list', '--merges', '--count', 'main').trim(), '0', 'no merge commits');
  assert.equal((await a.read('webapp', 'dev'))?.approvals.length, 1);
});

test('approvals are idempotent per person and bundle; hold and release are commits too', async (t) => {
  const dir = await tempDir(t);
  const env = isolatedEnv(dir, PAT);
  const ledger = await GitLedger.open({ repository: await localRepo(dir, env) }, { env });
  const approval = { bundle: D1, by: 'Ann <ann@example.com>', at: '2026-03-30T10:00:00Z' };
  assert.ok(await ledger.update('webapp', 'production', approvalMutation('webapp', 'production', approval)));
  assert.equal(await ledger.update('webapp', 'production', approvalMutation('webapp', 'production', { ...approval, at: 'later' })), undefined);
  await ledger.update('webapp', 'production', holdMutation('webapp', 'production', true, 'Pat <pat@example.com>', '2026-03-30T11:00:00Z', 'freeze'));
  await assert.rejects(ledger.update('webapp', 'production', promotionMutation(testRecord({ digest: D1 }))), (e: PromoteError) => e.code === 'STAGE_HELD' && e.exitCode === 3);
  await ledger.update('webapp', 'production', holdMutation('webapp', 'production', false, 'Pat <pat@example.com>', '2026-03-30T12:00:00Z'));
  assert.equal((await ledger.read('webapp', 'production'))?.hold?.held, false);
  assert.deepEqual((await ledger.history('webapp', 'production')).map((h) => h.action), ['release', 'hold', 'approval']);
});

test('a stage ledger file that was edited by hand into broken YAML or foreign content is refused as LEDGER_CORRUPT, naming the file', async (t) => {
  const dir = await tempDir(t);
  const env = isolatedEnv(dir, PAT);
  const repo = await localRepo(dir, env);
  const ledger = await GitLedger.open({ repository: repo }, { env });
  await ledger.update('webapp', 'production', promotionMutation(testRecord({ digest: D1 })));
  for (const text of ['kind: StageLedger\nrecord: {bundle: [\n', 'just: a map\n']) {
    await writeFile(join(repo, 'promotions/webapp/production.yaml'), text);
    git(repo, env, 'commit', '-q', '-am', 'hand edit');
    await assert.rejects(ledger.read('webapp', 'production'), (err: unknown) => {
      assert.ok(isPromoteError(err, 'LEDGER_CORRUPT'), String(err));
      assert.match((err as PromoteError).message, /^promotions\/webapp\/production\.yaml in the ledger at [0-9a-f]{12} is not a stage ledger file$/);
      assert.match((err as PromoteError).hint!, /restore it from git history/);
      return true;
    });
  }
});

test('without a git identity the ledger refuses with the commands that fix it', async (t) => {
  const dir = await tempDir(t);
  const env = isolatedEnv(dir, PAT);
  const repo = await localRepo(dir, env);
  const ledger = await GitLedger.open({ repository: repo }, { env: { ...isolatedEnv(dir), HOME: dir } });
  await assert.rejects(ledger.update('webapp', 'production', promotionMutation(testRecord({ digest: D1 }))), (err: PromoteError) => {
    assert.ok(isPromoteError(err, 'GIT_IDENTITY_MISSING'));
    assert.match(err.hint!, /git config --global user.email/);
    return true;
  });
  assert.equal(git(repo, env, 'rev-list', '--count', 'main').trim(), '1', 'nothing was committed');
});

const worker = fileURLToPath(new URL('./fixtures/ledger-worker.ts', import.meta.url));

/** A long-lived racer process; `ask` sends one line and resolves with its one-line JSON answer. */
function startWorker(remote: string, env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [worker, remote], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const answers: ((v: Record<string, unknown>) => void)[] = [];
  let buffer = '';
  child.stdout.on('data', (d) => {
    buffer += d;
    for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
      answers.shift()?.(JSON.parse(line) as Record<string, unknown>);
    }
  });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return {
    ask(line: string): Promise<Record<string, unknown>> {
      return new Promise((resolve, reject) => {
        answers.push(resolve);
        child.stdin.write(`${line}\n`);
        void exited.then(() => reject(new Error(`racer exited: ${stderr}`)));
      });
    },
    async stop() {
      child.stdin.end();
      await exited;
    },
  };
}

test('two processes promote production at the same moment, 20 times: exactly one wins each time, the other exits 3, the history is a clean chain', async (t) => {
  const dir = await tempDir(t);
  const env = isolatedEnv(dir, PAT);
  const remote = await bareRemote(dir, env);
  const ROUNDS = 20;
  // Two machines (separate clones of the same remote) and, sharing one clone, two processes on
  // one machine: the pairs take turns by round.
  const racer = (who: string, cache: string) => startWorker(remote, { ...isolatedEnv(dir, { name: who, email: `${who}@example.com` }), PROMOTE_CACHE_DIR: join(dir, cache) });
  const machines = [racer('alice', 'cache-a'), racer('bob', 'cache-b')];
  const sameHost = [racer('carol', 'cache-shared'), racer('dave', 'cache-shared')];
  t.after(() => Promise.all([...machines, ...sameHost].map((r) => r.stop())));
  for (let round = 1; round <= ROUNDS; round++) {
    const pair = round % 2 === 0 ? machines : sameHost;
    const digest = (n: number) => `sha256:${String(round * 2 + n).padStart(64, '0')}`;
    // Both have read the same previous record before either may commit: a true race.
    await Promise.all(pair.map((r, i) => r.ask(`read ${digest(i)}`)));
    const results = await Promise.all(pair.map((r) => r.ask('go')));
    const codes = results.map((r) => r.code).sort();
    assert.deepEqual(codes, [0, 3], `round ${round}: ${JSON.stringify(results)}`);
    const loser = results.find((r) => r.code === 3)!;
    assert.equal(loser.error, 'LEDGER_STAGE_MOVED');
    assert.match(String(loser.message), /stage production changed while this promotion was being made/);
  }
  // The ledger: exactly ROUNDS promotions, each on the one before, none lost, none twice.
  const check = await GitLedger.open({ repository: remote, branch: 'main' }, { env, cacheDir: join(dir, 'cache-check') });
  await check.refresh();
  const history = (await check.history('webapp', 'production')).reverse();
  assert.equal(history.length, ROUNDS);
  history.forEach((h, i) => {
    if (i > 0) assert.equal(h.trailers['Previous-Record']?.[0], history[i - 1]!.trailers['Promotion-Record']?.[0]);
  });
  assert.equal(new Set(history.map((h) => h.trailers['Promotion-Record']?.[0])).size, ROUNDS);
  assert.equal((await check.read('webapp', 'production'))?.record?.sequence, ROUNDS);
  assert.equal(git(remote, env, 'rev-list', '--merges', '--count', 'main').trim(), '0');
});

test("a remote ledger's commits carry git's own identity precedence, resolved in the project checkout: repository config over global, GIT_AUTHOR_* over both", async (t) => {
  const dir = await tempDir(t);
  const env = isolatedEnv(dir);
  await writeFile(env.GIT_CONFIG_GLOBAL!, '[user]\n\tname = Global\n\temail = global@example.com\n');
  const remote = await bareRemote(dir, env);
  // The project: a checkout with its own repository-local identity (what `git commit` there would use).
  const project = await localRepo(dir, { ...env, GIT_AUTHOR_NAME: 'x', GIT_AUTHOR_EMAIL: 'x@x', GIT_COMMITTER_NAME: 'x', GIT_COMMITTER_EMAIL: 'x@x' });
  git(project, env, 'config', 'user.name', 'Local');
  git(project, env, 'config', 'user.email', 'local@example.com');
  const author = () => git(remote, env, 'log', '-1', '--format=%an <%ae>|%cn <%ce>', 'main').trim();
  const open = (e: NodeJS.ProcessEnv, identityDir?: string) => GitLedger.open({ repository: remote, branch: 'main' }, { env: e, cacheDir: join(dir, 'cache'), ...(identityDir && { identityDir }) });

  const ledger = await open(env, project);
  assert.equal((await ledger.identity()).text, 'Local <local@example.com>');
  await ledger.update('webapp', 'dev', holdMutation('webapp', 'dev', true, 'Local', 'now'));
  assert.equal(author(), 'Local <local@example.com>|Local <local@example.com>', 'the repository config wins over the global one, for author and committer');

  const overridden = await open({ ...env, GIT_AUTHOR_NAME: 'Env', GIT_AUTHOR_EMAIL: 'env@example.com' }, project);
  await overridden.update('webapp', 'dev', holdMutation('webapp', 'dev', false, 'Env', 'now'));
  assert.equal(author(), 'Env <env@example.com>|Local <local@example.com>', 'GIT_AUTHOR_* overrides both; the committer stays the configured one, as with git commit');

  // The cache clone alone has no repository config: without the project, the global identity is all there is.
  assert.equal((await (await open(env)).identity()).text, 'Global <global@example.com>');
});
