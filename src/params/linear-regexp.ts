import { createRequire } from 'node:module';
import type { RE2JS as RE2JSClass } from 're2js';
import { PromoteError } from '../errors.ts';

// Schema patterns run in linear time (issue 12 §14). JavaScript's RegExp backtracks: a pattern
// such as `^(a+)+$` against 40 characters runs for minutes, and a parameter schema comes from a
// bundle — so `validate`, `to` and the agent (whose probes share the event loop) could be made
// to hang by one schema. Every `pattern`, `patternProperties` key and `format: "regex"` value
// is matched by RE2 (re2js, a pure-JavaScript port of Go's regexp), whose matching time is linear
// in the input. RE2 has no backreferences or lookaround; a pattern using them is refused with
// its schema pointer instead of silently running on the backtracking engine.

const require = createRequire(import.meta.url);
let re2: typeof RE2JSClass | undefined;
const engine = (): typeof RE2JSClass => (re2 ??= (require('re2js') as { RE2JS: typeof RE2JSClass }).RE2JS);

/** Compiles a JSON Schema (ECMA-262) pattern for RE2; throws the RE2 syntax error when it cannot. */
export function compileLinear(pattern: string): RE2JSClass {
  const RE2JS = engine();
  return RE2JS.compile(RE2JS.translateRegExp(pattern));
}

/** ajv's `code.regExp` engine: RE2 behind the one method ajv calls, `test`. */
export function linearRegExp(pattern: string, _flags: string): { test(s: string): boolean; toString(): string } {
  const re = compileLinear(pattern);
  return { test: (s: string) => re.matcher(s).find(), toString: () => `re2:${pattern}` };
}
// How the code of a stored validator (stored-validators.ts) asks for it; schema-validator.ts hands
// it over. (The generated validators in src/params/generated/ are for promote's own schemas and
// keep native RegExp; see the gen script.)
linearRegExp.code = 'require("promote:linear-regexp").linearRegExp';

/** The `format: "regex"` check: a value is a regex when RE2 can compile it. */
export function isLinearRegExp(value: string): boolean {
  try {
    compileLinear(value);
    return true;
  } catch {
    return false;
  }
}

const DATA_KEYWORDS = new Set(['const', 'enum', 'default', 'examples']);

/**
 * Finds every pattern in a schema (`pattern`, `patternProperties` keys) and checks RE2 can run
 * it, walking iteratively (the schema's depth was checked, but this must not overflow either).
 * Throws SCHEMA_INVALID naming the JSON pointer of the first that cannot.
 */
export function checkSchemaPatterns(schema: unknown, file: string): void {
  const stack: [unknown, string][] = [[schema, '']];
  const refuse = (pointer: string, pattern: string, err: unknown): never => {
    const why = (err as Error).message.replace(/^error parsing regexp: /, '');
    throw new PromoteError('SCHEMA_INVALID', `${file}: the pattern at ${pointer} cannot be matched in linear time (${why})`, {
      outcome: 'verification',
      problems: [{ file, pointer, rule: 'pattern', message: `RE2 cannot run ${JSON.stringify(pattern)}: ${why}`, expected: 'a regular expression without backreferences (\\1) or lookaround ((?=…), (?!…), (?<=…), (?<!…))' }],
      hint: 'promote matches schema patterns with RE2 (linear time, so no schema can hang validation): rewrite the pattern without backreferences or lookaround',
      details: { file, pointer },
    });
  };
  const esc = (k: string) => k.replace(/~/g, '~0').replace(/\//g, '~1');
  while (stack.length) {
    const [node, pointer] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (Array.isArray(node)) {
      node.forEach((child, i) => stack.push([child, `${pointer}/${i}`]));
      continue;
    }
    for (const [key, value] of Object.entries(node)) {
      if (DATA_KEYWORDS.has(key)) continue;
      const at = `${pointer}/${esc(key)}`;
      if (key === 'pattern' && typeof value === 'string') {
        try {
          compileLinear(value);
        } catch (err) {
          refuse(at, value, err);
        }
      } else if (key === 'patternProperties' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
        for (const p of Object.keys(value)) {
          try {
            compileLinear(p);
          } catch (err) {
            refuse(`${at}/${esc(p)}`, p, err);
          }
        }
      }
      if (value !== null && typeof value === 'object') stack.push([value, at]);
    }
  }
}
