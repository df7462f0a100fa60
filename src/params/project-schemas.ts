import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import type { ParsedDocument } from './document.ts';
import { validateDocumentWith } from './document.ts';
import * as generated from './generated/project-schema-validators.ts';

// The JSON Schemas of promote's own documents live in schemas/ at the package root (shipped in
// the npm package, and referenced by editors via `# yaml-language-server: $schema=…`). The same
// relative path works from src/params/ in a checkout and from dist/params/ when installed.

export type ProjectSchemaName = 'bundle' | 'environment' | 'pipeline';

const loaded = new Map<ProjectSchemaName, object>();

export function projectSchemaPath(name: ProjectSchemaName): string {
  return fileURLToPath(new URL(`../../schemas/${name}.schema.json`, import.meta.url));
}

export function projectSchema(name: ProjectSchemaName): object {
  let schema = loaded.get(name);
  if (!schema) {
    schema = JSON.parse(readFileSync(projectSchemaPath(name), 'utf8')) as object;
    loaded.set(name, schema);
  }
  return schema;
}

const KIND: Record<ProjectSchemaName, string> = { bundle: 'Bundle', environment: 'Environment', pipeline: 'Pipeline' };

/**
 * Validates a parsed bundle.yaml / environment / pipeline against its schema (defaults filled in),
 * with the validator generated ahead of time from that schema (scripts/gen-schema-validators.ts):
 * compiling it with ajv at every start cost more than the rest of a small `promote build`.
 */
export function validateProjectDocument(name: ProjectSchemaName, doc: ParsedDocument): void {
  validateDocumentWith(generated[name] as ValidateFunction, projectSchema(name), doc, KIND[name]);
}
