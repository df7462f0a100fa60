import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSigner } from '../../src/signing/signer.ts';

// The password prompt on a real terminal: util-linux `script` gives the CLI a pseudo-terminal;
// we answer each prompt only after it appears, and check the password is never echoed.
// script(1) is in util-linux (Debian's essential bsdutils), so it is on every CI machine.

const bin = fileURLToPath(new URL('../../bin/promote.js', import.meta.url));

test('keygen on a terminal asks for the password twice without echo, and the key decrypts with it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'promote-tty-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const env = { PATH: process.env.PATH ?? '', HOME: dir, NO_COLOR: '1', TERM: 'dumb' };
  const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} keygen ${JSON.stringify(join(dir, 'tty'))}`;
  const child = spawn('script', ['-qec', cmd, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let answered = 0;
  const secret = 'tty-S3cret';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    const prompts = (out.match(/Enter password/g) ?? []).length;
    if (prompts > answered) {
      answered = prompts;
      child.stdin.write(`${secret}\r`);
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  child.stdin.end();
  assert.equal(code, 0, out);
  assert.equal(answered, 2, out);
  assert.ok(!out.includes(secret), `password echoed: ${out}`);
  assert.equal((await stat(join(dir, 'tty.key'))).mode & 0o777, 0o600);
  assert.match(await readFile(join(dir, 'tty.key'), 'utf8'), /ENCRYPTED SIGSTORE PRIVATE KEY/);
  await loadSigner(join(dir, 'tty.key'), { env: { PROMOTE_PASSWORD: secret }, interactive: false });
});

test('without a terminal and without PROMOTE_PASSWORD, keygen stops with a usage error naming the variables', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'promote-notty-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const child = spawn(process.execPath, [bin, 'keygen', join(dir, 'k')], { env: { PATH: process.env.PATH ?? '', HOME: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 2);
  assert.match(err, /no terminal to ask on/);
  assert.match(err, /PROMOTE_PASSWORD/);
  assert.equal(existsSync(join(dir, 'k.key')), false);
});
