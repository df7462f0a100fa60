import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { forEachConcurrently } from '../../src/oci/concurrency.ts';

test('forEachConcurrently runs every item, never more than the limit at once', async () => {
  let running = 0;
  let peak = 0;
  const done: number[] = [];
  await forEachConcurrently([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
    running++;
    peak = Math.max(peak, running);
    await sleep(2);
    done.push(n);
    running--;
  });
  assert.deepEqual(done.sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(peak, 3);
});

test('forEachConcurrently rejects with the failure, after the others have settled', async () => {
  const finished: string[] = [];
  await assert.rejects(
    forEachConcurrently(['a', 'bad', 'c'], 2, async (s) => {
      if (s === 'bad') throw new Error('upload of bad failed');
      await sleep(5);
      finished.push(s);
    }),
    /upload of bad failed/,
  );
  assert.deepEqual(finished.sort(), ['a', 'c']);
});
