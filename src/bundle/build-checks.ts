import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { PromoteError, type Problem } from '../errors.ts';
import { parameterSchema } from '../params/parameter-schema.ts';
import type { LoadedBundleFile } from './bundle-file.ts';
import { contentMarks, MAY_HOLD_SECRET, MAY_REFERENCE } from './content-marks.ts';
import { referenceProblems } from './references.ts';
import { roleOf, type SourceFile } from './render.ts';
import { SECRET_HINT, secretObjectProblems } from './secrets.ts';
import type { WalkEntry } from './walk.ts';

// What `promote build` refuses beyond a broken bundle.yaml (issue 4): a `${params.…}` the
// parameter schema does not declare, and a Secret carrying values (unless allowSecrets). Both
// are found in one pass and reported together, so one failed build lists everything to fix.

/**
 * `marks` (path → contentMarks) are what packing already found in the files it read: those files
 * are not read a second time here, and the unmarked ones not at all. Files without an entry (not
 * read yet, or large) are read here.
 */
export async function checkBundleContent(bundleFile: LoadedBundleFile, entries: readonly WalkEntry[], marks?: ReadonlyMap<string, number>): Promise<void> {
  const layout = { manifests: bundleFile.spec.manifests, ...(bundleFile.spec.files !== undefined && { files: bundleFile.spec.files }) };
  const schema = parameterSchema(bundleFile.parameterSchema, join(bundleFile.dir, bundleFile.spec.parameters));
  // One file at a time (both checks are per file), read into one reused buffer, and only files
  // that can hold a problem are copied and parsed (a reference needs "{params." or "{promote.",
  // a Secret the word): memory stays flat however large manifests/ is. Reads are synchronous:
  // thousands of small manifests cost no thread-pool round trips.
  const allowSecrets = bundleFile.spec.allowSecrets;
  const references: Problem[] = [];
  const secrets: Problem[] = [];
  let scratch = Buffer.allocUnsafeSlow(64 * 1024);
  const read = (path: string): Buffer => {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      if (scratch.length < size) scratch = Buffer.allocUnsafeSlow(size);
      let n = 0;
      for (let r = 1; n < size && r > 0; n += r) r = readSync(fd, scratch, n, size - n, n);
      return scratch.subarray(0, n);
    } finally {
      closeSync(fd);
    }
  };
  const needed = (m: number): boolean => (m & MAY_REFERENCE) !== 0 || (!allowSecrets && (m & MAY_HOLD_SECRET) !== 0);
  for (const e of entries) {
    if (e.type !== 'file' || roleOf(e.path, layout) !== 'manifests') continue;
    const known = marks?.get(e.path);
    if (known !== undefined && !needed(known)) continue;
    const view = read(e.source);
    if (!needed(contentMarks(view))) continue;
    const file: SourceFile[] = [{ path: e.path, content: Buffer.from(view) }];
    references.push(...referenceProblems(file, layout, schema.effective));
    if (!allowSecrets) secrets.push(...secretObjectProblems(file, layout));
  }
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
