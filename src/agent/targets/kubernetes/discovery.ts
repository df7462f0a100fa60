import type { KubeClient } from './client.ts';

// Discovery → REST mapping, one group/version at a time and only for the versions a bundle uses.
// Aggregated APIs make whole-cluster discovery fragile: an APIService whose backend is down
// answers 503 for its group (kube-prometheus' v1beta1.metrics.k8s.io without the adapter), and
// that must cost only the objects of that group, never the rest of the bundle.

export interface ResourceMapping {
  group: string;
  version: string;
  kind: string;
  /** Plural resource name, e.g. `deployments`. */
  resource: string;
  namespaced: boolean;
  /** Subresources the server serves for it, e.g. `status`. */
  subresources: string[];
}

export type MappingFailure = 'KindNotServed' | 'DiscoveryFailed';

export class MappingError extends Error {
  override readonly name = 'MappingError';
  readonly reason: MappingFailure;
  constructor(reason: MappingFailure, message: string) {
    super(message);
    this.reason = reason;
  }
}

interface ApiResource {
  name: string;
  kind: string;
  namespaced: boolean;
}

type GroupVersionEntry = ({ resources: ApiResource[] } | { error: MappingError }) & { at: number; epoch: number };

/** Resource names do not change under a running agent; what discovery found is re-read this often all the same. */
const REDISCOVER_MS = 15 * 60_000;

export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

export function groupVersionPath(group: string, version: string): string {
  return group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
}

/** The URL path of a collection (name omitted) or of one object. */
export function objectPath(m: ResourceMapping, namespace: string | undefined, name?: string, subresource?: string): string {
  let p = groupVersionPath(m.group, m.version);
  if (m.namespaced) p += `/namespaces/${encodeURIComponent(namespace ?? 'default')}`;
  p += `/${m.resource}`;
  if (name !== undefined) p += `/${encodeURIComponent(name)}`;
  if (subresource) p += `/${subresource}`;
  return p;
}

/**
 * What discovery found, kept for the life of the agent (one discovery per group version used,
 * not one per round): a group version is read again when a kind is missing from what was read
 * before the current epoch (a CRD applied since; `newEpoch` is called each round and once CRDs
 * are established), when its discovery failed (a 503 may heal), or after REDISCOVER_MS.
 */
export class RestMapper {
  private readonly client: KubeClient;
  private readonly cache = new Map<string, GroupVersionEntry>();
  private epoch = 0;

  constructor(client: KubeClient) {
    this.client = client;
  }

  /** From now on a kind missing from an earlier discovery, or a failed one, is looked up again (once). */
  newEpoch(): void {
    this.epoch++;
  }

  async map(apiVersion: string, kind: string): Promise<ResourceMapping> {
    const { group, version } = splitApiVersion(apiVersion);
    let entry = this.cache.get(apiVersion);
    const missing = (e: GroupVersionEntry): boolean => 'error' in e || !e.resources.some((r) => r.kind === kind && !r.name.includes('/'));
    if (!entry || Date.now() - entry.at > REDISCOVER_MS || (entry.epoch < this.epoch && missing(entry))) {
      entry = await this.discover(group, version, apiVersion, kind);
      this.cache.set(apiVersion, entry);
    }
    if ('error' in entry) {
      const e = entry.error;
      // The cached failure names the kind it was first found for; name this one.
      throw new MappingError(e.reason, e.reason === 'KindNotServed' ? `${kind} (${apiVersion}) is not served by this API server: ${e.message}` : `${kind} (${apiVersion}): ${e.message}`);
    }
    const all = entry.resources;
    const res = all.find((r) => r.kind === kind && !r.name.includes('/'));
    if (!res) {
      throw new MappingError('KindNotServed', `${kind} (${apiVersion}) is not served by this API server: ${apiVersion} has no kind ${kind}`);
    }
    const subresources = all.filter((r) => r.name.startsWith(`${res.name}/`)).map((r) => r.name.slice(res.name.length + 1));
    return { group, version, kind, resource: res.name, namespaced: res.namespaced, subresources };
  }

  private async discover(group: string, version: string, apiVersion: string, kind: string): Promise<GroupVersionEntry> {
    const res = await this.client.send('GET', groupVersionPath(group, version));
    const stamp = { at: Date.now(), epoch: this.epoch };
    if (res.status === 200) {
      const body = res.body as { resources?: ApiResource[] } | undefined;
      // Only what mapping needs: discovery bodies also list verbs, short names, categories.
      return { resources: (body?.resources ?? []).map((r) => ({ name: r.name, kind: r.kind, namespaced: r.namespaced })), ...stamp };
    }
    if (res.status === 404) {
      return { error: new MappingError('KindNotServed', `the API group version ${apiVersion} does not exist`), ...stamp };
    }
    const msg = (res.body as { message?: string } | undefined)?.message ?? res.text.slice(0, 200);
    return { error: new MappingError('DiscoveryFailed', `discovery of ${apiVersion} failed with HTTP ${res.status} (${msg.trim()}) while mapping ${kind}`), ...stamp };
  }
}
