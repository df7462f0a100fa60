import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN } from '../bundle/helpers.ts';

// The real `promote ui` in a child process, as a user starts it: the URL is read from the line
// it logs, and stop() interrupts it as Ctrl-C does and waits for it to exit.

export interface ServedUi {
  url: string;
  child: ChildProcess;
  stderr(): string;
  stop(): Promise<number | null>;
}

export async function serveUi(cwd: string, env: NodeJS.ProcessEnv, args: string[] = []): Promise<ServedUi> {
  const child = spawn(process.execPath, [BIN, 'ui', '--listen', '127.0.0.1:0', '--interval', '1s', ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stdout!.on('data', (d) => (stdout += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`promote ui did not start in 30 s:\n${stderr}`)), 30_000);
    child.stderr!.on('data', (d) => {
      stderr += d;
      const m = /serving (http:\/\/\S+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`promote ui exited with ${code}:\n${stderr}${stdout}`));
    });
  });
  return {
    url,
    child,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      const exited = once(child, 'exit');
      child.kill('SIGINT');
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}

/** Where the browser tests leave their screenshots (gitignored). */
export async function outputDir(): Promise<string> {
  const dir = join(fileURLToPath(new URL('../..', import.meta.url)), 'test-output', 'ui');
  await mkdir(dir, { recursive: true });
  return dir;
}
