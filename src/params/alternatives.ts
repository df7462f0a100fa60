import type { ErrorObject } from 'ajv/dist/2020.js';

// ajv with allErrors reports, for a failed anyOf/oneOf, every error of every alternative plus the
// combinator's own — a wall of text in which the one useful line hides. Like a compiler picking
// the overload that came closest, keep only the alternative that matched best:
// - an alternative whose type did not even match the value is out;
// - of the rest, the one with the fewest errors wins (the first on a tie), and the combinator's
//   own error goes;
// - when every alternative only lacks one required property, one problem says which are possible;
// - when no alternative has the value's type, only the combinator's error stays (problems
//   describe the alternatives).
// Errors are attributed to an alternative by schemaPath; errors reached through a $ref carry the
// $ref target's path, so errors just before the combinator that no alternative claims form one
// more (unnamed) alternative.

interface Branch {
  key: string;
  errors: ErrorObject[];
}

function depth(pointer: string): number {
  return pointer === '' ? 0 : pointer.split('/').length;
}

function isUnder(pointer: string, base: string): boolean {
  return pointer === base || pointer.startsWith(`${base}/`);
}

export function pruneAlternatives(input: readonly ErrorObject[]): ErrorObject[] {
  let errors = [...input];
  const combos = errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf').sort((a, b) => depth(b.instancePath) - depth(a.instancePath));
  for (const combo of combos) {
    const at = errors.indexOf(combo);
    if (at < 0) continue;
    // The contiguous run of errors before the combinator, all at or below its value.
    let start = at;
    while (start > 0 && isUnder(errors[start - 1]!.instancePath, combo.instancePath)) start--;
    const prefix = `${combo.schemaPath}/`;
    const branches: Branch[] = [];
    let unclaimed: Branch | undefined;
    for (const e of errors.slice(start, at)) {
      if (e.schemaPath.startsWith(prefix)) {
        const key = e.schemaPath.slice(prefix.length).split('/')[0]!;
        let b = branches.find((x) => x.key === key);
        if (!b) branches.push((b = { key, errors: [] }));
        b.errors.push(e);
      } else {
        if (!unclaimed) branches.push((unclaimed = { key: '$ref', errors: [] }));
        unclaimed.errors.push(e);
      }
    }
    if (branches.length === 0) continue; // oneOf failing because several alternatives matched
    const claimed = new Set(branches.flatMap((b) => b.errors));
    const onlyRequired = branches.every((b) => b.errors.length === 1 && b.errors[0]!.keyword === 'required' && b.errors[0]!.instancePath === combo.instancePath);
    if (onlyRequired && branches.length > 1) {
      const names = branches.map((b) => String((b.errors[0]!.params as { missingProperty: string }).missingProperty));
      const merged: ErrorObject = { ...combo, keyword: 'required', params: { missingProperty: names[0]!, alternatives: names, exactlyOne: combo.keyword === 'oneOf' } };
      errors = errors.filter((e) => !claimed.has(e)).map((e) => (e === combo ? merged : e));
      continue;
    }
    const typeMismatch = (b: Branch) => b.errors.some((e) => e.keyword === 'type' && e.instancePath === combo.instancePath);
    const viable = branches.filter((b) => !typeMismatch(b));
    if (viable.length === 0) {
      errors = errors.filter((e) => !claimed.has(e));
      continue;
    }
    const best = viable.reduce((a, b) => (b.errors.length < a.errors.length ? b : a));
    const keep = new Set(best.errors);
    errors = errors.filter((e) => e !== combo && (!claimed.has(e) || keep.has(e)));
  }
  return errors;
}

/** "string, or an object with \"key\", or …": what the alternatives of a combinator accept. */
export function describeAlternatives(schemas: unknown): string | undefined {
  if (!Array.isArray(schemas)) return undefined;
  const parts = schemas.map((s) => {
    const o = (s ?? {}) as Record<string, unknown>;
    if (o.const !== undefined) return JSON.stringify(o.const);
    if (Array.isArray(o.enum)) return o.enum.map((v) => JSON.stringify(v)).join(' | ');
    const type = Array.isArray(o.type) ? o.type.join(' | ') : typeof o.type === 'string' ? o.type : typeof o.$ref === 'string' ? o.$ref.split('/').pop() : 'a value';
    const required = Array.isArray(o.required) && o.required.length ? ` with ${o.required.map((r) => `"${r}"`).join(', ')}` : '';
    return `${type}${required}`;
  });
  return parts.join(', or ');
}
