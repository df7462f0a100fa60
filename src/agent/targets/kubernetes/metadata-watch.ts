import type { KubeClient } from './client.ts';
import { groupVersionPath, type ResourceMapping } from './discovery.ts';

// What changed since the last round, without reading the objects: per resource, one metadata-
// only LIST of the objects carrying our owner labels, then a WATCH from its resourceVersion
// (client-go's reflector and metadata informer, in small: names and resourceVersions only, no
// specs kept). A round compares these resourceVersions with the ones the server returned for
// our last apply or check, and reads only the objects whose version moved. A watch the server
// can no longer resume (410 Gone) lists again. Namespaced resources are watched per namespace,
// which a namespaced Role with list and watch allows; what we may not list or watch is left to
// per-object reads.

const LIST_ACCEPT = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';
const WATCH_ACCEPT = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';
/** The server ends each watch after this long (plus its own jitter); we then resume from the last version. */
const WATCH_SECONDS = 300;
/** Retrying a resource whose list was refused (RBAC may be granted later). */
const REFUSED_RETRY_MS = 10 * 60_000;

interface Meta {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

interface WatchEvent {
  type?: string;
  object?: Meta & { code?: number };
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    t.unref();
    signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });

const itemKey = (namespace: string | undefined, name: string): string => `${namespace ?? ''}/${name}`;

class ResourceWatch {
  /** resourceVersion by `namespace/name`, for the objects the selector matches now. */
  readonly items = new Map<string, string>();
  /** True while the items reflect the server (listed, and the watch since then unbroken). */
  synced = false;
  refusedAt = 0;
  private version = '';
  private readonly client: KubeClient;
  private readonly path: string;
  private readonly selector: string;
  private readonly signal: AbortSignal;

  constructor(client: KubeClient, m: ResourceMapping, namespace: string | undefined, selector: string, signal: AbortSignal) {
    this.client = client;
    this.path = `${groupVersionPath(m.group, m.version)}${m.namespaced ? `/namespaces/${encodeURIComponent(namespace ?? 'default')}` : ''}/${m.resource}`;
    this.selector = encodeURIComponent(selector);
    this.signal = signal;
  }

  /** Lists (every page); false when the server refuses. */
  async list(): Promise<boolean> {
    this.synced = false;
    const items = new Map<string, string>();
    let cont = '';
    for (;;) {
      const res = await this.client.send('GET', `${this.path}?labelSelector=${this.selector}&limit=500${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`, undefined, undefined, LIST_ACCEPT);
      if (res.status !== 200) {
        this.refusedAt = Date.now();
        return false;
      }
      const body = res.body as { metadata?: { resourceVersion?: string; continue?: string }; items?: Meta[] };
      for (const it of body.items ?? []) {
        if (it.metadata?.name && it.metadata.resourceVersion) items.set(itemKey(it.metadata.namespace, it.metadata.name), it.metadata.resourceVersion);
      }
      cont = body.metadata?.continue ?? '';
      if (!cont) {
        this.version = body.metadata?.resourceVersion ?? '';
        break;
      }
    }
    this.items.clear();
    for (const [k, v] of items) this.items.set(k, v);
    this.synced = true;
    this.refusedAt = 0;
    return true;
  }

  /** Watches until closed: resumes after the server ends a watch, lists again after 410 Gone or a failure. */
  async run(): Promise<void> {
    while (!this.signal.aborted) {
      let gone = false;
      try {
        const res = await this.client.watch(
          `${this.path}?watch=1&allowWatchBookmarks=true&resourceVersion=${encodeURIComponent(this.version)}&timeoutSeconds=${WATCH_SECONDS}&labelSelector=${this.selector}`,
          WATCH_ACCEPT,
          (e) => {
            const ev = e as WatchEvent;
            const meta = ev.object?.metadata;
            if (ev.type === 'ERROR') {
              gone = true; // 410 Gone (too old) or another error: the stream ends; list again
              this.synced = false;
              return;
            }
            if (meta?.resourceVersion) this.version = meta.resourceVersion;
            if (ev.type === 'BOOKMARK' || !meta?.name) return;
            const key = itemKey(meta.namespace, meta.name);
            if (ev.type === 'DELETED') this.items.delete(key);
            else if (meta.resourceVersion) this.items.set(key, meta.resourceVersion);
          },
          this.signal,
          (WATCH_SECONDS + 60) * 1000,
        );
        if (res.status !== 200) gone = true;
      } catch {
        if (this.signal.aborted) return;
        gone = true;
        this.synced = false;
        await sleep(1000, this.signal);
      }
      if (gone && !this.signal.aborted) {
        while (!this.signal.aborted && !(await this.list().catch(() => false))) await sleep(REFUSED_RETRY_MS, this.signal);
      }
    }
  }
}

export class MetadataWatches {
  private readonly client: KubeClient;
  private readonly watches = new Map<string, ResourceWatch>();
  private readonly abort = new AbortController();

  constructor(client: KubeClient) {
    this.client = client;
  }

  private key(m: ResourceMapping, namespace: string | undefined, selector: string): string {
    return `${selector}|${m.group}/${m.version}/${m.resource}|${m.namespaced ? (namespace ?? 'default') : ''}`;
  }

  /** Starts watching the resources not watched yet; resolves when each has listed (or was refused). */
  async ensure(resources: Iterable<{ mapping: ResourceMapping; namespace?: string }>, selector: string): Promise<void> {
    const started: Promise<void>[] = [];
    for (const { mapping: m, namespace } of resources) {
      const key = this.key(m, namespace, selector);
      const existing = this.watches.get(key);
      if (existing && (existing.refusedAt === 0 || Date.now() - existing.refusedAt < REFUSED_RETRY_MS)) continue;
      const w = existing ?? new ResourceWatch(this.client, m, namespace, selector, this.abort.signal);
      this.watches.set(key, w);
      started.push(
        w.list().then((ok) => {
          if (ok) void w.run();
        }, () => { w.refusedAt = Date.now(); }),
      );
    }
    await Promise.all(started);
  }

  /**
   * The live resourceVersion of one object as the watch last saw it: `null` when it does not
   * exist (or no longer carries our labels), `undefined` when the watch cannot tell (not
   * started, refused, or re-listing after a break).
   */
  version(m: ResourceMapping, selector: string, namespace: string | undefined, name: string): string | null | undefined {
    const w = this.watches.get(this.key(m, namespace, selector));
    if (!w?.synced) return undefined;
    return w.items.get(itemKey(m.namespaced ? namespace : undefined, name)) ?? null;
  }

  close(): void {
    this.abort.abort();
  }
}
