import { isAbsolute, resolve } from 'node:path';
import { PromoteError } from '../errors.ts';

// Reference grammar from distribution/reference (the one docker, skopeo and oras accept), plus
// skopeo's `oci:<path>[:<tag>]` transport for OCI image layouts. Validated here, on the client,
// because distribution 2.8 answers an invalid tag with a 500 instead of a 400 (REGISTRY-NOTES.md).

export interface RegistryReference {
  transport: 'registry';
  /** host[:port] as the user wrote it, normalised for Docker Hub. */
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

export interface LayoutReference {
  transport: 'layout';
  /** Filesystem path of the OCI image layout directory. */
  path: string;
  tag?: string;
  digest?: string;
}

export type Reference = RegistryReference | LayoutReference;

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REPOSITORY_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
const HOST_RE = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$|^\[[0-9a-fA-F:.]+\](?::[0-9]+)?$/;

const DOCKER_HUB = 'docker.io';

export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

export function isValidDigest(digest: string): boolean {
  return DIGEST_RE.test(digest);
}

export function isValidRepository(repository: string): boolean {
  return repository.length <= 255 && REPOSITORY_RE.test(repository);
}

function invalid(input: string, why: string, hint: string): PromoteError {
  return new PromoteError('REFERENCE_INVALID', `invalid reference "${input}": ${why}`, {
    outcome: 'usage',
    hint,
  });
}

export function checkTag(tag: string, input = tag): string {
  if (!isValidTag(tag)) {
    throw invalid(input, `tag "${tag}" is not valid`, 'a tag is 1-128 characters of letters, digits, "_", "." and "-", not starting with "." or "-"');
  }
  return tag;
}

export function checkDigest(digest: string, input = digest): string {
  if (!isValidDigest(digest)) {
    throw invalid(input, `digest "${digest}" is not valid`, 'a digest looks like sha256:<64 lowercase hex characters>');
  }
  return digest;
}

/** Splits `name[:tag][@digest]` where `name` may itself contain ':' before its last '/'. */
function splitTagAndDigest(input: string, rest: string): { name: string; tag?: string; digest?: string } {
  let name = rest;
  let digest: string | undefined;
  const at = name.lastIndexOf('@');
  if (at >= 0) {
    digest = checkDigest(name.slice(at + 1), input);
    name = name.slice(0, at);
  }
  let tag: string | undefined;
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) {
    tag = checkTag(name.slice(colon + 1), input);
    name = name.slice(0, colon);
  }
  return { name, ...(tag !== undefined && { tag }), ...(digest !== undefined && { digest }) };
}

export function parseReference(input: string): Reference {
  const text = input.trim();
  if (!text) throw invalid(input, 'it is empty', 'give a reference such as localhost:5000/acme/webapp:1.0 or oci:./layout');
  if (text.startsWith('oci:')) {
    const { name, tag, digest } = splitTagAndDigest(input, text.slice(4));
    if (!name) throw invalid(input, 'the layout path is empty', 'write oci:<directory>[:tag], e.g. oci:./.promote/registry/webapp');
    return { transport: 'layout', path: name, ...(tag !== undefined && { tag }), ...(digest !== undefined && { digest }) };
  }
  const { name, tag, digest } = splitTagAndDigest(input, text);
  const slash = name.indexOf('/');
  let registry = DOCKER_HUB;
  let repository = name;
  if (slash > 0) {
    const first = name.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('[')) {
      registry = first;
      repository = name.slice(slash + 1);
    }
  }
  if (!HOST_RE.test(registry)) {
    throw invalid(input, `registry host "${registry}" is not valid`, 'write host[:port]/repository, e.g. localhost:5000/acme/webapp');
  }
  if (registry === DOCKER_HUB || registry === 'index.docker.io') {
    registry = DOCKER_HUB;
    if (!repository.includes('/')) repository = `library/${repository}`;
  }
  if (!isValidRepository(repository)) {
    const lower = repository.toLowerCase();
    const why = repository !== lower ? `repository "${repository}" has upper-case letters` : `repository "${repository}" is not valid`;
    throw invalid(input, why, 'repository names are lower-case path components of letters and digits separated by ".", "_", "__" or "-", joined by "/"');
  }
  return { transport: 'registry', registry, repository, ...(tag !== undefined && { tag }), ...(digest !== undefined && { digest }) };
}

/** The name without tag or digest: `host/repo` or `oci:path`. */
export function repositoryName(ref: Reference): string {
  return ref.transport === 'layout' ? `oci:${ref.path}` : `${ref.registry}/${ref.repository}`;
}

/**
 * `ref` with a relative `oci:` path made absolute against `base`: the caller's working directory
 * for a reference given on the command line, the pipeline file's directory for spec.repository.
 * Two spellings of one layout (`oci:./r`, `oci:/abs/r`) then compare equal.
 */
export function resolveLayout(ref: Reference, base: string): Reference {
  if (ref.transport !== 'layout') return ref;
  return { ...ref, path: isAbsolute(ref.path) ? resolve(ref.path) : resolve(base, ref.path) };
}

/** Whether two references name the same repository (layout paths resolved against `base`). */
export function sameRepository(a: Reference | string, b: Reference | string, base: string): boolean {
  const name = (r: Reference | string) => repositoryName(resolveLayout(typeof r === 'string' ? parseReference(r) : r, base));
  return name(a) === name(b);
}

export function formatReference(ref: Reference): string {
  let s = repositoryName(ref);
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

export function withDigest(ref: Reference, digest: string): Reference {
  const { tag: _tag, ...rest } = ref;
  return { ...rest, digest };
}

export function withTag(ref: Reference, tag: string): Reference {
  const { digest: _digest, ...rest } = ref;
  return { ...rest, tag: checkTag(tag) };
}

/** The tag or digest to ask the registry for: digest wins, then tag, then `latest`. */
export function referenceTarget(ref: Reference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}
