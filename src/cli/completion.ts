import type { OptionSpec } from './command.ts';

// Shell completion scripts generated from the command table, so they can never fall out of
// date with the commands they complete. Pure functions: the `completion` command feeds them.

export interface CompletionCommand {
  name: string;
  summary: string;
  options: Record<string, OptionSpec>;
}

function flags(c: CompletionCommand): string[] {
  return Object.keys(c.options).map((n) => `--${n}`);
}

export function bashCompletion(commands: CompletionCommand[]): string {
  const names = commands.map((c) => c.name).join(' ');
  const cases = commands.map((c) => `    ${c.name}) opts="${flags(c).join(' ')}" ;;`).join('\n');
  return `# bash completion for promote; load with: source <(promote completion bash)
_promote() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmd="\${COMP_WORDS[1]}" opts=""
  if [[ \$COMP_CWORD -eq 1 ]]; then
    COMPREPLY=( \$(compgen -W "${names} --help --version" -- "\$cur") )
    return
  fi
  case "\$cmd" in
${cases}
  esac
  if [[ "\$cur" == -* ]]; then
    COMPREPLY=( \$(compgen -W "\$opts" -- "\$cur") )
  else
    COMPREPLY=( \$(compgen -f -- "\$cur") )
  fi
}
complete -o filenames -F _promote promote
`;
}

function zshQuote(s: string): string {
  return s.replace(/'/g, "'\\''").replace(/:/g, '\\:');
}

export function zshCompletion(commands: CompletionCommand[]): string {
  const list = commands.map((c) => `    '${c.name}:${zshQuote(c.summary)}'`).join('\n');
  const cases = commands
    .map((c) => {
      const args = Object.entries(c.options)
        .map(([n, o]) => `'--${n}[${zshQuote(o.description).replace(/[[\]]/g, '')}]${o.type === 'string' ? ':value:_files' : ''}'`)
        .join(' ');
      return `    ${c.name}) _arguments ${args} '*:file:_files' ;;`;
    })
    .join('\n');
  return `#compdef promote
# zsh completion for promote; load with: source <(promote completion zsh)
_promote() {
  local -a commands
  commands=(
${list}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  case \${words[2]} in
${cases}
  esac
}
compdef _promote promote
`;
}

function fishQuote(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function fishCompletion(commands: CompletionCommand[]): string {
  const lines = ['# fish completion for promote; load with: promote completion fish | source', 'complete -c promote -f'];
  for (const c of commands) {
    lines.push(`complete -c promote -n __fish_use_subcommand -a ${c.name} -d ${fishQuote(c.summary)}`);
    for (const [n, o] of Object.entries(c.options)) {
      lines.push(
        `complete -c promote -n '__fish_seen_subcommand_from ${c.name}' -l ${n}${o.short ? ` -s ${o.short}` : ''}${o.type === 'string' ? ' -r' : ''} -d ${fishQuote(o.description)}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
