// fedci web view: live feed, trace graph, status. Plain JS, no dependencies; it only reads the
// node's GET API (same origin), so it works offline and behind the --http-token gate (the
// browser resends its Basic credentials on every request).
'use strict';

const FEED_MAX = 500; // rows kept in the feed
const FEED_BACKLOG = 200; // events shown from before the page opened
const TRACE_DEPTH = 1000;

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => (
  { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const short = (id) => String(id || '').slice(0, 12);
const when = (ms) => (ms ? new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '');

async function getJson(path) {
  const r = await fetch(path, { headers: { Accept: 'application/json' } });
  const body = await r.json().catch(() => null);
  if (!r.ok) {
    const msg = body && body.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${r.status}`;
    throw new Error(msg);
  }
  return body;
}

// A stable colour per community (hue from the name), so one community reads the same everywhere.
function hue(community) {
  let h = 0;
  for (const c of String(community || '')) h = (h * 31 + c.codePointAt(0)) % 360;
  return h;
}
const fillOf = (c) => (c ? `hsl(${hue(c)},70%,92%)` : '#f4f4f4');
const strokeOf = (c) => (c ? `hsl(${hue(c)},55%,38%)` : '#888');

// The data a person looks for first in an event, by kind.
function keyData(ev) {
  const d = ev.data || {};
  if (ev.kind === 'confidence.modified') return { text: d.name || '', badge: d.value };
  if (d.identity) return { text: d.identity };
  if (d.name) return { text: d.name + (d.version ? ` ${d.version}` : '') };
  return { text: '' };
}

function badge(value) {
  if (!value) return '';
  const v = String(value).toUpperCase();
  const cls = v === 'SUCCESS' ? 'ok' : v === 'FAILURE' ? 'bad' : 'other';
  return `<span class="badge ${cls}">${esc(v)}</span>`;
}

/* ---------------- status ---------------- */

async function loadStatus() {
  try {
    const s = await getJson('/v1/status');
    $('community').textContent = s.community ? `· ${s.community}` : '';
    const net = s.network || {};
    const peers = Array.isArray(net.peers) ? net.peers : [];
    const pins = (s.pins || []).map((p) => `<li><span class="swatch" data-c="${esc(p.community)}"></span>${esc(p.community)}: root <code>${esc(short(p.root))}</code>, roster ${p.roster ? `serial ${esc(p.roster.serial)} (${esc(p.roster.keys)} keys)` : 'none'}</li>`).join('');
    const rejected = Object.entries(s.rejected || {});
    $('status').innerHTML = `
      <dl class="kv">
        <dt>community</dt><dd>${esc(s.community)}</dd>
        <dt>node key</dt><dd><code title="${esc(s.node_key)}">${esc(short(s.node_key))}</code></dd>
        <dt>events</dt><dd>${esc(s.events)}${s.untrusted_events ? ` (${esc(s.untrusted_events)} no longer trusted)` : ''}</dd>
        <dt>dangling links</dt><dd>${esc(s.dangling_link_targets)}</dd>
        <dt>peers</dt><dd>${s.network ? `${peers.length} connected` : 'network off'}${peers.map((p) => ` <code title="${esc(p.peer_id)}">${esc(String(p.peer_id || '').slice(-8))}</code>`).join('')}</dd>
        <dt>rejections</dt><dd>${rejected.length ? rejected.map(([k, v]) => `${esc(k)}: ${esc(v)}`).join(', ') : 'none'}</dd>
      </dl>
      <h3>Pins and rosters</h3><ul class="pins">${pins || '<li>none</li>'}</ul>`;
    paintSwatches($('status'));
  } catch (e) {
    $('status').textContent = `status unavailable: ${e.message}`;
  }
}

function paintSwatches(root) {
  for (const el of root.querySelectorAll('[data-c]')) {
    el.style.background = fillOf(el.dataset.c);
    el.style.borderColor = strokeOf(el.dataset.c);
  }
}

/* ---------------- live feed ---------------- */

const feed = { communities: new Set(), kinds: new Set(), after: 0, started: false };

function addOption(select, set, value) {
  if (!value || set.has(value)) return;
  set.add(value);
  const o = document.createElement('option');
  o.value = value;
  o.textContent = value;
  select.appendChild(o);
}

function rowVisible(tr) {
  const c = $('f-community').value;
  const k = $('f-kind').value;
  return (!c || tr.dataset.community === c) && (!k || tr.dataset.kind === k);
}

function addFeedRow(ev) {
  addOption($('f-community'), feed.communities, ev.community);
  addOption($('f-kind'), feed.kinds, ev.kind);
  const kd = keyData(ev);
  const tr = document.createElement('tr');
  tr.dataset.eventId = ev.id;
  tr.dataset.community = ev.community;
  tr.dataset.kind = ev.kind;
  tr.innerHTML = `<td>${esc(when(ev.time))}</td><td>${esc(ev.kind)}</td>
    <td><span class="swatch" data-c="${esc(ev.community)}"></span>${esc(ev.community)}</td>
    <td><a href="/trace/${esc(ev.id)}" title="${esc(ev.id)}"><code>${esc(short(ev.id))}</code></a></td>
    <td>${esc(kd.text)} ${badge(kd.badge)}</td>`;
  paintSwatches(tr);
  tr.hidden = !rowVisible(tr);
  const body = $('feed-rows');
  body.insertBefore(tr, body.firstChild);
  while (body.rows.length > FEED_MAX) body.deleteRow(body.rows.length - 1);
}

function applyFilters() {
  for (const tr of $('feed-rows').rows) tr.hidden = !rowVisible(tr);
}

// Reads the NDJSON stream (history from `after`, then live) and reconnects when it ends.
async function runFeed() {
  try {
    const s = await getJson('/v1/status');
    feed.after = Math.max(0, (s.last_arrival || 0) - FEED_BACKLOG);
  } catch (_) { /* start from the beginning */ }
  for (;;) {
    try {
      $('feed-state').textContent = '(live)';
      const r = await fetch(`/v1/stream?after=${feed.after}`);
      if (!r.ok || !r.body) throw new Error(`HTTP ${r.status}`);
      document.body.dataset.feedLive = '1';
      const reader = r.body.getReader();
      const dec = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue; // keepalive
          const ev = JSON.parse(line);
          if (ev.arrival) feed.after = Math.max(feed.after, ev.arrival);
          addFeedRow(ev);
        }
      }
    } catch (e) {
      $('feed-state').textContent = `(reconnecting: ${e.message})`;
    }
    delete document.body.dataset.feedLive;
    await new Promise((res) => setTimeout(res, 2000));
  }
}

/* ---------------- trace ---------------- */

// Longest-path layering: a node's layer is one more than the deepest event it links to, so
// what was made first sits left and the confidence built on it right.
function layers(nodes, edges) {
  const out = new Map(nodes.map((n) => [n.id, []]));
  for (const e of edges) if (out.has(e.from) && out.has(e.to)) out.get(e.from).push(e.to);
  const layer = new Map();
  const visiting = new Set();
  const visit = (id) => {
    if (layer.has(id)) return layer.get(id);
    if (visiting.has(id)) return 0; // ids are hashes, so a cycle cannot happen; stay safe
    visiting.add(id);
    let l = 0;
    for (const t of out.get(id)) l = Math.max(l, visit(t) + 1);
    visiting.delete(id);
    layer.set(id, l);
    return l;
  };
  // Iterative order (deepest-first) keeps recursion shallow on long chains.
  const order = [...nodes].sort((a, b) => (a.depth ?? 0) - (b.depth ?? 0));
  for (const n of order) visit(n.id);
  return layer;
}

const NW = 190; const NH = 54; const GX = 100; const GY = 30; const PAD = 20;
// Links that skip layers dip below the rows by this much per layer skipped, so they do not run
// through the nodes in between.
const DIP = 26;

function layout(graph) {
  const layer = layers(graph.nodes, graph.edges);
  const cols = [];
  for (const n of graph.nodes) {
    const l = layer.get(n.id) || 0;
    (cols[l] = cols[l] || []).push(n);
  }
  const pos = new Map();
  const nbrs = new Map(graph.nodes.map((n) => [n.id, []]));
  for (const e of graph.edges) {
    if (nbrs.has(e.from) && nbrs.has(e.to)) { nbrs.get(e.from).push(e.to); nbrs.get(e.to).push(e.from); }
  }
  // One barycentre sweep: order each column by where its neighbours in earlier columns sit.
  cols.forEach((col, x) => {
    if (!col) return;
    col.forEach((n, i) => {
      const ys = nbrs.get(n.id).filter((t) => pos.has(t)).map((t) => pos.get(t).row);
      n._key = ys.length ? ys.reduce((a, b) => a + b, 0) / ys.length : i;
    });
    col.sort((a, b) => a._key - b._key || String(a.id).localeCompare(String(b.id)));
    col.forEach((n, row) => pos.set(n.id, { x: PAD + x * (NW + GX), y: PAD + row * (NH + GY), row }));
  });
  const width = PAD * 2 + Math.max(1, cols.length) * (NW + GX) - GX;
  let height = PAD * 2 + Math.max(1, ...cols.map((c) => (c ? c.length : 0))) * (NH + GY) - GY;
  let skip = 0;
  for (const e of graph.edges) {
    if (layer.has(e.from) && layer.has(e.to)) skip = Math.max(skip, layer.get(e.from) - layer.get(e.to) - 1);
  }
  height += skip > 0 ? DIP * Math.min(skip, 8) + 10 : 0;
  return { pos, width, height, layer };
}

function verdict(n, signers) {
  if (!n.kind) return { cls: 'dangling', text: 'dangling link: not held on this node' };
  if (n.trusted === false) return { cls: 'bad', text: `not trusted: ${n.untrusted_reason || 'no longer authorised'}` };
  const s = signers.get(n.author);
  const roster = s ? `${s.community} roster serial ${s.serial}${s.ended ? ` (key ${s.ended})` : ''}` : 'roster entry not found';
  return { cls: 'ok', text: `signature verified · trusted · ${roster}` };
}

function renderGraph(graph, signers) {
  const { pos, width, height, layer } = layout(graph);
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#555"/></marker></defs>'];
  for (const e of graph.edges) {
    const a = pos.get(e.from); const b = pos.get(e.to);
    if (!a || !b) continue;
    // Drawn from the linked (older) event to the one carrying the link: left to right.
    const x1 = b.x + NW; const y1 = b.y + NH / 2; const x2 = a.x; const y2 = a.y + NH / 2;
    const mx = (x1 + x2) / 2;
    const skip = Math.min(8, Math.max(0, (layer.get(e.from) || 0) - (layer.get(e.to) || 0) - 1));
    let d; let ly;
    if (skip > 0) {
      const low = Math.max(y1, y2) + NH / 2 + DIP * skip;
      d = `M${x1},${y1} C${x1 + GX},${low} ${x2 - GX},${low} ${x2},${y2}`;
      ly = low - DIP / 2;
    } else {
      d = `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`;
      ly = (y1 + y2) / 2 - 4;
    }
    parts.push(`<g class="edge"><path d="${d}" fill="none" stroke="#777" marker-end="url(#arrow)"/>`
      + `<text x="${mx}" y="${ly}" text-anchor="middle" class="rel">${esc(e.rel)}</text></g>`);
  }
  for (const n of graph.nodes) {
    const p = pos.get(n.id);
    const v = verdict(n, signers);
    const dangling = !n.kind;
    const isRoot = n.id === graph.root;
    const d = n.kind === 'confidence.modified' ? String(n.label || '').split('=').pop() : '';
    const val = String(d).toUpperCase();
    const badgeSvg = val === 'SUCCESS' || val === 'FAILURE'
      ? `<rect x="${NW - 74}" y="-9" width="68" height="16" rx="8" fill="${val === 'SUCCESS' ? '#1a7f37' : '#cf222e'}"/><text x="${NW - 40}" y="3" text-anchor="middle" class="badge-t">${val}</text>` : '';
    const mark = dangling ? '?' : v.cls === 'ok' ? '✔' : '✘';
    parts.push(`<g class="node${isRoot ? ' root' : ''}" data-event-id="${esc(n.id)}" transform="translate(${p.x},${p.y})">`
      + `<title>${esc(n.id)}\n${esc(v.text)}</title>`
      + `<rect width="${NW}" height="${NH}" rx="6" fill="${fillOf(n.community)}" stroke="${strokeOf(n.community)}" stroke-width="${isRoot ? 3 : 1.5}"${dangling ? ' stroke-dasharray="5 4"' : ''}/>`
      + `<text x="8" y="18" class="kind">${esc(n.kind || 'dangling link')}</text>${badgeSvg}`
      + `<text x="8" y="34" class="lbl">${esc(String(n.community || '?'))} · ${esc((n.kind === 'confidence.modified' ? String(n.label || '').split('=')[0] : String(n.label || '')).slice(0, 19))}</text>`
      + `<text x="8" y="48" class="sig ${v.cls}">${mark} ${esc(dangling ? 'not held here' : `signer ${String(n.author).slice(0, 8)}`)} · ${esc(String(n.id).slice(0, 8))}</text></g>`);
  }
  parts.push('</svg>');
  return { svg: parts.join(''), layer };
}

function renderList(graph, signers, layer) {
  const items = [...graph.nodes].sort((a, b) => (layer.get(a.id) || 0) - (layer.get(b.id) || 0) || (a.time || 0) - (b.time || 0));
  return items.map((n) => {
    const v = verdict(n, signers);
    const val = n.kind === 'confidence.modified' ? String(n.label || '').split('=').pop() : '';
    return `<li data-event-id="${esc(n.id)}" class="${v.cls}${n.id === graph.root ? ' root' : ''}" tabindex="0">
      <span class="swatch" data-c="${esc(n.community || '')}"></span>
      <strong>${esc(n.kind || 'dangling link')}</strong> ${esc(n.community || '')} ${badge(val === 'SUCCESS' || val === 'FAILURE' ? val : '')}
      <div>${esc(n.label)}</div>
      <div class="meta"><a href="/trace/${esc(n.id)}"><code>${esc(n.id)}</code></a></div>
      <div class="meta">${n.kind ? `time ${esc(when(n.time))} · signer <code title="${esc(n.author)}">${esc(short(n.author))}</code> · ` : ''}<span class="verdict ${v.cls}">${esc(v.text)}</span></div>
    </li>`;
  }).join('');
}

// Which community roster (and serial) lists each signing key, from /v1/trust.
async function signerIndex() {
  const m = new Map();
  try {
    const t = await getJson('/v1/trust');
    for (const p of t.pins || []) {
      const r = p.roster;
      if (!r) continue;
      for (const e of Array.isArray(r.keys) ? r.keys : []) m.set(e.key, { community: p.community, serial: r.serial });
      for (const e of r.ended || []) if (!m.has(e.key)) m.set(e.key, { community: p.community, serial: r.serial, ended: e.how });
    }
  } catch (_) { /* shown as "roster entry not found" */ }
  return m;
}

async function showTrace(id) {
  const t0 = performance.now();
  delete document.body.dataset.traceReady;
  $('feed-view').hidden = true;
  $('trace-view').hidden = false;
  $('trace-root').textContent = id;
  const base = `/v1/trace/${encodeURIComponent(id)}?direction=both&depth=${TRACE_DEPTH}`;
  $('dl-dot').href = `${base}&format=dot`;
  $('dl-dot').setAttribute('download', `trace-${short(id)}.dot`);
  $('dl-bundle').href = `${base}&format=bundle`;
  $('dl-bundle').setAttribute('download', `trace-${short(id)}.cbor`);
  $('dl-json').href = base;
  $('dl-json').setAttribute('download', `trace-${short(id)}.json`);
  $('trace-note').textContent = 'loading…';
  try {
    const [graph, signers] = await Promise.all([getJson(base), signerIndex()]);
    const { svg, layer } = renderGraph(graph, signers);
    $('graph').innerHTML = svg;
    const list = $('trace-list');
    list.innerHTML = renderList(graph, signers, layer);
    paintSwatches(list);
    const dangling = graph.nodes.filter((n) => !n.kind).length;
    const ms = Math.round(performance.now() - t0);
    $('trace-note').textContent = `${graph.nodes.length} events, ${graph.edges.length} links`
      + `${dangling ? `, ${dangling} dangling` : ''}${graph.truncated ? ', cut at the node limit' : ''} · rendered in ${ms} ms`;
    document.body.dataset.traceReady = String(graph.nodes.length);
    // Since navigation start: what "the page loads in under a second" is measured by.
    document.body.dataset.traceLoadedMs = String(Math.round(performance.now()));
    document.body.dataset.traceMs = String(ms);
  } catch (e) {
    $('trace-note').textContent = `trace unavailable: ${e.message}`;
    $('graph').textContent = '';
    $('trace-list').textContent = '';
  }
}

function select(id) {
  for (const el of document.querySelectorAll('.selected')) el.classList.remove('selected');
  for (const el of document.querySelectorAll(`[data-event-id="${CSS.escape(id)}"]`)) el.classList.add('selected');
  const li = document.querySelector(`#trace-list [data-event-id="${CSS.escape(id)}"]`);
  if (li) li.scrollIntoView({ block: 'nearest' });
}

function route() {
  const m = location.pathname.match(/^\/trace\/([0-9a-fA-F]{64})$/);
  if (m) {
    showTrace(m[1]);
  } else {
    $('trace-view').hidden = true;
    $('feed-view').hidden = false;
    // The feed starts when first shown, so a trace page does not also load the backlog.
    if (!feed.started) {
      feed.started = true;
      runFeed();
    }
  }
}

// In-page navigation for trace links: no reload, the feed keeps streaming.
document.addEventListener('click', (ev) => {
  const node = ev.target.closest('#graph [data-event-id]');
  if (node) { select(node.dataset.eventId); return; }
  const a = ev.target.closest('a[href^="/trace/"], a[href="/"]');
  if (a && !a.hasAttribute('download') && ev.button === 0 && !ev.ctrlKey && !ev.metaKey) {
    ev.preventDefault();
    history.pushState(null, '', a.getAttribute('href'));
    route();
  }
});
window.addEventListener('popstate', route);

document.addEventListener('DOMContentLoaded', () => {
  $('f-community').addEventListener('change', applyFilters);
  $('f-kind').addEventListener('change', applyFilters);
  $('trace-list').addEventListener('focusin', (ev) => {
    const li = ev.target.closest('[data-event-id]');
    if (li) select(li.dataset.eventId);
  });
  route();
  loadStatus();
  setInterval(loadStatus, 10000);
});
