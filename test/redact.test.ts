import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redact, redactDeep, scrubSecrets, splitUrlCredential } from '../src/redact.ts';

// Pure string logic: the CLI and the ledger tests check the property end to end.

test('redact masks URL passwords, lone http(s) user names (tokens), Authorization values and token query parameters', () => {
  assert.equal(redact("fatal: unable to access 'http://ci:S3cr3t@h:9/x.git/'"), "fatal: unable to access 'http://ci:***@h:9/x.git/'");
  assert.equal(redact('https://ghp_abc123@github.com/a/b.git'), 'https://***@github.com/a/b.git');
  assert.equal(redact('ssh://git@github.com/a/b.git and git@github.com:a/b'), 'ssh://git@github.com/a/b.git and git@github.com:a/b');
  assert.equal(redact('Authorization: Bearer eyJhbGciOi.x.y'), 'Authorization: Bearer ***');
  assert.equal(redact('sent Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig'), 'sent Bearer ***');
  assert.equal(redact('https://s3/x?X-Amz-Signature=abcd&n=1'), 'https://s3/x?X-Amz-Signature=***&n=1');
  assert.equal(redact('the token endpoint wants Basic authentication'), 'the token endpoint wants Basic authentication');
  assert.deepEqual(redactDeep({ a: ['http://u:p@h/'], n: 1 }), { a: ['http://u:***@h/'], n: 1 });
});

test('splitUrlCredential takes the decoded user and password off an http(s) URL, and leaves other URLs alone', () => {
  assert.deepEqual(splitUrlCredential('https://us%40er:p%3Ass@git.example.com/x.git'), { url: 'https://git.example.com/x.git', username: 'us@er', password: 'p:ss' });
  assert.equal(splitUrlCredential('https://git.example.com/x.git'), undefined);
  assert.equal(splitUrlCredential('ssh://git@git.example.com/x.git'), undefined);
});

test('scrubSecrets replaces each known secret everywhere in a value, the longer first so no part of it is left', () => {
  const evidence = { summary: 'got tok-123-long back', nested: [{ error: 'echo: tok-123' }], n: 3, none: null };
  assert.deepEqual(scrubSecrets(evidence, ['tok-123', 'tok-123-long', '']), { summary: 'got *** back', nested: [{ error: 'echo: ***' }], n: 3, none: null });
  assert.equal(scrubSecrets('x', []), 'x');
});
