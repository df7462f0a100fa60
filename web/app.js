// promote ui's page: plain JavaScript, no build step, no dependency. It draws what the JSON API
// returns (docs/ui.md) with DOM calls only (textContent, never innerHTML), so nothing a ledger or
// a report says can become markup. Views: #/ (pipeline), #/bundle/<digest>, #/history/<stage>.

const main = document.getElementById('main');
const live = document.getElementById('live');
const tokenForm = document.getElementById('token-form');
const tokenInput = document.getElementById('token');
/** Clusters per page in a stage's list: a thousand cards at once would make the page slow. */
const PAGE = 50;
/** A stage with more clusters than this shows a summary and a collapsed, paged list. */
const OPEN_UP_TO = 12;

let pipeline; // the last /api/pipeline answer
let rendered = false;
const paging = new Map(); // stage → {page, phase, open}

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === false || v === null) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

/** How a record's action reads after the fact. */
const DONE = { promotion: 'promoted', auto: 'promoted automatically', rollback: 'rolled back', configure: 'configured' };
const short = (d) => (d ? d.replace(/^sha256:/, '').slice(0, 12) : '-');
const digestLink = (d) => (d ? h('a', { class: 'digest', href: `#/bundle/${d}`, title: d }, short(d)) : h('span', { class: 'digest muted' }, '-'));

function ago(iso) {
  const t = Date.parse(iso ?? '');
  if (!iso || Number.isNaN(t)) return '-';
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}
const when = (iso) => h('time', { datetime: iso, title: iso }, ago(iso));

async function api(path, init) {
  const res = await fetch(path, { ...init, headers: { Accept: 'application/json', ...(init?.headers ?? {}) } });
  const body = await res.json().catch(() => ({ error: { message: `${res.status} ${res.statusText}` } }));
  if (!res.ok) throw Object.assign(new Error(body.error?.message ?? res.statusText), { status: res.status, body });
  return body;
}

const errorBox = (err) => h('div', { class: 'error', role: 'alert' }, err.message, err.body?.error?.hint ? ` (${err.body.error.hint})` : '');
const phaseClass = (phase) => `phase-${phase ?? 'none'}`;
const badge = (phase) => h('span', { class: `badge ${phaseClass(phase)}` }, phase ?? 'no report');

function verdict(g) {
  if (g.applicable === false) return h('span', { class: 'verdict na' }, 'n/a');
  if (g.passed) return h('span', { class: 'verdict pass' }, 'pass');
  return h('span', { class: 'verdict fail' }, g.overridden ? 'OVERRIDDEN' : 'FAIL');
}

function gateList(plan) {
  const items = [];
  if (plan.signature) items.push({ gate: 'signature', summary: plan.signature.summary, passed: plan.signature.passed });
  if (plan.parameters) items.push({ gate: 'parameters', summary: plan.parameters.summary, passed: plan.parameters.passed });
  items.push(...plan.gates);
  return h('ul', { class: 'gates' }, items.map((g) => {
    const findings = Array.isArray(g.evidence?.findings) ? g.evidence.findings.filter((f) => typeof f === 'string') : [];
    return h('li', { dataset: { gate: g.type ?? g.gate } }, verdict(g), ' ', h('strong', {}, g.gate), ': ', g.summary,
      findings.length ? h('ul', { class: 'findings' }, findings.slice(0, 20).map((f) => h('li', {}, f)), findings.length > 20 ? h('li', {}, `… and ${findings.length - 20} more`) : null) : null);
  }));
}

// ---- actions: buttons with the token, else the CLI command to copy ----

function cli(command) {
  const copy = h('button', { type: 'button', title: 'copy', onclick: () => navigator.clipboard?.writeText(command).then(() => { copy.textContent = 'copied'; }, () => {}) }, 'copy');
  return h('div', { class: 'cli' }, h('code', {}, command), copy);
}

