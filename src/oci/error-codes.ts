import type { CodeTable } from '../errors.ts';

// The error codes of oci/ (the registry client and OCI layout store): what each means and, when every failure with it
// ends the same way, its outcome (exit code). docs/errors.md lists them (npm run docs:errors).
export const ociErrorCodes = {
  BLOB_DIGEST_MISMATCH: { meaning: 'a blob or manifest read from a registry or layout does not hash to its digest', outcome: 'verification' },
  BLOB_NOT_FOUND: { meaning: 'a blob is not in the registry or layout', outcome: 'failed' },
  BLOB_SIZE_MISMATCH: { meaning: 'a blob\'s length differs from the size its descriptor states', outcome: 'verification' },
  BLOB_UPLOAD_INVALID: { meaning: 'the registry lost the upload session of a blob', outcome: 'failed' },
  CA_FILE_UNREADABLE: { meaning: 'the --ca-file cannot be read', outcome: 'usage' },
  CREDENTIALS_INCOMPLETE: { meaning: 'a registry username was given without a password, or the other way round', outcome: 'usage' },
  CREDENTIALS_INVALID: { meaning: 'a docker config "auth" entry is not base64 of username:password', outcome: 'usage' },
  DIGEST_INVALID: { meaning: 'the registry says content does not match its digest, or a digest given is malformed' },
  DIGEST_UNSUPPORTED: { meaning: 'a manifest digest uses an algorithm other than sha256', outcome: 'usage' },
  DOCUMENT_TOO_DEEP: { meaning: 'a JSON document nests deeper than promote reads', outcome: 'verification' },
  LAYOUT_INVALID: { meaning: 'an OCI image layout\'s index.json or oci-layout file is malformed', outcome: 'failed' },
  LAYOUT_LOCKED: { meaning: 'another writer holds the lock of an OCI image layout', outcome: 'failed' },
  LAYOUT_NOT_FOUND: { meaning: 'the directory is not an OCI image layout', outcome: 'failed' },
  MANIFEST_INVALID: { meaning: 'a manifest is refused: by the registry, or because promote cannot read it' },
  MANIFEST_NOT_FOUND: { meaning: 'the tag or digest names no manifest in the registry or layout', outcome: 'failed' },
  MANIFEST_TOO_LARGE: { meaning: 'a manifest is over the 4 MiB registries accept' },
  NOT_A_BUNDLE: { meaning: 'the artefact pulled is not a promote bundle', outcome: 'verification' },
  OUTPUT_EXISTS: { meaning: 'the output directory of a pull exists and is not empty', outcome: 'usage' },
  REFERENCE_INVALID: { meaning: 'a reference (repository, tag or digest) is malformed or names a different digest', outcome: 'usage' },
  REFERRERS_UPDATE_FAILED: { meaning: 'other writers kept replacing the referrers index tag', outcome: 'failed' },
  REGISTRY_AUTH_FAILED: { meaning: 'the registry\'s token service failed or named an invalid realm', outcome: 'failed' },
  REGISTRY_AUTH_INSECURE_REALM: { meaning: 'the registry sends credentials to a token realm that is not HTTPS', outcome: 'failed' },
  REGISTRY_DENIED: { meaning: 'the credentials are valid but lack permission (403, insufficient scope)', outcome: 'failed' },
  REGISTRY_ERROR: { meaning: 'the registry failed (5xx) or answered in a way promote cannot use', outcome: 'failed' },
  REGISTRY_RATE_LIMITED: { meaning: 'the registry is rate-limiting requests (429)', outcome: 'failed' },
  REGISTRY_TIMEOUT: { meaning: 'the registry did not answer in time', outcome: 'failed' },
  REGISTRY_TLS: { meaning: 'a TLS failure: wrong protocol, untrusted certificate, or HTTPS spoken to plain HTTP', outcome: 'failed' },
  REGISTRY_UNAUTHORIZED: { meaning: 'the registry wants credentials, or refused the ones given (401)', outcome: 'failed' },
  REGISTRY_UNREACHABLE: { meaning: 'the registry host cannot be reached', outcome: 'failed' },
  REGISTRY_UNSUPPORTED: { meaning: 'the registry does not support the operation (405)', outcome: 'failed' },
  REPOSITORY_NOT_FOUND: { meaning: 'the repository does not exist in the registry', outcome: 'failed' },
  SIZE_INVALID: { meaning: 'the registry says the content length does not match', outcome: 'verification' },
  TOO_LARGE: { meaning: 'a response or blob is over the size limit promote reads' },
} as const satisfies CodeTable;

type OciErrorCodes = typeof ociErrorCodes;

declare module '../errors.ts' {
  interface ErrorCodes extends OciErrorCodes {}
}
