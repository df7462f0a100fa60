import { constants as zc, deflateRaw, type ZlibOptions } from 'node:zlib';

// Deflate in independent blocks, compressed in parallel on libuv's thread pool and emitted in
// order — the scheme of pigz (https://zlib.net/pigz/pigz.pdf, "parallel compression"), so a
// bundle packs on every core instead of one, and the main thread stays free for the build checks.
//
// The output is one ordinary deflate stream (RFC 1951), and it depends only on the input: the
// tar stream is cut into blocks of exactly BLOCK_SIZE bytes (the last one shorter); each block
// is compressed on its own with the 32 KiB of input before it as the preset dictionary (so
// matches still reach back across the cut, as in one stream), and ends with a sync flush (an
// empty stored block, byte-aligned, BFINAL 0), so compressed blocks can be concatenated. After
// the last one comes an empty final block (fixed Huffman, BFINAL 1: the bytes 03 00). How many
// blocks run at once, the thread-pool size and the core count change only the speed: the block
// size and the settings below are part of the format — change them and every digest changes.
// The cost against a single stream: about 0.1 % larger on YAML (a sync marker and fresh Huffman
// tables every 512 KiB).

export const BLOCK_SIZE = 512 * 1024;
const WINDOW = 32 * 1024;
const FINAL_BLOCK = Buffer.from([0x03, 0x00]);
/** Enough output space for any block in one go (deflate's worst case is a few bytes per 16 KiB). */
const OUTPUT_CHUNK = BLOCK_SIZE + 64 * 1024;

export interface BlockDeflateOptions {
  level: number;
  /** Blocks taken in but not yet emitted (bounds memory: about 2 × this × BLOCK_SIZE). */
  maxInFlight?: number;
  /**
   * Called once, when the compressor first has all the work it can hold (write() is about to
   * wait) or has been given all there is (end()): from then on other CPU work on the main thread
   * overlaps with compression instead of delaying it.
   */
  onSaturated?: () => void;
}

/**
 * Feed it the uncompressed stream with write(); it calls `sink` with the compressed bytes, in
 * order, one call at a time. end() emits the rest and the final block. Memory stays bounded:
 * write() waits while maxInFlight blocks are taken in and not yet through the sink. One writer:
 * await each write() before the next, and end() last.
 */
export class BlockDeflate {
  private readonly settings: ZlibOptions;
  private readonly maxInFlight: number;
  private readonly spare: Buffer[] = [];
  private block: Buffer | undefined;
  private filled = 0;
  private tail: Buffer | undefined;
  private dispatched = 0;
  /** Blocks handed to the sink chain / written by the sink. */
  private emitted = 0;
  private sunk = 0;
  private readonly finished = new Map<number, Buffer>();
  private sinking: Promise<void> = Promise.resolve();
  private failure: unknown;
  private wake: (() => void) | undefined;
  private onSaturated: (() => void) | undefined;

  private readonly sink: (compressed: Buffer) => Promise<void>;

  constructor(sink: (compressed: Buffer) => Promise<void>, options: BlockDeflateOptions) {
    this.sink = sink;
    this.settings = { level: options.level, windowBits: 15, memLevel: 8, strategy: zc.Z_DEFAULT_STRATEGY, finishFlush: zc.Z_SYNC_FLUSH, chunkSize: OUTPUT_CHUNK };
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 8);
    this.onSaturated = options.onSaturated;
  }

  /** Takes `data` in (copied: the caller may reuse its buffer as soon as this resolves). */
  async write(data: Buffer): Promise<void> {
    for (let offset = 0; offset < data.length; ) {
      this.throwIfFailed();
      this.block ??= this.spare.pop() ?? Buffer.allocUnsafeSlow(BLOCK_SIZE);
      const n = data.copy(this.block, this.filled, offset);
      this.filled += n;
      offset += n;
      if (this.filled === BLOCK_SIZE) await this.dispatch();
    }
  }

  /** Compresses what is left, waits for every block, and emits the final block. */
  async end(): Promise<void> {
    this.throwIfFailed();
    if (this.filled > 0) await this.dispatch();
    this.saturated();
    while (this.sunk < this.dispatched && this.failure === undefined) await this.progress();
    this.throwIfFailed();
    await this.sink(FINAL_BLOCK);
  }

  /**
   * For a writer that gives up (its input failed, or it was aborted): once this resolves nothing
   * more reaches the sink, so what the sink writes to may be closed. Blocks still compressing
   * finish on the thread pool and are dropped.
   */
  async abort(reason: unknown): Promise<void> {
    this.failure ??= reason;
    await this.sinking;
  }

  private saturated(): void {
    const call = this.onSaturated;
    this.onSaturated = undefined;
    call?.();
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  /** Resolves at the next block finished or emitted (or failure). */
  private progress(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private async dispatch(): Promise<void> {
    while (this.dispatched - this.sunk >= this.maxInFlight && this.failure === undefined) {
      this.saturated();
      await this.progress();
    }
    this.throwIfFailed();
    const buffer = this.block!;
    const input = buffer.subarray(0, this.filled);
    const index = this.dispatched++;
    const dictionary = this.tail;
    // The next block's dictionary: the last 32 KiB of this one (every block but the last is
    // full, so that is the 32 KiB before the next). Copied: `buffer` is reused.
    this.tail = Buffer.from(input.subarray(Math.max(0, input.length - WINDOW)));
    this.block = undefined;
    this.filled = 0;
    deflateRaw(input, dictionary ? { ...this.settings, dictionary } : this.settings, (err, compressed) => {
      this.spare.push(buffer);
      if (err) this.failure ??= err;
      else this.finished.set(index, compressed);
      this.emitReady();
      this.notify();
    });
  }

  private emitReady(): void {
    for (let next = this.finished.get(this.emitted); next !== undefined; next = this.finished.get(this.emitted)) {
      this.finished.delete(this.emitted);
      const chunk = next;
      this.sinking = this.sinking
        .then(() => (this.failure === undefined ? this.sink(chunk) : undefined))
        .then(
          () => {
            this.sunk++;
            this.notify();
          },
          (err: unknown) => {
            this.failure ??= err;
            this.notify();
          },
        );
      this.emitted++;
    }
  }
}
