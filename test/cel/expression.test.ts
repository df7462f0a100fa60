import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { compileExpression, isSyntaxError, loadCel, type CompiledExpression } from '../../src/cel/expression.ts';

before(loadCel);

function compiled(source: string, variables: string[]): CompiledExpression {
  const c = compileExpression(source, variables);
  if (isSyntaxError(c)) assert.fail(`${source}: ${c.message}`);
  return c;
}

test('a ValidatingAdmissionPolicy-style expression over a plain object', () => {
  const pinned = compiled("object.spec.template.spec.containers.all(c, c.image.contains('@sha256:'))", ['object']);
  const pod = (image: string) => ({ spec: { template: { spec: { containers: [{ image }] } } } });
  assert.deepEqual(pinned.test({ object: pod(`ghcr.io/x/y@sha256:${'a'.repeat(64)}`) }), { ok: true, value: true });
  assert.deepEqual(pinned.test({ object: pod('ghcr.io/x/y:latest') }), { ok: true, value: false });
});

test('a runtime error (a missing field) is a result, not a throw; has() guards it', () => {
  assert.deepEqual(compiled('object.spec.replicas > 1', ['object']).test({ object: { spec: {} } }), { ok: false, error: 'field not found: replicas' });
  assert.deepEqual(compiled('has(object.spec.replicas) && object.spec.replicas > 1', ['object']).test({ object: { spec: {} } }), { ok: true, value: false });
});

test('test() refuses a result that is not a bool; evaluate() returns plain data', () => {
  const s = compiled("'yes'", []);
  assert.equal(s.test({}).ok, false);
  assert.deepEqual(compiled('[1, 2].map(x, x * 2)', []).evaluate({}), { ok: true, value: [2, 4] });
});

test('a syntax error says where; an unknown variable is a compile error; type names and comprehension variables are not variables', () => {
  const bad = compileExpression('object.x +', ['object']);
  assert.ok(isSyntaxError(bad));
  assert.equal(bad.column, 10);
  const typo = compileExpression('objet.x == 1', ['object']);
  assert.ok(isSyntaxError(typo));
  assert.match(typo.message, /unknown variable "objet": this expression can use object/);
  compiled('type(response.status) == int && response.items.exists(i, i.ok)', ['response']);
});
