import { PromoteError } from '../errors.ts';
import type { TrustPolicy } from '../signing/policy.ts';
import { listOption, stringOption, type CommandContext, type OptionSpec, type ParsedArgs } from './command.ts';

// The signature options of commands that can refuse an unsigned bundle before using it
// (render --verify): the same flags, meaning and checks as `promote verify`.

export const VERIFY_OPTIONS: Record<string, OptionSpec> = {
  verify: { type: 'boolean', description: 'verify the signature first (exit 4 and nothing written when it fails)' },
  key: { type: 'string', short: 'k', multiple: true, valueName: 'pub', description: 'trusted public key for --verify' },
  'certificate-identity': { type: 'string', valueName: 'san', description: 'keyless --verify: exact certificate subject (email or URI)' },
  'certificate-identity-regexp': { type: 'string', valueName: 're', description: 'keyless --verify: certificate subject pattern' },
  'certificate-oidc-issuer': { type: 'string', valueName: 'url', description: 'keyless --verify: exact OIDC issuer' },
  'certificate-oidc-issuer-regexp': { type: 'string', valueName: 're', description: 'keyless --verify: OIDC issuer pattern' },
  'trusted-root': { type: 'string', valueName: 'file', description: 'Sigstore trusted_root.json for keyless --verify' },
};

const usage = (message: string, hint: string) => new PromoteError('USAGE', message, { outcome: 'usage', hint });

/** The trust policy --verify asked for, or undefined when no signature check was asked for. */
export async function verifyPolicy(ctx: CommandContext, args: ParsedArgs): Promise<TrustPolicy | undefined> {
  if (args.values.verify !== true) {
    const given = listOption(args, 'key').length > 0 || ['trusted-root', ...KEYLESS_OPTIONS].some((name) => stringOption(args, name) !== undefined);
    if (given) throw usage('--key and the keyless options only take effect with --verify', 'add --verify (e.g. --verify --key keys/ci.pub)');
    return undefined;
  }
  return trustPolicyOptions(ctx, args, {
    message: '--verify needs --key <public key> or a keyless identity',
    hint: "pass the signer's public key (--verify --key ci.pub), or --certificate-identity with --certificate-oidc-issuer",
  });
}

const KEYLESS_OPTIONS = ['certificate-identity', 'certificate-identity-regexp', 'certificate-oidc-issuer', 'certificate-oidc-issuer-regexp'] as const;

/**
 * The trust policy of --key and the keyless options (shared by `promote verify` and --verify);
 * `missing` is the usage error when neither a key nor a keyless identity was given.
 */
export async function trustPolicyOptions(ctx: CommandContext, args: ParsedArgs, missing: { message: string; hint: string }): Promise<TrustPolicy> {
  const keys = listOption(args, 'key');
  const subject = stringOption(args, 'certificate-identity');
  const subjectRegExp = stringOption(args, 'certificate-identity-regexp');
  const issuer = stringOption(args, 'certificate-oidc-issuer');
  const issuerRegExp = stringOption(args, 'certificate-oidc-issuer-regexp');
  const trustedRoot = stringOption(args, 'trusted-root');
  const keyless = [subject, subjectRegExp, issuer, issuerRegExp].some((v) => v !== undefined);
  if (keys.length === 0 && !keyless) throw usage(missing.message, missing.hint);
  if (keyless && ((subject === undefined && subjectRegExp === undefined) || (issuer === undefined && issuerRegExp === undefined))) {
    throw usage('keyless verification needs both an identity and an issuer', 'give --certificate-identity[-regexp] AND --certificate-oidc-issuer[-regexp], as cosign requires');
  }
  for (const [name, re] of [['certificate-identity-regexp', subjectRegExp], ['certificate-oidc-issuer-regexp', issuerRegExp]] as const) {
    if (re === undefined) continue;
    try {
      new RegExp(re);
    } catch (err) {
      throw usage(`--${name} is not a valid regular expression: ${(err as Error).message}`, 'use JavaScript regular-expression syntax');
    }
  }
  const { policyFromInput } = await import('../signing/policy-input.ts');
  return policyFromInput({
    keys,
    identities: keyless ? [{ ...(subject !== undefined && { subject }), ...(subjectRegExp !== undefined && { subjectRegExp }), ...(issuer !== undefined && { issuer }), ...(issuerRegExp !== undefined && { issuerRegExp }) }] : [],
    ...(trustedRoot !== undefined && { trustedRoot }),
  }, ctx.cwd);
}
