import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPromoteError } from '../../src/errors.ts';
import { parseYaml, validateDocument } from '../../src/params/document.ts';

// anyOf/oneOf failures are reported as the closest alternative's problems, not as every
// alternative's errors at once.

const schema = {
  type: 'object',
  properties: {
    trust: {
      type: 'array',
      items: {
        anyOf: [
          { type: 'string' },
          { type: 'object', required: ['key'], additionalProperties: false, properties: { key: { type: 'string' } } },
          { type: 'object', required: ['keyless'], additionalProperties: false, properties: { keyless: { $ref: '#/$defs/keyless' } } },
        ],
      },
    },
  },
  $defs: {
    keyless: {
      type: 'object',
      properties: { issuer: { type: 'string' }, subject: { type: 'string' }, subjectRegExp: { type: 'string' } },
      oneOf: [
        { required: ['subject'], properties: { subject: true } },
        { required: ['subjectRegExp'], properties: { subjectRegExp: true } },
      ],
    },
  },
};

function problems(yaml: string) {
  try {
    validateDocument(schema, parseYaml(yaml, 'p.yaml'), 'test');
  } catch (err) {
    assert.ok(isPromoteError(err, 'SCHEMA_VIOLATION'));
    return err.problems.map((p) => [p.pointer, p.rule, p.message, p.expected, p.hint]);
  }
  return [];
}

test('the closest alternative explains the failure, through $ref too', () => {
  assert.deepEqual(problems('trust: [{keyless: {issuer: x}}]\n'), [['/trust/0/keyless', 'required', 'needs one of "subject", "subjectRegExp"', 'exactly one of "subject", "subjectRegExp"', undefined]]);
  assert.deepEqual(problems('trust: [{kye: a.pub}]\n'), [
    ['/trust/0/key', 'required', 'missing required property "key"', 'a value for "key"', undefined],
    ['/trust/0/kye', 'additionalProperties', 'unknown property "kye"', 'one of: key', 'did you mean "key"?'],
  ]);
});

test('a value of no allowed type gets one problem listing the allowed forms', () => {
  assert.deepEqual(problems('trust: [5]\n'), [['/trust/0', 'anyOf', 'matches none of the allowed forms', 'string, or object with "key", or object with "keyless"', undefined]]);
});

test('valid alternatives pass', () => {
  assert.deepEqual(problems('trust: [a.pub, {key: b.pub}, {keyless: {issuer: x, subjectRegExp: ".*"}}]\n'), []);
});
