import { visit } from 'yaml';
import { PromoteError, type Problem } from '../errors.ts';
import { resolveSchemaPath } from '../params/schema-path.ts';
import { isManifestPath, pointerOf, positionAt, readManifest, textPosition, type ParsedManifest } from './manifest-yaml.ts';
import { decodeText, isOnDisk, roleOf, type BundleLayout, type RenderInput } from './render.ts';
import { hasTemplateSyntax, scanReferences, type TemplateReference } from './template.ts';

// Build-time check (DESIGN.md §4): every `${params.…}` in manifests/ must name a property the
// parameter schema declares, and every `${promote.…}` must be a built-in. A typo fails
// `promote build` with file:line:column — never a deploy, and never an empty string in production.

export interface ReferenceUse {
  file: string;
  line: number;
  column: number;
  reference: string;
}

function check(ref: TemplateReference, schema: Record<string, unknown>): { message: string; hint?: string; expected?: string } | undefined {
  if (ref.escaped) return undefined;
  if (ref.malformed) return { message: ref.malformed };
  if (ref.scope === 'promote') return undefined;
  const r = resolveSchemaPath(schema, ref.path);
  if (r.ok) return undefined;
  return {
    message: `${ref.text} refers to parameter "${r.missing}", which the parameter schema does not declare`,
    expected: r.candidates.length ? `a declared parameter${r.at ? ` under "${r.at}"` : ''}: ${r.candidates.join(', ')}` : 'a declared parameter',
    hint: r.hint ?? 'declare it in the parameter schema (with a type, and a default if environments may omit it)',
  };
}

function reporter(problems: Problem[], schema: Record<string, unknown>) {
  return (file: string, pos: { line: number; column: number }, ref: TemplateReference, pointer?: string) => {
    const bad = check(ref, schema);
    if (bad) problems.push({ file, ...pos, ...(pointer !== undefined && { pointer }), rule: 'undeclared-reference', actual: ref.text, ...bad });
  };
}

/** Reference problems in a manifest read without problems (readManifest). */
export function manifestReferenceProblems(manifest: ParsedManifest, schema: Record<string, unknown>): Problem[] {
  const problems: Problem[] = [];
  if (!hasTemplateSyntax(manifest.text)) return problems;
  const report = reporter(problems, schema);
  for (const doc of manifest.documents) {
    visit(doc, {
      Scalar(_key, node, path) {
        if (typeof node.value !== 'string' || !node.range || !hasTemplateSyntax(node.value)) return;
        for (const ref of scanReferences(node.value)) {
          const i = manifest.text.indexOf(ref.text, node.range[0]);
          report(manifest.path, positionAt(manifest, i >= 0 && i < node.range[2] ? i : node.range[0]), ref, pointerOf(path, node));
        }
      },
    });
  }
  return problems;
}

/** Reference problems in another text file of manifests/ (substituted as text). */
export function textReferenceProblems(path: string, text: string, schema: Record<string, unknown>): Problem[] {
  const problems: Problem[] = [];
  const report = reporter(problems, schema);
  for (const ref of scanReferences(text)) report(path, textPosition(text, ref.index), ref);
  return problems;
}

/** Every reference problem in the bundle's manifests (empty when all are declared); a manifest that cannot be read reports why. */
export function referenceProblems(files: readonly RenderInput[], layout: BundleLayout, schema: Record<string, unknown>): Problem[] {
  const problems: Problem[] = [];
  for (const f of files) {
    if (roleOf(f.path, layout) !== 'manifests') continue;
    if (isOnDisk(f)) continue; // a shipped file: never rendered, so never checked
    if (isManifestPath(f.path)) {
      const manifest = readManifest(f.path, f.content);
      problems.push(...(manifest.problems.length ? manifest.problems : manifestReferenceProblems(manifest, schema)));
      continue;
    }
    const text = decodeText(f.content);
    if (text !== undefined && hasTemplateSyntax(text)) problems.push(...textReferenceProblems(f.path, text, schema));
  }
  return problems;
}

/**
 * Throws UNDECLARED_REFERENCE (exit 4) listing every `${params.…}` the schema does not declare
 * (and every malformed reference). Pass the *effective* parameter schema (parameter-schema.ts),
 * so secret properties resolve to their {secretRef: {name, key}} shape.
 */
export function checkReferences(files: readonly RenderInput[], layout: BundleLayout, schema: Record<string, unknown>): void {
  const problems = referenceProblems(files, layout, schema);
  if (problems.length === 0) return;
  const n = problems.length;
  throw new PromoteError('UNDECLARED_REFERENCE', `the manifests use ${n} reference${n === 1 ? '' : 's'} the parameter schema does not declare`, {
    outcome: 'verification',
    problems,
    hint: 'declare each parameter in the schema, or fix the reference; write $${params.…} for a literal ${params.…}',
  });
}
