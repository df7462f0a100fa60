import type { ServerResponse } from 'node:http';
import { PromoteError } from '../errors.ts';
import type { ProjectOptions } from '../promotion/actions.ts';
import type { Project } from '../promotion/project.ts';
import { fingerprint } from './changes.ts';
import { errorView, pipelineView, type ErrorView, type PipelineView } from './pipeline-view.ts';

// The live side of promote ui: one loop polls the fingerprint (changes.ts) every interval, after
// the previous poll finished (so a slow registry slows the loop instead of piling polls up),
// rebuilds the pipeline view when it changed and tells every open page by a server-sent event
// (https://html.spec.whatwg.org/multipage/server-sent-events.html); the page then fetches the
// view again. Every page load reads the view already built: no request waits on the registry.

export interface LiveOptions {
  project: Project;
  options: ProjectOptions;
  actions: boolean;
  intervalMs: number;
  signal: AbortSignal;
  log(message: string): void;
}

/** A comment line every so often keeps proxies and the browser from closing an idle stream. */
const HEARTBEAT_MS = 15_000;
/**
 * Open event streams at once. Each holds a socket, a timer and a write per rebuild for as long
 * as its page stays open: unbounded, any local process could exhaust the server's descriptors
 * and memory. A person has a few tabs open, not dozens.
 */
export const MAX_SUBSCRIBERS = 64;

export class LiveView {
  private view: PipelineView | undefined;
  private problem: ErrorView | undefined;
  private version = 0;
  private serialised: { version: number; status: number; bytes: Buffer } | undefined;
  private last: string | undefined;
  private readonly clients = new Set<ServerResponse>();
  private readonly ready: Promise<void>;
  private wake: (() => void) | undefined;
  private readonly o: LiveOptions;

  constructor(o: LiveOptions) {
    this.o = o;
    this.ready = this.rebuild();
    void this.ready.then(() => this.loop());
  }

  /** The newest view (waits for the first one), or why there is none. */
  async current(): Promise<{ view?: PipelineView; problem?: ErrorView; version: number }> {
    await this.ready;
    return { ...(this.view && { view: this.view }), ...(this.problem && { problem: this.problem }), version: this.version };
  }

  /**
   * `/api/pipeline` as bytes, serialised once per version: at 1,000 clusters the view is most
   * of a megabyte, and every page load and every live update asks for it. It was redacted when
   * it was built (pipelineView).
   */
  async body(): Promise<{ status: number; bytes: Buffer }> {
    await this.ready;
    if (this.serialised?.version !== this.version) {
      const body = this.view ? { ...this.view, version: this.version } : { error: this.problem, version: this.version };
      this.serialised = { version: this.version, status: this.view ? 200 : 503, bytes: Buffer.from(JSON.stringify(body)) };
    }
    return this.serialised;
  }

  /** Polls now instead of at the end of the interval (after an action). */
  poke(): void {
    this.wake?.();
  }

  subscribe(res: ServerResponse): void {
    if (this.clients.size >= MAX_SUBSCRIBERS) {
      throw new PromoteError('UI_BUSY', `promote ui already serves ${MAX_SUBSCRIBERS} live-update streams`, { outcome: 'failed', hint: 'close some of the pages open on promote ui, then reload this one (the rest of the page works without live updates)' });
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
    res.write(`retry: 2000\nevent: version\ndata: ${JSON.stringify({ version: this.version })}\n\n`);
    const beat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
    this.clients.add(res);
    res.on('close', () => {
      clearInterval(beat);
      this.clients.delete(res);
    });
  }

  close(): void {
    this.wake?.();
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private async rebuild(): Promise<void> {
    try {
      this.last = await fingerprint(this.o.project);
      this.view = await pipelineView(this.o.options, this.o.project, this.o.actions);
      this.problem = undefined;
    } catch (err) {
      this.problem = errorView(err);
      this.o.log(`promote ui: cannot read the pipeline: ${this.problem.message}`);
    }
    this.version++;
    const event = `event: version\ndata: ${JSON.stringify({ version: this.version })}\n\n`;
    for (const res of this.clients) res.write(event);
  }

  private async loop(): Promise<void> {
    const { signal } = this.o;
    while (!signal.aborted) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, this.o.intervalMs);
        function done() {
          clearTimeout(t);
          signal.removeEventListener('abort', done);
          resolve();
        }
        this.wake = done;
        signal.addEventListener('abort', done, { once: true });
      });
      this.wake = undefined;
      if (signal.aborted) break;
      let now: string | undefined;
      try {
        now = await fingerprint(this.o.project);
      } catch (err) {
        this.o.log(`promote ui: cannot poll the ledger and the registry: ${errorView(err).message}`);
        continue;
      }
      if (now !== this.last || this.problem) await this.rebuild();
    }
  }
}