async function act(name, body, out) {
  out.replaceChildren(h('span', { class: 'muted' }, `${name}…`));
  try {
    const r = await api(`/api/actions/${name}`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tokenInput.value}` }, body: JSON.stringify(body) });
    out.replaceChildren(h('span', { class: 'verdict pass' }, 'done'), ' ', r.command);
  } catch (err) {
    out.replaceChildren(errorBox(err));
  }
}

function actions(view) {
  const s = view.summary.stage;
  const c = view.commands;
  const out = h('div', { class: 'action-result' });
  if (!pipeline.actions) {
    const shown = [c.promote, c.approve, view.summary.held ? c.release : c.hold].filter(Boolean);
    return h('div', { class: 'actions' }, shown.map(cli));
  }
  const candidate = view.plan?.candidate;
  return h('div', { class: 'actions' },
    c.promote ? h('button', { type: 'button', onclick: () => act('promote', { stage: s }, out) }, `Promote ${short(candidate)}`) : null,
    c.approve ? h('button', { type: 'button', onclick: () => act('approve', { stage: s, bundle: candidate }, out) }, 'Approve') : null,
    view.summary.held
      ? h('button', { type: 'button', onclick: () => act('release', { stage: s }, out) }, 'Release')
      : h('button', { type: 'button', onclick: () => { const reason = prompt(`Why hold ${s}?`); if (reason) act('hold', { stage: s, reason }, out); } }, 'Hold'),
    out);
}

// ---- pipeline view ----

function clusterCard(c) {
  const phase = c.observed?.phase;
  const notes = [];
  if (c.observed?.verified === false) notes.push(`untrusted report: ${c.observed.reason ?? ''}`);
  else if (phase && phase !== 'Converged' && c.observed.reason) notes.push(c.observed.reason);
  if (c.behind && c.observed) notes.push(c.observed.bundle === c.desired?.bundle ? 'runs an older record of this bundle' : `runs ${short(c.observed.bundle)}`);
  if (c.stale) notes.push('report is stale');
  return h('article', { class: `cluster ${phaseClass(phase)}`, dataset: { cluster: c.cluster, phase: phase ?? 'none' } },
    h('div', { class: 'cluster-head' }, h('strong', {}, c.cluster), badge(phase)),
    h('dl', {},
      h('dt', {}, 'runs'), h('dd', {}, c.observed?.bundle ? digestLink(c.observed.bundle) : '-'),
      h('dt', {}, 'since'), h('dd', {}, c.observed?.since ? when(c.observed.since) : '-'),
      h('dt', {}, 'drift'), h('dd', {}, c.drift),
      h('dt', {}, 'report'), h('dd', {}, c.observed?.observedAt ? when(c.observed.observedAt) : 'none yet'),
      notes.length ? [h('dt', {}, 'note'), h('dd', {}, notes.join('; '))] : null));
}

function clusterList(stage, clusters) {
  const state = paging.get(stage) ?? { page: 0, phase: undefined, open: clusters.length <= OPEN_UP_TO };
  paging.set(stage, state);
  const counts = new Map();
  for (const c of clusters) counts.set(c.observed?.phase ?? 'no report', (counts.get(c.observed?.phase ?? 'no report') ?? 0) + 1);
  const box = h('div', { class: 'cluster-box' });
  const draw = () => {
    const shown = state.phase ? clusters.filter((c) => (c.observed?.phase ?? 'no report') === state.phase) : clusters;
    const pages = Math.max(1, Math.ceil(shown.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    const summary = h('div', { class: 'summary', role: 'group', 'aria-label': 'clusters by phase' }, [...counts].map(([phase, n]) =>
      h('button', { type: 'button', class: `badge ${phaseClass(phase === 'no report' ? undefined : phase)}`, 'aria-pressed': String(state.phase === phase), dataset: { phase }, onclick: () => { state.phase = state.phase === phase ? undefined : phase; state.page = 0; state.open = true; draw(); } }, `${phase} ${n}`)));
    const list = h('details', { class: 'cluster-list', open: state.open, ontoggle: (e) => { state.open = e.target.open; } },
      h('summary', {}, `${shown.length} cluster${shown.length === 1 ? '' : 's'}${state.phase ? ` ${state.phase}` : ''}`),
      h('div', { class: 'clusters' }, shown.slice(state.page * PAGE, (state.page + 1) * PAGE).map(clusterCard)),
      pages > 1 ? h('div', { class: 'pager' },
        h('button', { type: 'button', disabled: state.page === 0, onclick: () => { state.page--; draw(); } }, '‹ prev'),
        `page ${state.page + 1} of ${pages}`,
        h('button', { type: 'button', disabled: state.page >= pages - 1, onclick: () => { state.page++; draw(); } }, 'next ›')) : null);
    box.replaceChildren(summary, list);
  };
  draw();
  return box;
}

function waiting(view) {
  if (view.planError) return h('div', { class: 'note bad' }, `plan: ${view.planError.message}`);
  const p = view.plan;
  if (!p) return null;
  let head;
  if (!p.candidate) head = 'nothing waits to move in';
  else if (p.upToDate) head = h('span', {}, 'up to date with ', p.from ?? 'its bundle');
  else head = h('span', {}, digestLink(p.candidate), p.change === 'configuration' ? ' with new parameters' : p.from ? ` from ${p.from}` : '', p.allowed ? ' — may move in' : ` — blocked (${p.blockers.length})`);
  return h('div', { class: 'waiting', dataset: { allowed: String(p.allowed) } }, h('h3', {}, 'waiting'), h('div', {}, head), p.upToDate ? null : gateList(p),
    p.blockers.length ? h('ul', { class: 'blockers' }, p.blockers.map((b) => h('li', {}, b.message))) : null);
}

function stageColumn(view, clusters) {
  const s = view.summary;
  const observed = new Set(clusters.map((c) => `${c.observed?.phase ?? '-'} ${c.observed?.bundle ?? '-'}`));
  const disagree = observed.size > 1;
  const phases = [...new Set(clusters.map((c) => c.observed?.phase ?? 'no report'))];
  return h('section', { class: `stage${s.held ? ' is-held' : ''}${disagree ? ' is-disagree' : ''}`, dataset: { stage: s.stage, disagree: String(disagree) } },
    h('div', { class: 'stage-head' }, h('h2', {}, h('a', { href: `#/history/${encodeURIComponent(s.stage)}`, title: 'history' }, s.stage)), h('span', { class: 'muted' }, `environment ${s.environment}`)),
    h('div', { class: 'runs' },
      s.bundle ? [digestLink(s.bundle), view.tags.map((t) => h('span', { class: 'tag' }, t)),
        h('div', { class: 'muted' }, `${DONE[s.action] ?? s.action ?? 'promoted'} by ${s.promotedBy ?? '?'} `, when(s.promotedAt), s.from ? ` · from ${s.from}` : '')]
        : h('span', { class: 'muted' }, 'nothing promoted yet')),
    s.held ? h('div', { class: 'note warn held' }, `HELD by ${s.hold?.by ?? '?'}${s.hold?.reason ? `: ${s.hold.reason}` : ''}`) : null,
    disagree ? h('div', { class: 'note bad disagreement' }, `clusters disagree: ${phases.join(', ')}`) : null,
    s.tagDisagreement ? h('div', { class: 'note bad' }, s.tagDisagreement) : s.publishGap ? h('div', { class: 'note warn' }, 'record not published: run promote to again') : null,
    s.parameters?.state === 'pending' ? h('div', { class: 'note warn' }, 'parameters pending: the environment changed') : null,
    s.parameters?.state === 'invalid' ? h('div', { class: 'note bad' }, `parameters invalid: ${s.parameters.summary ?? ''}`) : null,
    clusterList(s.stage, clusters),
    waiting(view),
    actions(view));
}

