import type { Command } from '../command.ts';
import { flag } from '../command.ts';

export const command: Command = {
  name: 'keygen',
  summary: 'create a signing key pair: cosign-format encrypted private key + PEM public key',
  usage: 'promote keygen <name> [--force]',
  description: `
Writes <name>.key (ECDSA P-256, encrypted exactly like \`cosign generate-key-pair\`:
scrypt + NaCl secretbox, mode 0600) and <name>.pub (PEM public key). cosign can use both, and
promote reads keys cosign made. The password comes from PROMOTE_PASSWORD, then COSIGN_PASSWORD,
else it is asked for twice on the terminal; set it to the empty string for no password.
Existing files are never overwritten unless --force is given.`,
  positionals: { min: 1, max: 1 },
  options: {
    force: { type: 'boolean', description: 'replace an existing key pair of that name' },
  },
  examples: [
    { title: 'Create ci.key and ci.pub, asking for the password', command: 'promote keygen keys/ci' },
    { title: 'In CI, password from the environment', command: 'PROMOTE_PASSWORD="$KEY_PASSWORD" promote keygen keys/promoter' },
    { title: 'Replace an existing pair', command: 'promote keygen keys/ci --force' },
  ],
  async run(ctx, args) {
    const { resolve } = await import('node:path');
    const { getPassword } = await import('../../signing/password.ts');
    const { generateKeyFiles } = await import('../../signing/keygen.ts');
    const name = args.positionals[0]!;
    // Asked after the existence check: a refusal should not cost typing a password twice.
    const password = () => getPassword(`new private key ${name}.key`, { env: ctx.env, interactive: ctx.interactive, confirm: true });
    const result = await generateKeyFiles(resolve(ctx.cwd, name), { password, force: flag(args, 'force') });
    const data = { privateKey: `${name}.key`, publicKey: `${name}.pub`, hint: result.hint };
    return { data, text: `private key written to ${data.privateKey} (keep it secret)\npublic key written to ${data.publicKey}` };
  },
};
