import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { declaredCodes, ERRORS_DOC, errorCodesDoc } from '../../scripts/gen-error-codes.ts';

// The error-code tables type every `new PromoteError(code, …)` (tsc rejects an undeclared code);
// these tests keep the tables honest: listed in docs/errors.md, declared once, each one still
// raised somewhere, and their outcome (exit code) the one the code is really thrown with.

const src = join(import.meta.dirname, '..', '..', 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && e.name !== 'error-codes.ts')
    .map((e) => join(e.parentPath, e.name));
}

test('docs/errors.md is the generated list of error codes', async () => {
  const committed = await readFile(ERRORS_DOC, 'utf8');
  assert.ok(committed === (await errorCodesDoc()), 'docs/errors.md is stale: run `npm run docs:errors` and commit it');
});

test('no error code is declared by two modules', async () => {
  const seen = new Map<string, string>();
  const twice: string[] = [];
  for (const c of await declaredCodes()) {
    const first = seen.get(c.code);
    if (first !== undefined) twice.push(`${c.code}: ${first} and ${c.module}`);
    seen.set(c.code, c.module);
  }
  assert.deepEqual(twice, []);
});

test('every declared error code is still raised or matched somewhere in src/', async () => {
  const text = sourceFiles(src).map((f) => readFileSync(f, 'utf8')).join('\n');
  const unused = (await declaredCodes()).filter((c) => !text.includes(`'${c.code}'`)).map((c) => `${c.code} (${c.module})`);
  assert.deepEqual(unused, [], 'delete these codes from their error-codes.ts (and run npm run docs:errors)');
});

/** `new PromoteError('CODE', …, { outcome: 'x' })` and `{ code: 'CODE', outcome: 'x' }` with literal values. */
function literalSites(): { code: string; outcome: string; where: string }[] {
  const out: { code: string; outcome: string; where: string }[] = [];
  for (const file of sourceFiles(src)) {
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const where = (n: ts.Node) => `${relative(src, file)}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1}`;
    const literalOutcome = (props: ts.NodeArray<ts.ObjectLiteralElementLike> | undefined): string | undefined => {
      const p = props?.find((e) => e.name?.getText(sf) === 'outcome');
      if (p === undefined) return props?.some(ts.isSpreadAssignment) ? undefined : 'failed';
      return ts.isPropertyAssignment(p) && ts.isStringLiteral(p.initializer) ? p.initializer.text : undefined;
    };
    const visit = (n: ts.Node): void => {
      if (ts.isNewExpression(n) && n.expression.getText(sf) === 'PromoteError') {
        const [code, , options] = n.arguments ?? [];
        if (code && ts.isStringLiteral(code)) {
          const outcome = options === undefined ? 'failed' : ts.isObjectLiteralExpression(options) ? literalOutcome(options.properties) : undefined;
          if (outcome !== undefined) out.push({ code: code.text, outcome, where: where(n) });
        }
      } else if (ts.isObjectLiteralExpression(n)) {
        const code = n.properties.find((e) => e.name?.getText(sf) === 'code');
        const outcome = n.properties.find((e) => e.name?.getText(sf) === 'outcome');
        if (code && outcome && ts.isPropertyAssignment(code) && ts.isStringLiteral(code.initializer) && ts.isPropertyAssignment(outcome) && ts.isStringLiteral(outcome.initializer)) {
          out.push({ code: code.initializer.text, outcome: outcome.initializer.text, where: where(n) });
        }
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return out;
}

test('a code with an outcome in its table is thrown with that outcome wherever the outcome is written out', async () => {
  const tables = new Map((await declaredCodes()).map((c) => [c.code, c]));
  const sites = literalSites();
  assert.ok(sites.length > 100, `found the throw sites (${sites.length})`);
  const wrong = sites
    .filter((s) => tables.has(s.code))
    .filter((s) => tables.get(s.code)!.outcome !== undefined && tables.get(s.code)!.outcome !== s.outcome)
    .map((s) => `${s.where}: ${s.code} is thrown as ${s.outcome}, its table says ${tables.get(s.code)!.outcome}`);
  assert.deepEqual(wrong, [], 'fix the throw site, or drop the outcome from the table when the code really has several');
});
