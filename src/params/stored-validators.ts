import { lstatSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { writtenByUser } from '../cache-root.ts';

// Compiled validators kept between runs (issue 15: `promote render` of a chart paid ~30 ms to load
// ajv and compile the bundle's parameter schema, in every run, for a schema that had not changed).
// Each is the code ajv generates for one schema (https://ajv.js.org/standalone.html), stored
// under a key that names everything the code depends on (schema-validator.ts), as a CommonJS
// module that exports a factory: the modules the code asks for are handed to it by the caller
// (`need`), so a stored validator runs against this installation's ajv, whichever installation
// wrote it, and can reach nothing else. Loaded synchronously (require): validators are compiled
// synchronously, and Node's compile cache then keeps the parsed module too.
//
// Running stored code is safe only if no one else can have written it: a file is used only when
// it and its directory are this user's alone (writtenByUser, src/cache-root.ts). Anything else —
// missing, foreign, unreadable, damaged — is a miss: the schema is compiled as if nothing were
// stored.

/** How many validators are kept; beyond that, the oldest written go first. */
export const STORED_VALIDATORS_MAX = 256;
/** A module of this form: a module of another form, under the same key, is never loaded. */
const FORM = 'promote stored validator v1';

export type Need = (id: string) => unknown;

let where: string | undefined;

/**
 * Keep compiled validators in `dir` (the CLI: `<cache root>/validators`), or nowhere (undefined,
 * the default: a library caller writes nothing it did not ask for).
 */
export function storeValidatorsIn(dir: string | undefined): void {
  where = dir;
}

export function storesValidators(): boolean {
  return where !== undefined;
}

const fileOf = (dir: string, key: string) => join(dir, `${key}.cjs`);

/** The stored validator under `key`, given the modules it asks for; undefined when there is none to trust. */
export function loadStored<T>(key: string, need: Need): T | undefined {
  if (where === undefined) return undefined;
  const file = fileOf(where, key);
  try {
    if (!writtenByUser(lstatSync(where, { throwIfNoEntry: false }), 'directory') || !writtenByUser(lstatSync(file, { throwIfNoEntry: false }), 'file')) return undefined;
    // A require of the file's own (the single executable's require loads only Node's modules).
    const stored = createRequire(file)(file) as { form?: unknown; key?: unknown; create?: unknown };
    if (stored.form !== FORM || stored.key !== key || typeof stored.create !== 'function') return undefined;
    const made = (stored.create as (need: Need) => unknown)(need);
    return typeof made === 'function' ? (made as T) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The module text for `code` (ajv's standalone CommonJS output), which assigns `module.exports`
 * and calls `require`: both are the factory's own here. A file cut short anywhere is a syntax
 * error (the factory closes on its last line), never a shorter validator.
 */
export function storedModule(key: string, code: string): string {
  return [
    '"use strict";',
    '// Compiled by promote (src/params/stored-validators.ts); safe to delete.',
    `exports.form = ${JSON.stringify(FORM)};`,
    `exports.key = ${JSON.stringify(key)};`,
    'exports.create = function (require) {',
    'const module = { exports: {} };',
    code,
    ';return module.exports;',
    '};',
    '',
  ].join('\n');
}

let pending: Promise<void> = Promise.resolve();

/**
 * Stores `code` under `key` in the background (atomically: a reader sees the whole module or
 * none), then removes the oldest beyond STORED_VALIDATORS_MAX. Failures are ignored: a validator
 * not stored is compiled again next time. The returned promise (also `storing()`) never rejects.
 */
export function store(key: string, code: string): Promise<void> {
  const dir = where;
  if (dir === undefined) return pending;
  pending = pending.then(async () => {
    try {
      const [{ mkdir, rm }, { writeFileAtomic }] = await Promise.all([import('node:fs/promises'), import('../write-file-atomic.ts')]);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      // mkdir leaves an existing directory as it is: one that is not ours is not written into.
      if (!writtenByUser(lstatSync(dir), 'directory')) return;
      await writeFileAtomic(fileOf(dir, key), storedModule(key, code), { mode: 0o644 });
      const names = readdirSync(dir).filter((n) => n.endsWith('.cjs'));
      if (names.length > STORED_VALIDATORS_MAX) {
        const byAge = names.map((n) => ({ n, t: statSync(join(dir, n), { throwIfNoEntry: false })?.mtimeMs ?? 0 })).sort((a, b) => a.t - b.t);
        for (const { n } of byAge.slice(0, names.length - STORED_VALIDATORS_MAX)) await rm(join(dir, n), { force: true });
      }
    } catch {
      // best effort: see above
    }
  });
  return pending;
}

/** Settles when every store started so far has finished (or failed). */
export function storing(): Promise<void> {
  return pending;
}
