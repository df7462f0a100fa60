import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPromoteError } from '../../src/errors.ts';
import { bearer, cliCommand, parseAction, tokenMatches } from '../../src/ui/actions.ts';
import { uiOptions } from '../../src/ui/options.ts';
import { promote } from '../cli/run-promote.ts';

// promote ui's options and the pure parts of its actions (plain data, no server).

const base = { listen: '127.0.0.1:0', interval: '2s', allowActions: false, cwd: '/', env: {} };

test('promote ui options: an address, an interval of at least 1 s, and actions only with a token of 16+ characters', async () => {
  assert.deepEqual(await uiOptions(base), { host: '127.0.0.1', port: 0, intervalMs: 2000 });
  assert.deepEqual(await uiOptions({ ...base, listen: '[::1]:9000' }), { host: '::1', port: 9000, intervalMs: 2000 });
  const refused = async (input: Partial<typeof base> & { tokenFile?: string }, code: string, message: RegExp) =>
    assert.rejects(uiOptions({ ...base, ...input }), (err: unknown) => isPromoteError(err) && err.code === code && err.exitCode === 2 && message.test(err.message));
  await refused({ listen: '8080' }, 'USAGE', /--listen must be host:port/);
  await refused({ listen: '127.0.0.1:70000' }, 'USAGE', /--listen/);
  await refused({ interval: '100ms' }, 'USAGE', /--interval/);
  await refused({ allowActions: true }, 'UI_TOKEN_MISSING', /needs a token/);
  await refused({ allowActions: true, env: { PROMOTE_UI_TOKEN: 'short' } }, 'UI_TOKEN_MISSING', /at least 16 characters/);
  await refused({ tokenFile: 'x' }, 'USAGE', /only used with --allow-actions/);
  const dir = await mkdtemp(join(tmpdir(), 'promote-ui-options-'));
  try {
    await writeFile(join(dir, 'token'), '0123456789abcdef0123\n');
    assert.equal((await uiOptions({ ...base, cwd: dir, allowActions: true, tokenFile: 'token', env: { PROMOTE_UI_TOKEN: 'ignored-when-a-file-is-given' } })).token, '0123456789abcdef0123');
    await refused({ cwd: dir, allowActions: true, tokenFile: 'missing' }, 'UI_TOKEN_MISSING', /cannot read the token file missing: ENOENT/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the token is compared whole, from a Bearer header only; actions are checked before any engine call', () => {
  const token = '0123456789abcdef0123';
  assert.equal(tokenMatches(token, token), true);
  assert.equal(tokenMatches(token, `${token}x`), false);
  assert.equal(tokenMatches(token, token.slice(0, -1)), false);
  assert.equal(tokenMatches(token, undefined), false);
  assert.equal(bearer(`Bearer ${token}`), token);
  assert.equal(bearer(`Basic ${token}`), undefined);
  assert.equal(bearer(undefined), undefined);
  assert.deepEqual(parseAction('approve', { stage: 'production', bundle: 'sha256:ab', comment: ' CAB-1 ' }), { name: 'approve', request: { stage: 'production', bundle: 'sha256:ab', comment: 'CAB-1' } });
  assert.throws(() => parseAction('approve', { stage: 'production' }), /"bundle" must be a non-empty string/);
  assert.throws(() => parseAction('rollback', { stage: 'production' }), /there is no action "rollback"/);
  assert.throws(() => parseAction('hold', ['production']), /needs a JSON object/);
  assert.equal(cliCommand('hold', { stage: 'production', reason: 'INC-1' }, 'webapp'), 'promote hold production --reason "INC-1" --pipeline webapp');
  assert.equal(cliCommand('approve', { stage: 'production', bundle: 'sha256:ab' }), 'promote approve production sha256:ab');
});

test('promote ui --allow-actions without a token exits 2 before serving anything', async () => {
  const r = await promote(['ui', '--allow-actions', '--listen', '127.0.0.1:0'], { killAfterMs: 30_000 });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--allow-actions needs a token: --token-file <file> or PROMOTE_UI_TOKEN/);
  assert.doesNotMatch(r.stderr, /serving/);
});
