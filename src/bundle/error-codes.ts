import type { CodeTable } from '../errors.ts';

// The error codes of bundle/ (building, reading and rendering bundles): what each means and, when every failure with it
// ends the same way, its outcome (exit code). docs/errors.md lists them (npm run docs:errors).
export const bundleErrorCodes = {
  BUNDLE_CHANGED: { meaning: 'a file changed while the bundle was being built', outcome: 'failed' },
  BUNDLE_CONFIG_INVALID: { meaning: 'a bundle\'s config blob is not valid', outcome: 'verification' },
  BUNDLE_CONTENT_CORRUPT: { meaning: 'a bundle\'s content layer does not decompress', outcome: 'verification' },
  BUNDLE_ENTRY_REFUSED: { meaning: 'a bundle\'s tar entry is of a kind or at a path that is refused on extraction', outcome: 'verification' },
  BUNDLE_FILES_MISSING: { meaning: 'the files directory named in bundle.yaml does not exist', outcome: 'verification' },
  BUNDLE_FILE_MISSING: { meaning: 'the directory has no bundle.yaml', outcome: 'usage' },
  BUNDLE_INVALID: { meaning: 'a bundle build found problems of several kinds (unreadable manifests, undeclared references, conditions, Secret values)', outcome: 'verification' },
  BUNDLE_LAYER_MISMATCH: { meaning: 'a bundle\'s content layer and config blob contradict each other', outcome: 'verification' },
  BUNDLE_MANIFESTS_MISSING: { meaning: 'the manifests directory named in bundle.yaml does not exist', outcome: 'verification' },
  BUNDLE_NOT_A_DIRECTORY: { meaning: 'the bundle path is not a directory', outcome: 'failed' },
  BUNDLE_PATH_REFUSED: { meaning: 'a path in the bundle is one pull would refuse to extract', outcome: 'verification' },
  BUNDLE_RENDERER_INVALID: { meaning: 'the bundle\'s chart or kustomization cannot render offline from the bundle alone (a dependency not vendored, a remote base, a path outside)', outcome: 'verification' },
  BUNDLE_SCHEMA_INVALID: { meaning: 'bundle.yaml or the parameter schema it names is not valid', outcome: 'verification' },
  BUNDLE_SCHEMA_MISSING: { meaning: 'the parameter schema named in bundle.yaml does not exist', outcome: 'verification' },
  BUNDLE_SPECIAL_FILE: { meaning: 'the bundle holds something other than regular files and directories', outcome: 'failed' },
  BUNDLE_SYMLINK_DANGLING: { meaning: 'a symbolic link in the bundle points at nothing', outcome: 'failed' },
  BUNDLE_SYMLINK_DIRECTORY: { meaning: 'a symbolic link in the bundle points at a directory', outcome: 'failed' },
  BUNDLE_SYMLINK_EXCLUDED: { meaning: 'a symbolic link in the bundle points at an excluded path', outcome: 'failed' },
  BUNDLE_SYMLINK_OUTSIDE: { meaning: 'a symbolic link in the bundle points outside it', outcome: 'failed' },
  BUNDLE_TOO_LARGE: { meaning: 'a bundle exceeds the size or entry limits promote reads', outcome: 'verification' },
  CONDITION_INVALID: { meaning: 'a promote.dev/include-when does not name a boolean parameter, or a nullable parameter is used where a null cannot drop a key', outcome: 'verification' },
  OUTPUT_NOT_EMPTY: { meaning: 'the render output exists and is not an empty directory', outcome: 'usage' },
  RENDERER_MISSING: { meaning: 'the binary of the bundle\'s renderer (helm, kustomize) cannot be found or run', outcome: 'failed' },
  RENDER_FAILED: { meaning: 'the bundle cannot be rendered with these parameters', outcome: 'verification' },
  RENDER_TIMEOUT: { meaning: 'the bundle\'s renderer did not finish within the time limit', outcome: 'failed' },
  RENDER_TOO_LARGE: { meaning: 'the bundle\'s renderer printed more than a render may hold', outcome: 'verification' },
  RENDER_SOURCE_NOT_FOUND: { meaning: 'the render source is neither a bundle directory nor a reference', outcome: 'usage' },
  SECRET_IN_BUNDLE: { meaning: 'the bundle sets Secret values (data/stringData)', outcome: 'verification' },
  SOURCE_DATE_EPOCH_INVALID: { meaning: 'SOURCE_DATE_EPOCH is not a whole number of seconds', outcome: 'usage' },
  TAR_MALFORMED: { meaning: 'a bundle\'s tar stream is cut short or malformed', outcome: 'verification' },
  UNDECLARED_REFERENCE: { meaning: 'the manifests use ${params.…} references the parameter schema does not declare', outcome: 'verification' },
} as const satisfies CodeTable;

type BundleErrorCodes = typeof bundleErrorCodes;

declare module '../errors.ts' {
  interface ErrorCodes extends BundleErrorCodes {}
}
