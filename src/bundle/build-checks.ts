import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PromoteError } from '../errors.ts';
import { parameterSchema } from '../params/parameter-schema.ts';
import type { LoadedBundleFile } from './bundle-file.ts';
import { referenceProblems } from './references.ts';
import { roleOf, type SourceFile } from './render.ts';
import { SECRET_HINT, secretObjectProblems } from './secrets.ts';
import type { WalkEntry } from './walk.ts';

// What `promote build` refuses beyond a broken bundle.yaml (issue 4): a `${params.…}` the
// parameter schema does not declare, and a Secret carrying values (unless allowSecrets). Both
// are found in one pass and reported together, so one failed build lists everything to fix.

export async function checkBundleContent(bundleFile: LoadedBundleFile, entries: readonly WalkEntry[]): Promise<void> {
  const layout = { manifests: bundleFile.spec.manifests, ...(bundleFile.spec.files !== undefined && { files: bundleFile.spec.files }) };
  const files: SourceFile[] = await Promise.all(
    entries.filter((e) => e.type === 'file' && roleOf(e.path, layout) === 'manifests').map(async (e) => ({ path: e.path, content: await readFile(e.source) })),
  );
  const schema = parameterSchema(bundleFile.parameterSchema, join(bundleFile.dir, bundleFile.spec.parameters));
  const references = referenceProblems(files, layout, schema.effective);
  const secrets = bundleFile.spec.allowSecrets ? [] : secretObjectProblems(files, layout);
  if (references.length === 0 && secrets.length === 0) return;
  const problems = [...references, ...secrets];
  const n = problems.length;
  const code = secrets.length === 0 ? 'UNDECLARED_REFERENCE' : references.length === 0 ? 'SECRET_IN_BUNDLE' : 'BUNDLE_INVALID';
  const what = [references.length && `${references.length} undeclared reference${references.length === 1 ? '' : 's'}`, secrets.length && `${secrets.length} Secret value set${secrets.length === 1 ? '' : 's'}`].filter(Boolean).join(' and ');
  throw new PromoteError(code, `cannot build ${bundleFile.spec.name}: ${what} in the manifests (${n} problem${n === 1 ? '' : 's'})`, {
    outcome: 'verification',
    problems,
    hint: [references.length && 'declare every ${params.…} in the parameter schema (or write $${params.…} for literal text)', secrets.length && SECRET_HINT].filter(Boolean).join('; '),
    details: { dir: bundleFile.dir },
  });
}
