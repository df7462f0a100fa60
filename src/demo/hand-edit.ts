import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { Reconciler } from '../agent/reconcile.ts';
import type { Target } from '../agent/target.ts';

// The demo's drift: a person edits a production cluster by hand — a file in a directory
// cluster, a Namespace label in Kubernetes — and the story checks it is put back.

export async function kubeContexts(file: string): Promise<string[]> {
  const { parse } = await import('yaml');
  const doc = parse(await readFile(file, 'utf8')) as { contexts?: { name?: string }[] } | null;
  return (doc?.contexts ?? []).map((c) => c.name).filter((n): n is string => typeof n === 'string');
}

export interface HandEdit {
  /** What the agents call the object (a file path, or `Kind namespace/name`). */
  id: string;
  where: string;
  what: string;
  /** Is it back to what the bundle says? */
  restored(): Promise<boolean>;
}

/** Changes one number in the first rendered manifest that has a `maxReplicas:` or `replicas:`. */
export async function dirHandEdit(dir: string, cwd: string): Promise<HandEdit> {
  const files: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.name.startsWith('.')) continue;
      if (e.isDirectory()) await walk(join(d, e.name));
      else if (/\.ya?ml$/.test(e.name)) files.push(join(d, e.name));
    }
  };
  await walk(dir);
  const pick = async (): Promise<{ f: string; text: string; m?: RegExpExecArray }> => {
    for (const f of files) {
      const text = await readFile(f, 'utf8');
      const m = /^(\s*)(maxReplicas|replicas): (\d+)\s*$/m.exec(text);
      if (m) return { f, text, m };
    }
    return { f: files[0]!, text: await readFile(files[0]!, 'utf8') };
  };
  const { f, text, m } = await pick();
  const to = m ? Number(m[3]) * 10 : 0;
  await writeFile(f, m ? text.replace(m[0], `${m[1]}${m[2]}: ${to}`) : `${text}# edited by hand\n`);
  const id = relative(dir, f).split(sep).join('/');
  return {
    id,
    where: relative(cwd, f).startsWith('..') ? f : relative(cwd, f),
    what: m ? `${m[2]} ${m[3]} → ${to}` : 'a line added',
    restored: async () => (await readFile(f, 'utf8')) === text,
  };
}

/** Relabels the bundle's Namespace in the cluster, as `kubectl label --overwrite` would. */
export async function kubeHandEdit(watcher: Reconciler, target: Target, render: { bundleDir: string; root: string; environment: string; cluster: string; stage: string }): Promise<HandEdit | undefined> {
  const { renderEnvironment } = await import('../bundle/render-environment.ts');
  const { files } = await renderEnvironment(render);
  type Doc = { kind?: string; metadata?: { name?: string; labels?: Record<string, string> } };
  const ns = files.flatMap((f) => (f.documents ?? []) as Doc[]).find((d) => d?.kind === 'Namespace' && d.metadata?.name && Object.keys(d.metadata.labels ?? {}).length);
  if (!ns) return undefined;
  const client = (target as unknown as { client: { call(method: string, path: string, body?: unknown, contentType?: string): Promise<unknown> } }).client;
  const name = ns.metadata!.name!;
  const [key, value] = Object.entries(ns.metadata!.labels!)[0]!;
  await watcher.round();
  const path = `/api/v1/namespaces/${encodeURIComponent(name)}`;
  await client.call('PATCH', `${path}?fieldManager=kubectl-edit`, { metadata: { labels: { [key]: 'edited-by-hand' } } }, 'application/merge-patch+json');
  return {
    id: `Namespace ${name}`,
    where: `kubectl label namespace ${name} ${key}=edited-by-hand --overwrite (cluster ${render.cluster})`,
    what: `${key} ${value} → edited-by-hand`,
    restored: async () => ((await client.call('GET', path)) as Doc).metadata?.labels?.[key] === value,
  };
}
