// The target kinds own themselves: `--target` parsing, the options that belong to a kind, and
// what the `agent` command shows (flags, usage, help) all come from one list. Pure logic: the
// "echo" kind below is an in-process example, not a real target.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { command } from '../../src/cli/commands/agent.ts';
import { TARGET_KINDS } from '../../src/agent/targets/kinds.ts';
import { findTargetKind, openTarget, targetHelp, targetOptions, targetSyntax } from '../../src/agent/targets/open-target.ts';
import type { TargetKind } from '../../src/agent/targets/target-kind.ts';
import type { Target } from '../../src/agent/target.ts';

const echo: TargetKind = {
  scheme: 'echo',
  takesRest: true,
  syntax: 'echo:<word>',
  help: 'echo:<word> answers with the word (an example kind).',
  options: { loud: { type: 'boolean', description: 'shout', refusedElsewhere: 'only echo targets shout' } },
  async open(rest, { options }) {
    return { name: `echo:${options.loud ? rest.toUpperCase() : rest}` } as Target;
  },
};

describe('target kinds (in-process example kind)', () => {
  it('a kind in the list is chosen by its scheme, gets what follows it and its own options', async () => {
    const kinds = [...TARGET_KINDS, echo];
    assert.equal((await openTarget('echo:hi', { cwd: '/', options: { loud: true } }, kinds)).name, 'echo:HI');
    assert.equal(findTargetKind('echo', kinds), undefined, 'a kind that takes a rest is not named bare');
    assert.equal(findTargetKind('kubernetes:x', kinds), undefined, 'a bare kind takes no rest');
    await assert.rejects(openTarget('dir:/x', { cwd: '/', options: { loud: true } }, kinds), { code: 'USAGE', message: '--loud is for echo: targets', hint: 'only echo targets shout' });
    await assert.rejects(openTarget('ftp://x', { cwd: '/' }, kinds), {
      code: 'USAGE',
      message: 'unknown target "ftp://x"',
      hint: 'use --target kubernetes (kubeconfig or in-cluster service account) or --target dir:<path> or --target echo:<word>',
    });
    assert.equal(targetSyntax(kinds), 'kubernetes|dir:<path>|echo:<word>');
    assert.match(targetHelp(kinds), /echo:<word> answers with the word/);
    assert.deepEqual(Object.keys(targetOptions(kinds)), ['kubeconfig', 'context', 'inventory-namespace', 'force-conflicts', 'adopt', 'health-exec', 'health-exec-timeout', 'loud']);
  });

  it("--adopt belongs to dir: targets and is refused with kubernetes, before anything connects", async () => {
    await assert.rejects(openTarget('kubernetes', { cwd: '/', options: { adopt: true } }), { code: 'USAGE', message: '--adopt is for dir: targets' });
  });

  it("promote agent's flags, usage and help are the kinds'", () => {
    for (const kind of TARGET_KINDS) {
      for (const [flag, option] of Object.entries(kind.options)) assert.equal(command.options?.[flag]?.description, option.description, `--${flag}`);
      assert.ok(command.description?.includes(kind.help), `the help of ${kind.scheme}`);
      assert.ok(command.usage.includes(kind.syntax));
    }
  });
});
