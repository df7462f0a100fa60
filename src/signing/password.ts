import { PromoteError } from '../errors.ts';

// Where a key password comes from: PROMOTE_PASSWORD, then COSIGN_PASSWORD (so cosign users'
// CI keeps working), then a prompt on a terminal. Set-but-empty means "the empty password",
// as in cosign. Passwords are never echoed, logged or put into errors.

export interface PasswordOptions {
  env: NodeJS.ProcessEnv;
  /** True when a prompt can be shown (stdin is a TTY). */
  interactive: boolean;
  /** Ask twice and compare (for a new key). */
  confirm?: boolean;
  /** Replaces the terminal prompt (tests). */
  prompt?: (question: string) => Promise<string>;
}

export function passwordFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  return env.PROMOTE_PASSWORD ?? env.COSIGN_PASSWORD;
}

export async function getPassword(purpose: string, options: PasswordOptions): Promise<string> {
  const fromEnv = passwordFromEnv(options.env);
  if (fromEnv !== undefined) return fromEnv;
  const prompt = options.prompt ?? (options.interactive ? promptHidden : undefined);
  if (!prompt) {
    throw new PromoteError('KEY_PASSWORD_MISSING', `a password is needed for ${purpose}, and there is no terminal to ask on`, {
      outcome: 'usage',
      hint: 'set PROMOTE_PASSWORD (or COSIGN_PASSWORD); set it to the empty string for a key without a password',
    });
  }
  const first = await prompt(`Enter password for ${purpose}: `);
  if (options.confirm) {
    const again = await prompt('Enter password again: ');
    if (again !== first) {
      throw new PromoteError('KEY_PASSWORD_MISMATCH', 'the two passwords differ', { outcome: 'usage', hint: 'run the command again and type the same password twice' });
    }
  }
  return first;
}

/** Reads one line from the terminal with echo off (raw mode), writing the question to stderr. */
export async function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  const wasRaw = stdin.isRaw;
  // Echo off before the question appears: a fast typist (or a script) must not be echoed.
  stdin.setRawMode?.(true);
  process.stderr.write(question);
  stdin.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let value = '';
      const onData = (chunk: Buffer): void => {
        for (const ch of chunk.toString('utf8')) {
          if (ch === '\r' || ch === '\n') {
            stdin.off('data', onData);
            process.stderr.write('\n');
            resolve(value);
            return;
          }
          if (ch === '\u0003') {
            stdin.off('data', onData);
            process.stderr.write('\n');
            reject(new PromoteError('INTERRUPTED', 'password prompt interrupted', { outcome: 'usage' }));
            return;
          }
          if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
          else value += ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode?.(wasRaw);
    stdin.pause();
  }
}
