import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { BLOCK_SIZE, BlockDeflate } from '../../src/bundle/block-deflate.ts';

/** Text that compresses like manifests do, the same on every run (no randomness). */
function yamlLike(bytes: number): Buffer {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const line = `  - name: item-${i % 977}\n    value: "${(i * 2654435761) % 100003}"\n`;
    lines.push(line);
    size += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

async function deflate(input: Buffer, chunk: number, maxInFlight?: number): Promise<Buffer> {
  const out: Buffer[] = [];
  const d = new BlockDeflate(async (b) => void out.push(Buffer.from(b)), { level: 6, ...(maxInFlight !== undefined && { maxInFlight }) });
  for (let i = 0; i < input.length; i += chunk) await d.write(input.subarray(i, i + chunk));
  await d.end();
  return Buffer.concat(out);
}

test('one valid deflate stream for every size around the block boundary, ending in the empty final block', async () => {
  for (const size of [0, 1, BLOCK_SIZE - 1, BLOCK_SIZE, BLOCK_SIZE + 1, 3 * BLOCK_SIZE + 17]) {
    const input = yamlLike(size);
    const out = await deflate(input, 100_000);
    assert.deepEqual(inflateRawSync(out), input, `size ${size}`);
    assert.deepEqual([...out.subarray(-2)], [0x03, 0x00], `size ${size}: final block`);
  }
});

test('the bytes depend on the input only: not on how it is written nor on how many blocks run at once', async () => {
  const input = yamlLike(2 * BLOCK_SIZE + 12_345);
  const reference = await deflate(input, 1 << 20);
  assert.deepEqual(await deflate(input, 4096, 1), reference, 'small writes, one block at a time');
  assert.deepEqual(await deflate(input, 777_777, 3), reference, 'odd writes, three at a time');
});

test('golden: 1.5 MiB of text deflates to pinned bytes (block size, dictionary and flushes are the format)', async () => {
  // If this changes, every bundle digest changes: see the format note in block-deflate.ts. Like
  // the golden bundle digest, it holds for the zlib of the pinned Node release.
  const out = await deflate(yamlLike(1.5 * 1024 * 1024), 65_536);
  assert.equal(createHash('sha256').update(out).digest('hex'), GOLDEN);
});

test('blocks reach back across the cut: with the dictionary, text repeated across a boundary costs a back-reference', async () => {
  // Fixed noise up to the cut, ending in a passage; the next block is that passage again.
  const passage = Buffer.from(Array.from({ length: 8 }, (_, i) => `line ${i}: a passage that appears just before the cut and again right after it\n`).join(''));
  const input = Buffer.alloc(BLOCK_SIZE + passage.length);
  for (let i = 0, x = 1; i < BLOCK_SIZE; i++) input[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  passage.copy(input, BLOCK_SIZE - passage.length);
  passage.copy(input, BLOCK_SIZE);
  const both = await deflate(input, 1 << 20);
  assert.deepEqual(inflateRawSync(both), input);
  const firstOnly = await deflate(input.subarray(0, BLOCK_SIZE), 1 << 20);
  const secondWithDictionary = both.length - firstOnly.length;
  const secondAlone = (await deflate(input.subarray(BLOCK_SIZE), 1 << 20)).length;
  assert.ok(secondWithDictionary < 20, `second block with the dictionary: ${secondWithDictionary} bytes`);
  assert.ok(secondAlone > 60, `second block alone: ${secondAlone} bytes`);
});

test('a failing sink fails the writer, and nothing more is written after it', async () => {
  let calls = 0;
  const d = new BlockDeflate(async () => {
    calls++;
    throw new Error('disk full');
  }, { level: 6, maxInFlight: 2 });
  const input = yamlLike(6 * BLOCK_SIZE);
  await assert.rejects(async () => {
    for (let i = 0; i < input.length; i += 65_536) await d.write(input.subarray(i, i + 65_536));
    await d.end();
  }, /disk full/);
  assert.equal(calls, 1);
});

test('onSaturated is called once: when the writer would wait, or at end()', async () => {
  let saturated = 0;
  const small = new BlockDeflate(async () => undefined, { level: 6, onSaturated: () => saturated++ });
  await small.write(yamlLike(1000));
  assert.equal(saturated, 0);
  await small.end();
  assert.equal(saturated, 1);

  let full = 0;
  const big = new BlockDeflate(async () => undefined, { level: 6, maxInFlight: 1, onSaturated: () => full++ });
  const input = yamlLike(3 * BLOCK_SIZE);
  for (let i = 0; i < input.length; i += 65_536) await big.write(input.subarray(i, i + 65_536));
  assert.equal(full, 1, 'called when the second block had to wait for the first');
  await big.end();
  assert.equal(full, 1);
});

const GOLDEN = '0269feda294dbe858356a6aa57c913d26ed539a1b2096937e7a0f76205051e55';
