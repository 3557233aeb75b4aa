// The edgehost dashboard: one page, no framework. It asks for the admin token
// once (kept in sessionStorage: this tab only), then reads the host's event
// stream (GET /v1/events) with fetch(), which can send the token as a bearer
// header; EventSource cannot send headers, and a token in the URL would end up
// in logs and history. Everything is text put in with textContent: module
// names, log lines and program output are never parsed as HTML.

const TOKEN_KEY = 'edgehost-admin-token';
/** Points per chart: two minutes at one snapshot a second. */
const MAX_POINTS = 120;
/** Snapshots closer than this (a state change between ticks) update the card but add no chart point: a rate over a few ms is noise. */
const MIN_SAMPLE_MS = 500;
/** Log lines kept in the page (the host keeps its own tail), and shown at once. */
const MAX_LOG_LINES = 2000;
const MAX_LOG_SHOWN = 500;
const LEVELS = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem(TOKEN_KEY);
/** The current event stream, aborted on sign-out. */
let streamAbort;
/** name -> { card, fields, chart, data, prev } */
const modules = new Map();
const logLines = [];

// ---------------------------------------------------------------------------
// token

function askToken(message) {
  streamAbort?.abort();
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  $('main').hidden = true;
  $('sign-out').hidden = true;
  $('login').hidden = false;
  setConnection('idle', 'token needed');
  if (message) $('token-message').textContent = message;
  $('token-input').focus();
}

$('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  token = $('token-input').value.trim();
  $('token-input').value = '';
  sessionStorage.setItem(TOKEN_KEY, token);
  start();
});

$('sign-out').addEventListener('click', () => askToken());

function start() {
  $('login').hidden = true;
  $('main').hidden = false;
  $('sign-out').hidden = false;
  void connect();
}

/** A call to the admin API with the token; answers { status, ok, json }. */
async function api(method, path, body) {
  const res = await fetch(path, { method, body, headers: { authorization: `Bearer ${token}` } });
  let json = {};
  try {
    json = await res.json();
  } catch {
    // an empty or non-JSON answer: the status says enough
  }
  if (res.status === 401) askToken('The host refused that token. Enter the one from its token file.');
  return { status: res.status, ok: res.ok, json };
}

const describeError = (json, status) => (json.code ? `${json.code}: ${json.message}` : `HTTP ${status}`);

// ---------------------------------------------------------------------------
// the event stream

function setConnection(state, text) {
  const el = $('connection');
  el.dataset.state = state;
  el.textContent = text;
}

async function connect() {
  let delay = 1000;
  while (token) {
    const abort = new AbortController();
    streamAbort = abort;
    try {
      const res = await fetch('/v1/events', { headers: { authorization: `Bearer ${token}` }, signal: abort.signal, cache: 'no-store' });
      if (res.status === 401) {
        askToken('The host refused that token. Enter the one from its token file.');
        return;
      }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      setConnection('live', 'live');
      delay = 1000;
      await readEvents(res.body);
    } catch (e) {
      if (abort.signal.aborted) return;
      console.debug('event stream ended', e);
    }
    if (!token) return;
    setConnection('retrying', 'reconnecting');
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 10_000);
  }
}

/** Server-Sent Events: blocks separated by a blank line, `event:` and `data:` fields, `:` comments. */
async function readEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffered += value;
    for (let end = buffered.indexOf('\n\n'); end !== -1; end = buffered.indexOf('\n\n')) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      let event = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(line[5] === ' ' ? 6 : 5));
      }
      if (data.length > 0) dispatch(event, data.join('\n'));
    }
  }
}

function dispatch(event, data) {
  try {
    if (event === 'modules') onModules(JSON.parse(data));
    else if (event === 'log') onLog(JSON.parse(data));
  } catch (e) {
    console.error(`cannot show a ${event} event`, e);
  }
}

// ---------------------------------------------------------------------------
// modules

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const c of children) node.append(c);
  return node;
}

function fact(label) {
  const dd = el('dd');
  return { node: el('div', {}, el('dt', { textContent: label }), dd), dd };
}

