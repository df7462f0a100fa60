import { resolve } from 'node:path';
import { stringValue, targetUsage, type TargetKind } from './target-kind.ts';

// `--target dir:<path>[?adopt=true]`: a directory on a host (dir-target.ts), its health
// check (--health-exec) in dir-health.ts.

export const dirKind: TargetKind = {
  scheme: 'dir',
  takesRest: true,
  syntax: 'dir:<path>',
  help: `dir:<path> writes the rendered files atomically and prunes files it no longer owns; a file
there that it did not write is never overwritten or deleted (Failed, reason Conflict) unless
--adopt (or dir:<path>?adopt=true) lets it take such files over. --health-exec '<command>'
runs after each apply and every round, in the directory, without a shell (words split as a
shell would; write sh -c '…' for one) and with only PATH, HOME, LANG, TZ and PROMOTE_TARGET_DIR,
PROMOTE_BUNDLE, PROMOTE_RECORD, PROMOTE_PIPELINE, PROMOTE_STAGE, PROMOTE_CLUSTER in its
environment: exit 0 is Healthy; a failure is retried until --health-timeout, then Degraded
(HealthCheckFailed, or HealthCheckTimeout for a run over --health-exec-timeout, default 10s)
with its last output lines. Without it a written file is healthy.`,
  options: {
    adopt: {
      type: 'boolean',
      description: 'dir targets: take over rendered files that exist but the agent did not write (also dir:<path>?adopt=true); reported',
      refusedElsewhere: 'on Kubernetes, objects other field managers apply are taken over only with --force-conflicts',
    },
    'health-exec': {
      type: 'string',
      valueName: 'command',
      description: 'dir targets: a command whose exit status is the health (0 Healthy, else Degraded after --health-timeout); no shell',
      refusedElsewhere: 'a Kubernetes target judges health from the objects it applied (readiness, conditions)',
    },
    'health-exec-timeout': {
      type: 'string',
      valueName: 'duration',
      description: 'dir targets: one --health-exec run longer than this is killed and fails (default 10s)',
      refusedElsewhere: 'a Kubernetes target judges health from the objects it applied (readiness, conditions)',
    },
  },
  async open(rest, { cwd, options }) {
    let path = rest;
    let adopt = options.adopt === true;
    const query = /\?adopt=(true|false)$/.exec(path);
    if (query) {
      path = path.slice(0, query.index);
      adopt ||= query[1] === 'true';
    } else if (path.includes('?')) {
      throw targetUsage(`--target dir:${rest}: the only option of a dir target is ?adopt=true`, 'e.g. --target dir:/srv/webapp?adopt=true, or --adopt');
    }
    if (!path) throw targetUsage('--target dir: needs a path', 'e.g. --target dir:/srv/webapp');
    const healthExec = stringValue(options, 'health-exec');
    const timeoutText = stringValue(options, 'health-exec-timeout');
    if (timeoutText !== undefined && healthExec === undefined) throw targetUsage('--health-exec-timeout needs --health-exec', "e.g. --health-exec 'nginx -t' --health-exec-timeout 30s");
    const [{ DirTarget }, { splitCommand }, { parseDuration }] = await Promise.all([import('./dir-target.ts'), import('./dir-health.ts'), import('../../pipeline/duration.ts')]);
    const timeoutMs = timeoutText === undefined ? undefined : parseDuration(timeoutText);
    if (timeoutText !== undefined && (timeoutMs === undefined || timeoutMs < 100)) throw targetUsage(`--health-exec-timeout must be a duration of at least 100ms, not "${timeoutText}"`, 'e.g. 10s, 1m');
    const health = healthExec === undefined ? undefined : { argv: splitCommand(healthExec), ...(timeoutMs !== undefined && { timeoutMs }) };
    return new DirTarget(resolve(cwd, path), { adopt, ...(health && { health }) });
  },
};
