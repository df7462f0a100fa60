import type { Command } from '../command.ts';
import { flag, stringOption } from '../command.ts';
import { KEY_OPTION, PROMOTION_OPTIONS, projectOptions } from '../promotion-options.ts';
import { REGISTRY_HELP } from '../registry-options.ts';

export const command: Command = {
  name: 'ui',
  summary: 'the pipeline in a browser: stages, clusters, gates, bundles and history, live (read-only unless --allow-actions)',
  usage: 'promote ui [--listen <host:port>] [--allow-actions --token-file <file>] [options]',
  description: `
Serves a page for the project (the same inputs as \`promote status\`: pipeline, ledger,
registry) and the read-only JSON API behind it, on 127.0.0.1:8080 unless --listen says
otherwise. The pipeline view shows the stages left to right with the bundle each runs, every
cluster's phase, since, drift and last report, what waits for each stage and each gate's verdict
with its evidence; a bundle view shows a digest's journey, signature, parameters per
environment (secrets by reference name) and the rendered diff between two stages; a history
view shows a stage's ledger. The page updates itself when the ledger or a report changes: the
server polls them every --interval and pushes the change (server-sent events).

Read-only by default: the page shows the CLI command for every action. With --allow-actions and
a token (--token-file, or PROMOTE_UI_TOKEN) it may approve, promote, hold and release, through
the same engine calls as the CLI (same gates, keys — --key or PROMOTE_KEY for promotions,
PROMOTE_APPROVER_KEY for approvals — and refusals); the page sends the token in a header, and
each action must be a POST from the page's own origin. Strict Content-Security-Policy, nothing
fetched from elsewhere, no secrets in the page or the API. docs/ui.md describes the API and the
security model. Runs until interrupted (Ctrl-C).

${REGISTRY_HELP}`,
  positionals: { min: 0, max: 0 },
  options: {
    listen: { type: 'string', valueName: 'host:port', description: 'where to serve the page (port 0: any free port)', default: '127.0.0.1:8080' },
    interval: { type: 'string', valueName: 'duration', description: 'how often the ledger and the report tags are polled for changes', default: '2s' },
    'allow-actions': { type: 'boolean', description: 'let the page approve, promote, hold and release (needs a token)' },
    'token-file': { type: 'string', valueName: 'file', description: 'file holding the token the page must send for actions (default: PROMOTE_UI_TOKEN)' },
    ...KEY_OPTION,
    ...PROMOTION_OPTIONS,
  },
  examples: [
    { title: 'Look at the pipeline in a browser (http://127.0.0.1:8080)', command: 'promote ui' },
    { title: 'Another port, a slower poll for a large fleet', command: 'promote ui --listen 127.0.0.1:9000 --interval 10s' },
    { title: 'Let the page promote and approve, with a token only you know', command: 'openssl rand -hex 32 > ~/.promote-ui-token && promote ui --allow-actions --token-file ~/.promote-ui-token --key keys/promoter.key' },
  ],
  async run(ctx, args) {
    const { uiOptions } = await import('../../ui/options.ts');
    const { serveUi } = await import('../../ui/server.ts');
    const { untilStopped } = await import('../stop-signal.ts');
    const parsed = await uiOptions({
      listen: stringOption(args, 'listen') ?? '127.0.0.1:8080',
      interval: stringOption(args, 'interval') ?? '2s',
      allowActions: flag(args, 'allow-actions'),
      ...(stringOption(args, 'token-file') !== undefined && { tokenFile: stringOption(args, 'token-file')! }),
      cwd: ctx.cwd,
      env: ctx.env,
    });
    const project = await projectOptions(ctx, args);
    return untilStopped(async (signal) => {
      const server = await serveUi({ ...parsed, project: { ...project, interactive: false }, keys: { ...(project.key && { promoter: project.key }) }, signal });
      ctx.log(`promote ui: serving ${server.url} (${parsed.token === undefined ? 'read-only' : 'actions allowed with the token'}); Ctrl-C stops it`);
      await server.closed;
      return { data: { url: server.url, stopped: true }, text: 'stopped' };
    });
  },
};