function createCard(name) {
  const facts = {
    world: fact('world'),
    restarts: fact('restarts'),
    queue: fact('queue'),
    published: fact('published'),
    delivered: fact('delivered'),
    denied: fact('denied'),
  };
  const state = el('span', { className: 'state' });
  const replace = el('button', { type: 'button', className: 'quiet', textContent: 'replace', title: `Deploy a new component for ${name}` });
  const remove = el('button', { type: 'button', className: 'quiet danger', textContent: 'remove', title: `Stop and remove ${name}` });
  const rates = el('div', { className: 'rates' });
  const rateIn = el('span', { className: 'in' });
  const rateOut = el('span', { className: 'out' });
  rates.append(rateIn, ' · ', rateOut);
  const chartBox = el('div', { className: 'chart' });
  const lastError = el('p', { className: 'last-error', hidden: true });
  const card = el(
    'article',
    { className: 'module' },
    el('div', { className: 'module-head' }, el('h3', { textContent: name }), state, el('div', { className: 'module-actions' }, replace, remove)),
    el('dl', { className: 'facts' }, ...Object.values(facts).map((f) => f.node)),
    rates,
    chartBox,
    lastError,
  );
  card.dataset.module = name;
  replace.addEventListener('click', () => {
    const form = $('deploy-form');
    form.elements.name.value = name;
    form.scrollIntoView({ behavior: 'smooth' });
    form.elements.component.focus();
  });
  remove.addEventListener('click', () => removeModule(name));
  const data = [[], [], []];
  const chart = new globalThis.uPlot(
    {
      width: 280,
      height: 80,
      legend: { show: false },
      cursor: { show: false },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [{ show: false }, { size: 36, font: '10px system-ui', ticks: { show: false }, grid: { stroke: 'rgba(128,128,128,0.15)' } }],
      series: [
        {},
        { label: 'in', stroke: '#2b6cb0', width: 1.5, points: { show: false } },
        { label: 'out', stroke: '#2f9e6b', width: 1.5, points: { show: false } },
      ],
    },
    data,
    chartBox,
  );
  new ResizeObserver(([entry]) => {
    const width = Math.floor(entry.contentRect.width);
    if (width > 0) chart.setSize({ width, height: 80 });
  }).observe(chartBox);
  return { card, facts, state, rateIn, rateOut, chartBox, chart, data, lastError, prev: undefined };
}

function onModules({ t, modules: list }) {
  const container = $('modules');
  const seen = new Set();
  for (const m of list) {
    seen.add(m.name);
    let entry = modules.get(m.name);
    if (!entry) {
      entry = createCard(m.name);
      modules.set(m.name, entry);
    }
    // Cards in name order, as the host sends them.
    container.append(entry.card);
    update(entry, m, t);
  }
  for (const [name, entry] of modules) {
    if (seen.has(name)) continue;
    entry.chart.destroy();
    entry.card.remove();
    modules.delete(name);
  }
  const ready = list.filter((m) => m.state === 'ready' || m.state === 'sleeping').length;
  $('module-summary').textContent = `${ready} of ${list.length} ready`;
  updateModuleFilter(list.map((m) => m.name));
}

function update(entry, m, t) {
  entry.state.textContent = m.state;
  entry.state.dataset.state = m.state;
  entry.card.dataset.state = m.state;
  entry.facts.world.dd.textContent = m.world;
  entry.facts.restarts.dd.textContent = String(m.restarts);
  entry.facts.queue.dd.textContent = String(m.queueDepth);
  entry.facts.published.dd.textContent = String(m.published);
  entry.facts.delivered.dd.textContent = String(m.queue?.delivered ?? 0);
  entry.facts.denied.dd.textContent = String(m.denied);
  entry.lastError.hidden = !m.lastError;
  entry.lastError.textContent = m.lastError
    ? `${m.lastError.code}: ${m.lastError.message} (${new Date(m.lastError.at).toLocaleTimeString([], { hour12: false })})`
    : '';

  const now = { t, published: m.published, delivered: m.queue?.delivered ?? 0 };
  const prev = entry.prev;
  if (prev && t - prev.t < MIN_SAMPLE_MS) return;
  entry.prev = now;
  if (!prev) return;
  const seconds = (t - prev.t) / 1000;
  // A counter that went down (the module was removed and added again) starts over.
  const rateIn = Math.max(0, (now.delivered - prev.delivered) / seconds);
  const rateOut = Math.max(0, (now.published - prev.published) / seconds);
  const { data } = entry;
  data[0].push(t / 1000);
  data[1].push(rateIn);
  data[2].push(rateOut);
  if (data[0].length > MAX_POINTS) for (const series of data) series.shift();
  entry.chart.setData(data);
  entry.rateIn.textContent = `in ${rateIn.toFixed(1)}/s`;
  entry.rateOut.textContent = `out ${rateOut.toFixed(1)}/s`;
  // What the chart shows, for scripts and tests that read the page.
  entry.chartBox.dataset.samples = String(data[0].length);
  entry.chartBox.dataset.lastIn = rateIn.toFixed(2);
  entry.chartBox.dataset.lastOut = rateOut.toFixed(2);
}

