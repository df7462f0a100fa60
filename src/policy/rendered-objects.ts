import type { PolicyObject } from './evaluate.ts';

// The objects a render holds: each document of each manifest (YAML/JSON) that is a mapping, with
// where it came from. Files shipped as text or bytes are not Kubernetes objects; no rule sees
// them. One function for the policy gate (promotion/rendered-stage.ts) and the agent
// (agent/registry-source.ts), so both judge the same objects.

/** A rendered file as bundle/render.ts makes it (structurally). */
export interface RenderedFileLike {
  path: string;
  kind: string;
  documents?: unknown[];
}

/** The objects of rendered files; undefined when a manifest has no readable documents (the render failed). */
export function renderedObjects(files: readonly RenderedFileLike[]): { objects: PolicyObject[] } | { unreadable: string } {
  const objects: PolicyObject[] = [];
  for (const f of files) {
    if (f.kind !== 'manifest') continue;
    if (!f.documents) return { unreadable: f.path };
    f.documents.forEach((d, index) => {
      if (typeof d === 'object' && d !== null && !Array.isArray(d)) objects.push({ file: f.path, index, object: d as Record<string, unknown> });
    });
  }
  return { objects };
}
