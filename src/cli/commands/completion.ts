import { PromoteError } from '../../errors.ts';
import type { Command } from '../command.ts';

export const command: Command = {
  name: 'completion',
  summary: 'print a shell completion script (bash, zsh or fish)',
  usage: 'promote completion bash|zsh|fish',
  description: 'Prints a completion script for every promote command and option. Load it in your shell profile.',
  positionals: { min: 1, max: 1 },
  examples: [
    { title: 'bash: load now, or add to ~/.bashrc', command: 'source <(promote completion bash)' },
    { title: 'zsh', command: 'source <(promote completion zsh)' },
    { title: 'fish', command: 'promote completion fish > ~/.config/fish/completions/promote.fish' },
  ],
  async run(_ctx, args) {
    const shell = args.positionals[0];
    const { COMMANDS, GLOBAL_OPTIONS } = await import('../main.ts');
    const gen = await import('../completion.ts');
    const commands = await Promise.all(
      Object.entries(COMMANDS).map(async ([name, entry]) => {
        const { command } = await entry.load();
        return { name, summary: entry.summary, options: { ...(command.options ?? {}), ...GLOBAL_OPTIONS } };
      }),
    );
    const script =
      shell === 'bash' ? gen.bashCompletion(commands) : shell === 'zsh' ? gen.zshCompletion(commands) : shell === 'fish' ? gen.fishCompletion(commands) : undefined;
    if (script === undefined) {
      throw new PromoteError('USAGE', `unsupported shell "${shell}"`, { outcome: 'usage', hint: 'choose one of: bash, zsh, fish' });
    }
    return { data: { shell, script }, text: script };
  },
};
