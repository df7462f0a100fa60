import type { Command } from '../command.ts';
import { REGISTRY_HELP, REGISTRY_OPTIONS, registryOptions } from '../registry-options.ts';
import { trustPolicyOptions } from '../verify-options.ts';
import { shortDigest } from '../../short-digest.ts';

export const command: Command = {
  name: 'verify',
  summary: 'verify that a bundle is signed by a trusted key or identity (cosign-compatible)',
  usage: 'promote verify <reference> (--key <pub> … | --certificate-identity … --certificate-oidc-issuer …) [options]',
  description: `
Resolves a tag to a digest once, then checks that some signature of that digest verifies with
one of the given public keys (or keyless identities) AND that its payload names exactly that
digest. Reads cosign classic signatures (tag sha256-<hex>.sig) and Sigstore bundles stored as
referrers (cosign v3). Prints repository@sha256:… — use that, never the tag, from here on.

Exits 4 when verification fails, naming the check: key-type, signature-present,
signature-format, signature-encoding, signature (wrong key or changed payload), payload-type,
payload-digest (signature replayed from another digest), identity, trust-root.

Keyless: --certificate-identity[-regexp] with --certificate-oidc-issuer[-regexp], against
--trusted-root (default: the Sigstore public-good root shipped with promote; no network).
Regular expressions are unanchored, as in cosign: write ^…$ to match a whole value.

${REGISTRY_HELP}`,
  positionals: { min: 1, max: 1 },
  options: {
    key: { type: 'string', short: 'k', multiple: true, valueName: 'pub', description: 'trusted PEM public key' },
    'certificate-identity': { type: 'string', valueName: 'san', description: 'keyless: exact certificate subject (email or URI)' },
    'certificate-identity-regexp': { type: 'string', valueName: 're', description: 'keyless: certificate subject pattern' },
    'certificate-oidc-issuer': { type: 'string', valueName: 'url', description: 'keyless: exact OIDC issuer' },
    'certificate-oidc-issuer-regexp': { type: 'string', valueName: 're', description: 'keyless: OIDC issuer pattern' },
    'trusted-root': { type: 'string', valueName: 'file', description: 'Sigstore trusted_root.json for keyless and transparency-log checks' },
    ...REGISTRY_OPTIONS,
  },
  examples: [
    { title: 'Verify a tag with the CI public key (prints the verified digest)', command: 'promote verify registry.example.com/acme/webapp:1.4.0 --key keys/ci.pub' },
    { title: 'Accept either of two keys during a key rotation; JSON for scripts', command: 'promote verify localhost:5000/acme/webapp@sha256:4f1c…e9 --key old.pub --key new.pub --insecure --output json' },
    { title: 'Keyless, signed by a GitHub Actions workflow', command: "promote verify ghcr.io/acme/webapp:1.4.0 --certificate-identity-regexp '^https://github.com/acme/webapp/' --certificate-oidc-issuer https://token.actions.githubusercontent.com" },
  ],
  async run(ctx, args) {
    const policy = await trustPolicyOptions(ctx, args, {
      message: 'verify needs --key <public key> or a keyless identity',
      hint: "pass the signer's public key (--key ci.pub), or --certificate-identity with --certificate-oidc-issuer",
    });
    const { verifyReference } = await import('../../artifact/verify.ts');
    const options = await registryOptions(ctx, args);
    const result = await verifyReference(args.positionals[0]!, policy, options);
    const lines = result.signatures.map((s) =>
      s.kind === 'cosign'
        ? `  cosign signature by ${s.key} (layer ${shortDigest(s.layer, 'elided')})`
        : `  Sigstore bundle by ${s.signedBy.kind === 'key' ? s.signedBy.key : `${s.signedBy.subject} (${s.signedBy.issuer})`}`,
    );
    if (result.resolvedFrom) ctx.log(`${result.resolvedFrom} resolved to ${result.digest}`);
    ctx.log(`verified ${result.signatures.length} signature(s):\n${lines.join('\n')}`);
    return { data: result, text: result.reference };
  },
};
