import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isPromoteError } from '../../src/errors.ts';
import { parseDigestInput, pickDigest } from '../../src/promotion/digest-input.ts';

// The pure half of digest prefixes (issue 11 §5): which inputs are digests, and which one a
// prefix names among candidates. The CLI half is test/promotion/bundle-input.integration.test.ts.

const a = `sha256:${'ab12'.repeat(3)}${'0'.repeat(52)}`;
const b = `sha256:${'ab12'.repeat(3)}${'1'.repeat(52)}`;

test('parseDigestInput (pure): sha256:-prefixed or ≥ 12 bare hex digits are digests; references are not', () => {
  assert.deepEqual(parseDigestInput('ab12ab12ab12'), { hex: 'ab12ab12ab12', full: false, text: 'ab12ab12ab12' });
  assert.equal(parseDigestInput(`SHA256:${a.slice(7).toUpperCase()}`), undefined, 'the algorithm is lower-case, as in every reference');
  assert.equal(parseDigestInput(a.toUpperCase().replace('SHA256', 'sha256'))?.full, true);
  for (const ref of ['oci:./r@' + a, 'registry.example.com/acme/web:1.0', 'abc123', 'web']) assert.equal(parseDigestInput(ref), undefined, ref);
  assert.throws(() => parseDigestInput('sha256:ab12'), (e: unknown) => isPromoteError(e, 'DIGEST_TOO_SHORT') && e.exitCode === 2);
  assert.throws(() => parseDigestInput(`${a}00`), (e: unknown) => isPromoteError(e, 'DIGEST_INVALID'));
});

test('pickDigest (pure): a unique prefix names its digest; a shared one is ambiguous and lists both; none is not found', () => {
  const twelve = parseDigestInput('ab12ab12ab12')!;
  assert.equal(pickDigest(twelve, [a, a], 'r', 'x'), a, 'the same digest twice is one candidate');
  assert.throws(() => pickDigest(twelve, [a, b], 'oci:/r', 'the ledger'), (e: unknown) => isPromoteError(e, 'DIGEST_AMBIGUOUS') && e.exitCode === 2 && e.message.includes(a) && e.message.includes(b) && /full digest/.test(e.hint ?? ''));
  assert.equal(pickDigest(parseDigestInput(b.slice(0, 20))!, [a, b], 'r', 'x'), b, 'more digits tell them apart');
  assert.throws(() => pickDigest(parseDigestInput('cd34cd34cd34')!, [a, b], 'oci:/r', 'the ledger'), (e: unknown) => isPromoteError(e, 'BUNDLE_NOT_FOUND') && e.message.includes('oci:/r'));
});
