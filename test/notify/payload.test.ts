import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { EVENT_TYPES, newEvent } from '../../src/notify/event.ts';
import { FORMATS, payloadFor } from '../../src/notify/payload.ts';
import { signBody, verifyBody } from '../../src/notify/signature.ts';

// The payload formats and the signature, as pure functions (no receiver).

const SENT = new Date('2026-12-01T10:00:05Z');
const refused = () => newEvent({
  type: 'refused',
  pipeline: 'webapp',
  stage: 'production',
  bundle: `sha256:${'b'.repeat(64)}`,
  by: 'Pat <pat@example.com>',
  summary: 'webapp: sha256:bbbb… refused for production: <!channel> & friends',
  gates: [{ gate: 'approval', type: 'approval', passed: false, summary: '0/1 approvals' }, { gate: 'converged', type: 'converged', passed: true, summary: 'all Converged' }],
  time: new Date('2026-12-01T10:00:00Z'),
});

test('json: the event itself plus sentAt', () => {
  const e = refused();
  const { body, contentType } = payloadFor(e, 'json', SENT);
  assert.equal(contentType, 'application/json');
  assert.deepEqual(JSON.parse(body), { ...e, sentAt: SENT.toISOString() });
  assert.match(e.id, /^[0-9a-f-]{36}$/);
  assert.equal(e.time, '2026-12-01T10:00:00.000Z');
});

test('cloudevents: CloudEvents 1.0 structured mode with the event as data', () => {
  const e = refused();
  const { body, contentType } = payloadFor(e, 'cloudevents', SENT);
  assert.equal(contentType, 'application/cloudevents+json; charset=utf-8');
  const ce = JSON.parse(body);
  assert.equal(ce.specversion, '1.0');
  assert.equal(ce.id, e.id);
  assert.equal(ce.type, 'dev.promote.refused');
  assert.equal(ce.source, 'promote/webapp');
  assert.equal(ce.subject, 'production');
  assert.equal(ce.time, e.time);
  assert.equal(ce.datacontenttype, 'application/json');
  assert.equal(ce.promotesentat, SENT.toISOString());
  assert.deepEqual(ce.data, e);
  // Attribute names: lower-case letters and digits only (the spec's naming rule).
  for (const k of Object.keys(ce)) assert.match(k, /^[a-z0-9]{1,20}$/);
});

test('slack: a readable one-liner as text, failing gates as a section, markup from outside escaped', () => {
  const { body } = payloadFor(refused(), 'slack', SENT);
  const m = JSON.parse(body);
  assert.equal(m.text, ':no_entry: webapp: sha256:bbbb… refused for production: &lt;!channel&gt; &amp; friends');
  assert.equal(m.blocks[0].text.text, m.text);
  assert.equal(m.blocks[1].text.text, '• *approval*: 0/1 approvals');
  assert.match(m.blocks[2].elements[0].text, /pipeline webapp · stage production · bundle `sha256:b{64}` · by Pat &lt;pat@example.com&gt;/);
  assert.equal(m.metadata.event_type, 'promote_refused');
  assert.equal(m.metadata.event_payload.sentAt, SENT.toISOString());
});

test('an event is redacted on the way in: a token in a gate summary or a URL never reaches a payload', () => {
  const e = newEvent({ type: 'refused', pipeline: 'p', summary: 'cannot reach https://user:hunter2-token@ci.example/x?token=abcdef', gates: [{ gate: 'http', type: 'http', passed: false, summary: 'Authorization: Bearer abcdefghijklmnopqrstuvwxyz' }] });
  for (const format of FORMATS) {
    const { body } = payloadFor(e, format, SENT);
    assert.ok(!body.includes('hunter2-token') && !body.includes('abcdef&') && !body.includes('abcdefghijklmnopqrstuvwxyz'), body);
  }
});

test('the signature is GitHub-style sha256=<hex HMAC-SHA256 of the body>', () => {
  // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
  assert.equal(signBody('what do ya want for nothing?', 'Jefe'), 'sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  assert.ok(verifyBody(Buffer.from('what do ya want for nothing?'), 'sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843', 'Jefe'));
  assert.equal(verifyBody('x', undefined, 'Jefe'), false);
  assert.equal(verifyBody('x', 'sha256=00', 'Jefe'), false);
});

test('the pipeline schema lists the same events and formats as the code', () => {
  const schema = JSON.parse(readFileSync(new URL('../../schemas/pipeline.schema.json', import.meta.url), 'utf8'));
  const webhook = schema.$defs.notifyTarget.properties.webhook.properties;
  assert.deepEqual(webhook.events.items.enum, [...EVENT_TYPES]);
  assert.deepEqual(webhook.format.enum, [...FORMATS]);
});
