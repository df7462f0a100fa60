import type { CodeTable } from '../errors.ts';

// The error codes of params/ (documents, environments and parameters): what each means and, when every failure with it
// ends the same way, its outcome (exit code). docs/errors.md lists them (npm run docs:errors).
export const paramsErrorCodes = {
  BUNDLE_AMBIGUOUS: { meaning: 'the project has several bundles and the environments do not say which one they parameterise', outcome: 'usage' },
  CLUSTER_NOT_FOUND: { meaning: 'the environment has no cluster of that name', outcome: 'usage' },
  DOCUMENT_INVALID: { meaning: 'a YAML or JSON document does not parse (syntax, duplicate key, several documents)', outcome: 'verification' },
  DOCUMENT_NOT_FOUND: { meaning: 'a document to read does not exist', outcome: 'failed' },
  DOCUMENT_TOO_LARGE: { meaning: 'a document is over its size limit', outcome: 'verification' },
  DOCUMENT_UNREADABLE: { meaning: 'a document cannot be read (not a regular file, no permission)', outcome: 'failed' },
  ENVIRONMENT_AMBIGUOUS: { meaning: 'an environment has both a .yaml and a .yml file', outcome: 'usage' },
  ENVIRONMENT_INVALID: { meaning: 'an environment file does not match the environment schema', outcome: 'verification' },
  ENVIRONMENT_NOT_FOUND: { meaning: 'no environment of that name in environments/', outcome: 'failed' },
  PARAMETERS_INVALID: { meaning: 'parameter values do not satisfy the bundle\'s parameter schema', outcome: 'verification' },
  SCHEMA_INVALID: { meaning: 'a parameter schema is not a usable JSON Schema (e.g. a pattern that cannot match in linear time)', outcome: 'verification' },
  SCHEMA_NOT_FOUND: { meaning: 'the parameter schema file does not exist', outcome: 'verification' },
  SCHEMA_VIOLATION: { meaning: 'a document does not match its schema', outcome: 'verification' },
  VALIDATION_FAILED: { meaning: 'promote validate found problems in the project', outcome: 'verification' },
} as const satisfies CodeTable;

type ParamsErrorCodes = typeof paramsErrorCodes;

declare module '../errors.ts' {
  interface ErrorCodes extends ParamsErrorCodes {}
}
