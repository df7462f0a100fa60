import type { Owner } from '../../target.ts';
import { KubeApiError, type KubeClient } from './client.ts';
import { FIELD_MANAGER, labelValue, ownerLabels } from './objects.ts';

// What this agent owns, stored in the cluster itself (one ConfigMap per pipeline/stage), so a
// restarted or rescheduled agent still knows what to prune. Read once a round (by observe, or by
// the first call that needs it), then known from what was read or written; written only when it
// changes.

export interface InventoryEntry {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

export interface InventoryState {
  recordDigest?: string;
  bundleDigest?: string;
  objects: InventoryEntry[];
}

export function entryKey(e: InventoryEntry): string {
  return `${e.apiVersion}|${e.kind}|${e.namespace ?? ''}|${e.name}`;
}

export class ClusterInventory {
  readonly namespace: string;
  readonly name: string;
  private readonly client: KubeClient;
  private readonly owner: Owner;
  private last: string | undefined;
  private known: InventoryState | undefined;

  constructor(client: KubeClient, owner: Owner, namespace: string) {
    this.client = client;
    this.owner = owner;
    this.namespace = namespace;
    this.name = `promote-inventory-${labelValue(`${owner.pipeline}-${owner.stage}`).toLowerCase().replace(/[_.]/g, '-')}`.slice(0, 253);
  }

  get path(): string {
    return `/api/v1/namespaces/${encodeURIComponent(this.namespace)}/configmaps/${encodeURIComponent(this.name)}`;
  }

  async read(): Promise<InventoryState> {
    const res = await this.client.send('GET', this.path);
    if (res.status === 404) {
      this.last = undefined;
      this.known = { objects: [] };
      return this.known;
    }
    if (res.status !== 200) throw new KubeApiError('GET', this.path, res);
    const data = ((res.body as { data?: Record<string, string> }).data ?? {}) as Record<string, string>;
    const state: InventoryState = {
      ...(data.recordDigest ? { recordDigest: data.recordDigest } : {}),
      ...(data.bundleDigest ? { bundleDigest: data.bundleDigest } : {}),
      objects: data['objects.json'] ? (JSON.parse(data['objects.json']) as InventoryEntry[]) : [],
    };
    this.last = serialise(state);
    this.known = state;
    return state;
  }

  /** The state this process last read or wrote, else read now. */
  async current(): Promise<InventoryState> {
    return this.known ?? (await this.read());
  }

  /** Server-side applies the inventory unless it is unchanged since the last read or write. */
  async write(state: InventoryState): Promise<boolean> {
    const text = serialise(state);
    if (text === this.last) return false;
    const body = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: this.name, namespace: this.namespace, labels: ownerLabels(this.owner) },
      data: {
        'objects.json': JSON.stringify(sorted(state.objects)),
        ...(state.recordDigest ? { recordDigest: state.recordDigest } : {}),
        ...(state.bundleDigest ? { bundleDigest: state.bundleDigest } : {}),
        cluster: this.owner.cluster,
      },
    };
    this.known = undefined; // should the write fail, the next call reads what is there
    await this.client.call('PATCH', `${this.path}?fieldManager=${FIELD_MANAGER}&force=true`, body, 'application/apply-patch+yaml');
    this.last = text;
    this.known = { ...state, objects: [...state.objects] };
    return true;
  }
}

function sorted(objects: InventoryEntry[]): InventoryEntry[] {
  return [...objects].sort((a, b) => (entryKey(a) < entryKey(b) ? -1 : entryKey(a) > entryKey(b) ? 1 : 0));
}

function serialise(state: InventoryState): string {
  return JSON.stringify({ r: state.recordDigest ?? '', b: state.bundleDigest ?? '', o: sorted(state.objects) });
}
