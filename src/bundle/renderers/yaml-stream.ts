import { PromoteError, type Problem } from '../../errors.ts';
import { manifestValues, parseManifest } from '../manifest-yaml.ts';
import type { InMemoryRenderedFile } from '../render.ts';
import { compareBytes } from '../walk.ts';

// What a renderer binary prints (a YAML stream) as rendered files, read by the same YAML rules
// as a bundle's own manifests (manifest-yaml.ts: duplicate keys refused, aliases bounded), so
// that the Kubernetes target applies and the directory target writes the same documents.

/** The documents of a YAML stream as texts: split at `---` lines (a marker at column 0 always ends a document, even inside a block scalar). */
export function splitYamlStream(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  const marker = /^---(?:[ \t].*)?$/gm;
  for (let m = marker.exec(text); m; m = marker.exec(text)) {
    if (m.index > start) out.push(text.slice(start, m.index));
    start = m.index;
    marker.lastIndex = m.index + m[0].length;
    if (marker.lastIndex === m.index) marker.lastIndex++;
  }
  if (start < text.length) out.push(text.slice(start));
  return out.filter((d) => /[^\s]/.test(d.replace(/^---.*$/m, '').replace(/^\s*#.*$/gm, '')));
}

/**
 * Files of documents (path → the texts of its documents, in order) as rendered manifests; a
 * document that does not parse is a RENDER_FAILED problem naming `what`, never skipped.
 */
export function renderedFiles(files: ReadonlyMap<string, readonly string[]>, what: string): InMemoryRenderedFile[] {
  const problems: Problem[] = [];
  const out: InMemoryRenderedFile[] = [];
  for (const [path, docs] of files) {
    const content = docs.map((d) => (d.startsWith('---') ? d : `---\n${d}`)).map((d) => (d.endsWith('\n') ? d : `${d}\n`)).join('');
    const manifest = parseManifest(path, content);
    if (manifest.problems.length) {
      problems.push(...manifest.problems);
      continue;
    }
    const values = manifestValues(manifest);
    if ('problem' in values) {
      problems.push(values.problem);
      continue;
    }
    out.push({ path, kind: 'manifest', content, documents: values.values });
  }
  if (problems.length) {
    const first = problems[0]!;
    throw new PromoteError('RENDER_FAILED', `${what} printed YAML promote cannot read: ${first.file}:${first.line ?? '?'}: ${first.message}`, {
      outcome: 'verification',
      problems,
      hint: 'the output of the bundle\'s renderer must be Kubernetes YAML; run the renderer by hand to see it',
    });
  }
  return out.sort((a, b) => compareBytes(a.path, b.path));
}
