// How `promote plan` names the renderer in text (pure logic on plain data): each side's renderer
// and version, and the versions the stage's agents report where they differ.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rendererLine } from '../../src/cli/promotion-text.ts';

const helm = (version: string) => ({ kind: 'helm', version });

test('plain on both sides says nothing; a chart names helm and its version, once when both sides agree', () => {
  assert.equal(rendererLine({ now: { kind: 'plain' }, after: { kind: 'plain' }, reported: [], versionDiffers: false }, 'staging'), undefined);
  assert.equal(rendererLine({ after: helm('v3.17.3'), reported: [], versionDiffers: false }, 'staging'), 'renderer: helm v3.17.3');
  assert.equal(rendererLine({ now: helm('v3.17.3'), after: helm('v3.17.3'), reported: [{ cluster: 'a', ...helm('v3.17.3') }], versionDiffers: false }, 'staging'), 'renderer: helm v3.17.3');
  assert.equal(rendererLine({ now: { kind: 'plain' }, after: helm('v3.17.3'), reported: [{ cluster: 'a', kind: 'plain' }], versionDiffers: false }, 'staging'), 'renderer: plain now → helm v3.17.3 after');
});

test('agents reporting another version are named: all of them at once, else by cluster; an agent that could not render says why', () => {
  const after = helm('v3.17.3');
  assert.equal(
    rendererLine({ now: after, after, reported: [{ cluster: 'eu', ...helm('v3.16.0') }, { cluster: 'us', ...helm('v3.16.0') }], versionDiffers: true }, 'staging'),
    'renderer: helm v3.17.3 (agents of staging report v3.16.0)',
  );
  assert.equal(
    rendererLine({ now: after, after, reported: [{ cluster: 'eu', ...helm('v3.16.0') }, { cluster: 'us', ...helm('v3.17.3') }], versionDiffers: true }, 'staging'),
    'renderer: helm v3.17.3 (agents of staging report v3.16.0 on eu)',
  );
  assert.equal(
    rendererLine({ now: after, after, reported: [{ cluster: 'eu', ...helm('v3.16.0') }, { cluster: 'us', kind: 'helm', reason: 'RendererMissing' }], versionDiffers: true }, 'staging'),
    'renderer: helm v3.17.3 (agents of staging report v3.16.0 on eu; no helm (RendererMissing) on us)',
  );
});
