import { visit } from 'yaml';
import { PromoteError, type Problem } from '../errors.ts';
import { resolveSchemaPath } from '../params/schema-path.ts';
import { isManifestPath, parseManifest, positionAt, textPosition } from './manifest-yaml.ts';
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

/** Every reference problem in the bundle's manifests (empty when all are declared). */
export function referenceProblems(files: readonly RenderInput[], layout: BundleLayout, schema: Record<string, unknown>): Problem[] {
  const problems: Problem[] = [];
  const report = (file: string, pos: { line: number; column: number }, ref: TemplateReference) => {
    const bad = check(ref, schema);
    if (bad) problems.push({ file, ...pos, rule: 'undeclared-reference', actual: ref.text, ...bad });
  };
  for (const f of files) {
    if (roleOf(f.path, layout) !== 'manifests') continue;
    if (isOnDisk(f)) continue; // a shipped file: never rendered, so never checked
    const text = decodeText(f.content);
    if (text === undefined || !hasTemplateSyntax(text)) continue;
    if (!isManifestPath(f.path)) {
      for (const ref of scanReferences(text)) report(f.path, textPosition(text, ref.index), ref);
      continue;
    }
    const manifest = parseManifest(f.path, text);
    if (manifest.problems.length) {
      problems.push(...manifest.problems);
      continue;
    }
    for (const doc of manifest.documents) {
      visit(doc, {
        Scalar(_key, node) {
          if (typeof node.value !== 'string' || !node.range || !hasTemplateSyntax(node.value)) return;
          for (const ref of scanReferences(node.value)) {
            const i = text.indexOf(ref.text, node.range[0]);
            report(f.path, positionAt(manifest, i >= 0 && i < node.range[2] ? i : node.range[0]), ref);
          }
        },
      });
    }
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