function renderPipeline() {
  if (!pipeline) return;
  document.getElementById('pipeline-name').textContent = `pipeline ${pipeline.pipeline}`;
  tokenForm.hidden = !pipeline.actions;
  const byStage = new Map();
  for (const c of pipeline.status.clusters) byStage.set(c.stage, [...(byStage.get(c.stage) ?? []), c]);
  main.replaceChildren(
    h('h1', {}, `${pipeline.pipeline} `, h('span', { class: 'muted' }, 'as of ', when(pipeline.observedAt))),
    h('div', { class: 'stages', id: 'pipeline', dataset: { version: String(pipeline.version) } }, pipeline.stages.map((v) => stageColumn(v, byStage.get(v.summary.stage) ?? []))));
  // For bench/ui.bench.ts: when the first pipeline view was painted (the task after the frame
  // that drew it), in ms from navigation start.
  if (!rendered) {
    rendered = true;
    requestAnimationFrame(() => setTimeout(() => performance.mark('promote:pipeline-rendered')));
  }
}

let loading; // the /api/pipeline request in flight
let latest = 0; // the newest view version the server announced

async function loadPipeline() {
  loading ??= api('/api/pipeline').finally(() => { loading = undefined; });
  pipeline = await loading;
}

/** Fetches the view again while the server announces a newer one than the page shows. */
let refreshing = false;
async function refresh() {
  if (refreshing) return;
  refreshing = true;
  try {
    while (!pipeline || latest > pipeline.version) {
      await loadPipeline();
      if (!location.hash || location.hash === '#/' || location.hash === '#') renderPipeline();
    }
  } catch (err) {
    main.replaceChildren(errorBox(err));
  } finally {
    refreshing = false;
  }
}

