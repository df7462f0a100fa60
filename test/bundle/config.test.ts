import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBundleConfig } from '../../src/bundle/config.ts';
import { isPromoteError } from '../../src/errors.ts';

const valid = { name: 'webapp', created: '1970-01-01T00:00:00Z', manifests: 'manifests/', files: 'files/', parameterSchema: { type: 'object' } };
const bytes = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

test('a bundle config from a registry is checked before anything uses it', () => {
  assert.deepEqual(parseBundleConfig(bytes(valid), 'x'), valid);
  for (const [change, mention] of [
    [{ name: '../up' }, /"name" "\.\.\/up" is not a DNS label/],
    [{ name: 'Web_App' }, /not a DNS label/],
    [{ manifests: '../../etc' }, /"manifests" "\.\.\/\.\.\/etc" is not a relative path/],
    [{ files: '/abs' }, /"files" "\/abs" is not a relative path/],
    [{ parameterSchema: [] }, /"parameterSchema" is missing or not an object/],
    [{ created: 5 }, /"created" is missing or not a string/],
  ] as Array<[Record<string, unknown>, RegExp]>) {
    assert.throws(() => parseBundleConfig(bytes({ ...valid, ...change }), 'reg/x@sha256:1'), (err) => {
      assert.ok(isPromoteError(err, 'BUNDLE_CONFIG_INVALID'));
      assert.equal(err.outcome, 'verification');
      assert.match(err.message, mention);
      return true;
    });
  }
  assert.throws(() => parseBundleConfig(Buffer.from('not json'), 'x'), /is not JSON/);
});
