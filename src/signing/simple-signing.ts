// The cosign "simple signing" payload (sigstore/cosign specs/SIGNATURE_SPEC.md, after
// containers/image's signature format). We emit exactly what cosign's Go code emits — struct
// field order, `"optional":null` when empty — so `cosign verify` sees a payload it could have
// written itself.

export const SIMPLE_SIGNING_TYPE = 'cosign container image signature';

export interface SimpleSigningPayload {
  critical: {
    identity: { 'docker-reference': string };
    image: { 'docker-manifest-digest': string };
    type: string;
  };
  optional: Record<string, unknown> | null;
}

export function simpleSigningPayload(dockerReference: string, digest: string, optional?: Record<string, unknown>): Buffer {
  const payload: SimpleSigningPayload = {
    critical: {
      identity: { 'docker-reference': dockerReference },
      image: { 'docker-manifest-digest': digest },
      type: SIMPLE_SIGNING_TYPE,
    },
    optional: optional && Object.keys(optional).length ? optional : null,
  };
  return Buffer.from(JSON.stringify(payload), 'utf8');
}

/** Parses a payload; returns a reason instead of throwing so the caller can name the check. */
export function parseSimpleSigning(bytes: Uint8Array): { payload: SimpleSigningPayload } | { problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return { problem: 'the signed payload is not JSON' };
  }
  const p = json as Partial<SimpleSigningPayload> | null;
  if (typeof p !== 'object' || p === null || typeof p.critical !== 'object' || p.critical === null) {
    return { problem: 'the signed payload has no "critical" section' };
  }
  const c = p.critical;
  if (c.type !== SIMPLE_SIGNING_TYPE) {
    return { problem: `the signed payload's type is ${JSON.stringify(c.type)}, not "${SIMPLE_SIGNING_TYPE}"` };
  }
  if (typeof c.image?.['docker-manifest-digest'] !== 'string') {
    return { problem: 'the signed payload names no docker-manifest-digest' };
  }
  return { payload: p as SimpleSigningPayload };
}