// ---- bundle view ----

function flatten(value, prefix = '', out = []) {
  const ref = value && typeof value === 'object' && !Array.isArray(value) ? value.secretRef : undefined;
  if (ref && Object.keys(value).length === 1) out.push([prefix || '/', `secret ${ref.name}${ref.key !== undefined ? `/${ref.key}` : ''}`]);
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) flatten(v, `${prefix}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, out);
  else out.push([prefix || '/', JSON.stringify(value)]);
  return out;
}

function diffBlock(text) {
  return h('pre', { class: 'diff' }, text.split('\n').map((l) => h('span', { class: l.startsWith('+') && !l.startsWith('+++') ? 'add' : l.startsWith('-') && !l.startsWith('---') ? 'del' : l.startsWith('@@') ? 'hunk' : '' }, `${l}\n`)));
}

function renderDiff(plan, box) {
  if (!plan.diff) return box.replaceChildren(h('p', { class: 'muted' }, plan.upToDate ? `${plan.stage} already runs this bundle with these parameters` : 'no diff: the bundle is not verified for this stage'), gateList(plan));
  const d = plan.diff;
  box.replaceChildren(
    h('p', {}, `${plan.stage} now (${short(plan.current)}) → this bundle`),
    h('h3', {}, 'parameters'),
    d.parameters.length ? h('table', {}, h('tr', {}, h('th', {}, 'pointer'), h('th', {}, 'now'), h('th', {}, 'after')), d.parameters.map((p) => h('tr', {}, h('td', {}, h('code', {}, p.pointer)), h('td', {}, flatten(p.before).map((x) => x[1]).join(', ') || '(unset)'), h('td', {}, flatten(p.after).map((x) => x[1]).join(', ') || '(unset)')))) : h('p', { class: 'muted' }, 'unchanged'),
    ...d.clusters.map((c) => h('div', { class: 'cluster-diff', dataset: { cluster: c.cluster } }, h('h3', {}, `cluster ${c.cluster}`),
      !c.changedFiles.length ? h('p', { class: 'muted' }, 'rendered files unchanged') : c.sameAs ? h('p', { class: 'muted' }, `the same rendered change as ${c.sameAs}`) : diffBlock(c.manifests))));
}

async function renderBundle(digest) {
  main.replaceChildren(h('p', { class: 'muted' }, 'loading the bundle…'));
  const b = await api(`/api/bundle/${encodeURIComponent(digest)}`);
  const meta = b.inspect?.bundle;
  const diffBox = h('div', { class: 'diff-box' });
  const running = b.stages.filter((s) => s.runs).map((s) => s.stage);
  const targets = b.stages.map((s) => s.stage);
  const next = targets.find((t, i) => i > 0 && running.includes(targets[i - 1]) && !running.includes(t)) ?? targets.find((t) => !running.includes(t)) ?? targets[0];
  const select = h('select', { id: 'diff-stage', 'aria-label': 'stage to compare with' }, targets.map((t) => h('option', { value: t, selected: t === next }, t)));
  const showDiff = async () => {
    diffBox.replaceChildren(h('p', { class: 'muted' }, 'rendering…'));
    try { renderDiff(await api(`/api/plan/${encodeURIComponent(select.value)}?bundle=${encodeURIComponent(digest)}`), diffBox); } catch (err) { diffBox.replaceChildren(errorBox(err)); }
  };
  select.addEventListener('change', showDiff);
  main.replaceChildren(
    h('h1', {}, 'bundle ', h('code', { class: 'digest', id: 'bundle-digest' }, b.digest)),
    h('div', { class: 'panel' },
      meta ? h('p', {}, h('strong', {}, meta.name), meta.version ? ` ${meta.version}` : '', ` · built ${meta.created}`, meta.description ? ` · ${meta.description}` : '') : null,
      h('p', {}, b.repository),
      h('p', { class: 'signature', dataset: { passed: String(b.signature.passed) } }, verdict(b.signature), ' signature: ', b.signature.summary),
      b.inspectError ? errorBox({ message: b.inspectError.message }) : null),
    h('div', { class: 'panel' }, h('h3', {}, 'journey'), b.journey.length
      ? h('table', { class: 'journey' }, h('tr', {}, ['when', 'stage', 'action', 'by', 'commit'].map((x) => h('th', {}, x))), b.journey.map((j) => h('tr', {}, h('td', {}, when(j.at)), h('td', {}, j.stage), h('td', {}, j.action), h('td', {}, j.by), h('td', {}, h('code', {}, j.commit.slice(0, 12))))))
      : h('p', { class: 'muted' }, 'not promoted anywhere yet')),
    h('div', { class: 'panel' }, h('h3', {}, 'parameters per environment'), b.stages.map((s) => h('div', { class: 'stage-params', dataset: { stage: s.stage } },
      h('p', {}, h('strong', {}, `${s.stage} (environment ${s.environment})`), s.runs ? ' — runs this bundle' : '', ' ', verdict(s.check), ' ', s.check.summary),
      s.parameters ? h('table', {}, flatten(s.parameters).map(([k, v]) => h('tr', {}, h('td', {}, h('code', {}, k)), h('td', {}, v)))) : null))),
    h('div', { class: 'panel' }, h('h3', {}, 'rendered diff'), h('label', {}, 'what changes in ', select, ' when this bundle moves in'), diffBox));
  await showDiff();
}

// ---- history view ----

async function renderHistory(stage) {
  if (!pipeline) await loadPipeline();
  const stages = pipeline.stages.map((s) => s.summary.stage);
  stage ??= stages.at(-1);
  const links = h('nav', { class: 'stage-links' }, stages.map((s) => h('a', { href: `#/history/${encodeURIComponent(s)}`, 'aria-current': s === stage ? 'page' : undefined }, s)));
  main.replaceChildren(links, h('p', { class: 'muted' }, 'loading…'));
  const items = await api(`/api/history/${encodeURIComponent(stage)}?limit=100`);
  main.replaceChildren(links, h('h1', {}, `history of ${stage}`, h('span', { class: 'muted' }, ' newest first')),
    items.length ? h('table', { class: 'history' }, h('tr', {}, ['when', 'action', 'bundle', 'from', 'by', 'gates and reason'].map((x) => h('th', {}, x))),
      items.map((i) => h('tr', { dataset: { action: i.action } }, h('td', {}, when(i.at)), h('td', {}, h('strong', {}, i.action)), h('td', {}, digestLink(i.bundle)), h('td', {}, i.from ?? ''), h('td', {}, i.by),
        h('td', {}, i.gates.map((g) => h('div', {}, g)), i.parametersChanged?.length ? h('div', {}, `parameters changed: ${i.parametersChanged.join(', ')}`) : null, i.reason ? h('div', {}, `reason: ${i.reason}`) : null))))
      : h('p', { class: 'muted' }, `no history for ${stage} yet`));
}

// ---- routing and live updates ----

function route() {
  const [, view, ...rest] = location.hash.replace(/^#/, '').split('/');
  const arg = rest.length ? decodeURIComponent(rest.join('/')) : undefined;
  const shown = view === 'bundle' && arg ? renderBundle(arg) : view === 'history' ? renderHistory(arg) : pipeline ? Promise.resolve(renderPipeline()) : refresh();
  return shown.catch((err) => main.replaceChildren(errorBox(err)));
}

function connect() {
  const events = new EventSource('/api/events');
  events.addEventListener('open', () => { live.textContent = 'live'; live.className = 'live on'; });
  events.addEventListener('error', () => { live.textContent = 'reconnecting…'; live.className = 'live off'; });
  events.addEventListener('version', (e) => {
    latest = Math.max(latest, JSON.parse(e.data).version);
    void refresh();
  });
}

tokenForm.addEventListener('submit', (e) => e.preventDefault());
window.addEventListener('hashchange', route);
route();
connect();
