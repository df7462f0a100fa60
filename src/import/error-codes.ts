import type { CodeTable } from '../errors.ts';

// The error codes of import/ (promote import): what each means and, when every failure with it
// ends the same way, its outcome (exit code). docs/errors.md lists them (npm run docs:errors).
export const importErrorCodes = {
  IMPORT_CHART_INVALID: { meaning: 'the chart given to import --helm is not a chart directory (no Chart.yaml)', outcome: 'usage' },
  IMPORT_CLUSTERS_INVALID: { meaning: 'the clusters given for the environments name an unknown environment or an invalid cluster name', outcome: 'usage' },
  IMPORT_ENVIRONMENT_DUPLICATE: { meaning: 'two sources are the same environment', outcome: 'usage' },
  IMPORT_ENVIRONMENT_NAME_INVALID: { meaning: 'a source cannot name an environment (not a DNS label)', outcome: 'usage' },
  IMPORT_NAME_INVALID: { meaning: 'the name cannot name a bundle and pipeline', outcome: 'usage' },
  IMPORT_NO_ENVIRONMENTS: { meaning: 'nothing to import: no environment was given', outcome: 'usage' },
  IMPORT_OBJECT_DUPLICATE: { meaning: 'an environment renders the same object twice', outcome: 'verification' },
  IMPORT_OBJECT_INVALID: { meaning: 'a rendered document is not a Kubernetes object (apiVersion, kind, metadata.name)', outcome: 'verification' },
  IMPORT_OUTPUT_NOT_EMPTY: { meaning: 'the import output exists and is not an empty directory', outcome: 'usage' },
  IMPORT_OUTPUT_UNWRITABLE: { meaning: 'the import output cannot be written', outcome: 'failed' },
  IMPORT_SOURCE_INVALID: { meaning: 'a source holds a file that is not Kubernetes YAML promote can read', outcome: 'verification' },
  IMPORT_SOURCE_NOT_FOUND: { meaning: 'a source given to import does not exist', outcome: 'usage' },
} as const satisfies CodeTable;

type ImportErrorCodes = typeof importErrorCodes;

declare module '../errors.ts' {
  interface ErrorCodes extends ImportErrorCodes {}
}
