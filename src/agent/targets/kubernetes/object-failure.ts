import type { KubeResponse, KubeStatus } from './client.ts';

// What a failed request means for one object: a PascalCase reason and a message naming it.

export interface Failure {
  id: string;
  reason: string;
  message: string;
}

export function statusMessage(res: KubeResponse): string {
  const st = res.body as KubeStatus | undefined;
  return (st?.message ?? res.text.slice(0, 300)).trim();
}

export function failureFor(id: string, kind: string, verb: string, res: KubeResponse): Failure {
  const msg = statusMessage(res);
  switch (res.status) {
    case 403:
      return { id, reason: 'Forbidden', message: `${kind} is forbidden to the agent (cannot ${verb} ${id}): ${msg}` };
    case 409:
      return { id, reason: 'Conflict', message: `conflict applying ${id}: ${msg}` };
    case 404:
      return { id, reason: 'NotFound', message: `cannot ${verb} ${id}: ${msg}` };
    case 422:
    case 400:
      return { id, reason: 'Invalid', message: `${id} is invalid: ${msg}` };
    default:
      return { id, reason: 'ApplyFailed', message: `cannot ${verb} ${id}: HTTP ${res.status} ${msg}` };
  }
}
