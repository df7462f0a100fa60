import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { shortDigest } from '../src/short-digest.ts';

// Six private copies of "shorten a digest" had drifted (19 characters, 19 with "…" always or
// only when cut, 12 hex digits); one function now has each form by name, and no copy is left.

const digest = `sha256:${'0123456789abcdef'.repeat(4)}`;

test('shortDigest: prefixed (default), elided and hex forms; "-" for no digest', () => {
  assert.equal(shortDigest(digest), 'sha256:0123456789ab');
  assert.equal(shortDigest(digest, 'elided'), 'sha256:0123456789ab…');
  assert.equal(shortDigest('sha256:0123', 'elided'), 'sha256:0123', 'nothing cut, no ellipsis');
  assert.equal(shortDigest(digest, 'hex'), '0123456789ab');
  assert.equal(shortDigest(undefined), '-');
  assert.equal(shortDigest(undefined, 'hex'), '-');
});

test('no file in src/ keeps a digest-shortening function of its own', () => {
  const src = join(import.meta.dirname, '..', 'src');
  const copies = readdirSync(src, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && e.name !== 'short-digest.ts')
    .map((e) => join(e.parentPath, e.name))
    .filter((f) => /(?:function\s+short\w*|const\s+short\w*\s*=\s*\()\s*\(?\s*\w+\??\s*:\s*string/.test(readFileSync(f, 'utf8')))
    .map((f) => relative(src, f));
  assert.deepEqual(copies, [], 'use shortDigest() from src/short-digest.ts');
});
