import { readAsset } from '../assets.ts';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import type { ParsedDocument } from './document.ts';
import { validateDocumentWith } from './document.ts';
import * as generated from './generated/project-schema-validators.ts';

// The JSON Schemas of promote's own documents live in schemas/ at the package root (shipped in
// the npm package and embedded in the binary: src/assets.ts; editors reference them via
// `# yaml-language-server: $schema=…`).

export type ProjectSchemaName = 'bundle' | 'environment' | 'pipeline';

const loaded = new Map<ProjectSchemaName, object>();

export function projectSchema(name: ProjectSchemaName): object {
  let schema = loaded.get(name);
  if (!schema) {
    schema = JSON.parse(readAsset(`schemas/${name}.schema.json`)) as object;
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