async function removeModule(name) {
  if (!confirm(`Remove module ${name}? What is queued for it is delivered first (up to 30 s).`)) return;
  const { ok, json, status } = await api('DELETE', `/v1/modules/${encodeURIComponent(name)}`);
  showResult($('deploy-result'), ok, ok ? `removed ${name}` : describeError(json, status));
}

// ---------------------------------------------------------------------------
// log tail

function updateModuleFilter(names) {
  const select = $('log-module');
  const have = new Set([...select.options].map((o) => o.value));
  for (const name of names) if (!have.has(name)) select.append(el('option', { value: name, textContent: name }));
}

function matches(line) {
  const module = $('log-module').value;
  const kind = $('log-kind').value;
  if (module && line.module !== module) return false;
  if (kind === 'warn') return line.level >= 40;
  if (kind === 'denied') return line.code === 'EH_DENIED';
  return true;
}

function logItem(line) {
  const level = LEVELS[line.level] ?? String(line.level);
  const li = el('li');
  li.dataset.level = level;
  if (line.code === 'EH_DENIED') li.className = 'denied';
  const time = typeof line.time === 'number' ? new Date(line.time).toLocaleTimeString([], { hour12: false }) : '';
  li.append(el('span', { className: 'time', textContent: `${time} ` }), el('span', { className: 'level', textContent: level }), ' ');
  if (line.module) li.append(el('span', { className: 'tag', textContent: `[${line.module}] ` }));
  if (line.code) li.append(el('span', { className: 'tag', textContent: `${line.code} ` }));
  li.append(String(line.msg ?? ''));
  return li;
}

function onLog(line) {
  logLines.push(line);
  if (logLines.length > MAX_LOG_LINES) logLines.shift();
  if (!matches(line)) return;
  const list = $('log');
  list.prepend(logItem(line));
  while (list.childElementCount > MAX_LOG_SHOWN) list.lastElementChild.remove();
}

function renderLog() {
  const shown = logLines.filter(matches).slice(-MAX_LOG_SHOWN).reverse();
  $('log').replaceChildren(...shown.map(logItem));
}

$('log-module').addEventListener('change', renderLog);
$('log-kind').addEventListener('change', renderLog);

// ---------------------------------------------------------------------------
// deploy and run once

function showResult(node, ok, text) {
  node.dataset.ok = String(ok);
  node.textContent = text;
}

$('deploy-form').elements['entry-file'].addEventListener('change', async (e) => {
  const file = e.target.files[0];
  if (file) $('deploy-form').elements.entry.value = await file.text();
});

$('deploy-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.target;
  const result = $('deploy-result');
  const name = form.elements.name.value.trim();
  let entry;
  try {
    entry = JSON.parse(form.elements.entry.value);
  } catch (err) {
    showResult(result, false, `The module entry is not valid JSON: ${err.message}`);
    return;
  }
  const body = new FormData();
  body.set('component', form.elements.component.files[0]);
  body.set('module', JSON.stringify(entry));
  showResult(result, true, `deploying ${name}...`);
  const { ok, json, status } = await api('PUT', `/v1/modules/${encodeURIComponent(name)}`, body);
  showResult(result, ok, ok ? `${json.action} ${name}: ${json.module.state}` : describeError(json, status));
});

$('run-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.target;
  const request = {};
  const args = form.elements.args.value.split('\n').filter((a) => a !== '');
  if (args.length > 0) request.args = args;
  if (form.elements.deadline.value) request.deadlineMs = Number(form.elements.deadline.value);
  const body = new FormData();
  body.set('component', form.elements.component.files[0]);
  body.set('request', JSON.stringify(request));
  if (form.elements.stdin.value) body.set('stdin', new Blob([form.elements.stdin.value]), 'stdin');
  $('run-result').hidden = false;
  showResult($('run-outcome'), true, 'running...');
  $('run-stdout').textContent = '';
  $('run-stderr').textContent = '';
  const { ok, json, status } = await api('POST', '/v1/run', body);
  if (!ok) {
    showResult($('run-outcome'), false, describeError(json, status));
    return;
  }
  showResult($('run-outcome'), json.outcome === 'exited' && json.exitCode === 0, outcomeText(json));
  $('run-stdout').textContent = json.stdout ?? '';
  $('run-stderr').textContent = json.stderr ?? '';
});

function outcomeText(r) {
  const took = `in ${r.durationMs} ms`;
  if (r.outcome === 'exited') return `exited with status ${r.exitCode} ${took}`;
  if (r.outcome === 'stopped') return `stopped ${took}: ${r.limit ? `the ${r.limit} limit was reached` : 'the run was cancelled'}`;
  return `trapped ${took}: ${r.error ?? 'no detail'}${r.limit ? ` (at the ${r.limit} limit)` : ''}`;
}

// ---------------------------------------------------------------------------

if (token) start();
else askToken();
