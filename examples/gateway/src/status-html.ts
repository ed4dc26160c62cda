/**
 * The status page: one HTML document with its style and script inline (no build step, no
 * dependency), fed by the server-sent events next to it (`events`). Each sample redraws the
 * totals, the upstream table and, per upstream, two sparklines of the last minute: requests per
 * second and p99 latency. A row is red while its upstream is not up.
 */
export const STATUS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchyard status</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2433; background: #f7f8fa; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  .muted { color: #6b7280; }
  .totals { display: flex; gap: 24px; margin: 16px 0; }
  .totals div { background: #fff; border: 1px solid #e5e7eb; border-radius: 6px; padding: 8px 14px; }
  .totals b { display: block; font-size: 20px; }
  table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid #e5e7eb; }
  th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #eef0f3; white-space: nowrap; }
  th { font-weight: 600; background: #f1f3f6; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  tr.state-up td.state { color: #15803d; font-weight: 600; }
  tr.state-down { background: #fde8e8; }
  tr.state-down td.state { color: rgb(200, 0, 0); font-weight: 600; }
  tr.state-draining td.state { color: #b45309; font-weight: 600; }
  svg { display: block; }
  #conn { float: right; }
</style>
</head>
<body>
<span id="conn" class="muted">connecting…</span>
<h1>Switchyard</h1>
<div class="muted">strategy <span id="strategy">–</span> · updated <span id="updated">–</span></div>
<div id="workers" class="muted" hidden></div>
<div id="act" hidden>actions: <input id="token" type="password" placeholder="token" size="24"> <span id="actmsg" class="muted"></span></div>
<div class="totals">
  <div><span class="muted">requests/s</span><b id="rate">–</b></div>
  <div><span class="muted">requests</span><b id="requests">–</b></div>
  <div><span class="muted">errors</span><b id="errors">–</b></div>
  <div><span class="muted">active</span><b id="active">–</b></div>
  <div><span class="muted">panic</span><b id="panic">–</b></div>
</div>
<table>
  <thead><tr>
    <th>upstream</th><th>state</th><th>breaker</th><th>weight</th><th>in flight</th><th>queued</th>
    <th>req/s</th><th>errors</th><th>p50 ms</th><th>p99 ms</th><th>req/s, last minute</th><th>p99, last minute</th><th class="act" hidden></th>
  </tr></thead>
  <tbody id="upstreams"></tbody>
</table>
<script>
  const history = new Map() // upstream id -> [{ rate, p99 }]
  const $ = (id) => document.getElementById(id)
  const fmt = (x, d = 0) => Number.isFinite(x) ? x.toFixed(d) : '–'
  function spark(values, color) {
    const w = 120, h = 24, max = Math.max(1e-9, ...values)
    const pts = values.map((v, i) => (values.length < 2 ? 0 : (i * w) / (values.length - 1)).toFixed(1) + ',' + (h - 1 - (v / max) * (h - 2)).toFixed(1))
    return '<svg width="' + w + '" height="' + h + '" viewBox="0 0 ' + w + ' ' + h + '"><polyline fill="none" stroke="' + color + '" stroke-width="1.5" points="' + pts.join(' ') + '"/></svg>'
  }
  function cell(text, cls) {
    const td = document.createElement('td')
    if (cls) td.className = cls
    td.textContent = text
    return td
  }
  async function act(upstream, action, weight) {
    const res = await fetch('actions', {
      method: 'POST',
      headers: { authorization: 'Bearer ' + $('token').value, 'content-type': 'application/json' },
      body: JSON.stringify({ upstream, action, weight }),
    })
    const body = await res.json().catch(() => ({}))
    $('actmsg').textContent = res.ok ? action + ' ' + upstream + ': done' : 'refused: ' + (body.error ?? res.status)
  }
  function button(label, onClick) {
    const b = document.createElement('button')
    b.textContent = label
    b.className = 'action-' + label
    b.onclick = onClick
    return b
  }
  // One row per upstream, kept across ticks and updated in place: a row rebuilt every tick would drop a click whose
  // press and release straddle a tick, and a reader's selection with it.
  const rows = new Map() // upstream id -> { tr, cells, act, actKey }
  const NUM = ['num', 'num', 'num', 'num rate', 'num', 'num', 'num']
  function row(id) {
    let r = rows.get(id)
    if (r) return r
    const tr = document.createElement('tr')
    tr.dataset.upstream = id
    const cells = [cell(''), cell('', 'state'), cell('')]
    for (const cls of NUM) cells.push(cell('', cls))
    cells.push(cell(''), cell(''))
    tr.append(...cells)
    r = { tr, cells, act: undefined, actKey: '' }
    rows.set(id, r)
    return r
  }
  function actions(r, u, on) {
    const key = on ? (u.state === 'down' && u.reason === 'configured' ? 'up' : 'down') : ''
    if (key === r.actKey) return
    r.actKey = key
    r.act?.remove()
    r.act = undefined
    if (!on) return
    r.act = document.createElement('td')
    r.act.append(
      key === 'up' ? button('up', () => act(u.id, 'up')) : button('down', () => act(u.id, 'down')),
      button('weight', () => { const w = Number(prompt('weight for ' + u.id, String(rows.get(u.id)?.weight ?? u.weight))); if (w > 0) act(u.id, 'weight', w) }),
      button('drain', () => { if (confirm('drain ' + u.id + '? it leaves the balancer')) act(u.id, 'drain') }),
    )
    r.tr.append(r.act)
  }
  function render(s) {
    $('act').hidden = !s.actions
    for (const th of document.querySelectorAll('th.act')) th.hidden = !s.actions
    $('strategy').textContent = s.strategy
    $('updated').textContent = new Date(s.at).toLocaleTimeString()
    $('rate').textContent = fmt(s.rate, 1)
    $('requests').textContent = s.requests
    $('errors').textContent = s.errors
    $('active').textContent = s.active
    $('panic').textContent = s.panic ? 'yes' : 'no'
    $('workers').hidden = !s.workers
    if (s.workers) $('workers').textContent = s.workers.length + ' workers: ' + s.workers.map((w) => 'pid ' + w.pid + ' ' + w.requests + ' requests, ' + fmt(w.rate, 1) + '/s, ' + w.active + ' active').join(' · ')
    const body = $('upstreams')
    const seen = new Set()
    let i = 0
    for (const u of s.upstreams) {
      seen.add(u.id)
      const h = history.get(u.id) ?? []
      h.push({ rate: u.rate, p99: u.p99 })
      if (h.length > 60) h.shift()
      history.set(u.id, h)
      const r = row(u.id)
      r.weight = u.weight
      r.tr.className = 'state-' + u.state
      const text = [
        u.id + (u.backup ? ' (backup)' : ''),
        u.state === 'up' ? 'up' : u.state + ' (' + u.reason + ')',
        u.breaker,
        String(u.weight),
        String(u.inFlight),
        String(u.queued),
        fmt(u.rate, 1),
        fmt(u.errorRate * 100, 1) + '%',
        fmt(u.p50, 1),
        fmt(u.p99, 1),
      ]
      for (let c = 0; c < text.length; c++) if (r.cells[c].textContent !== text[c]) r.cells[c].textContent = text[c]
      r.cells[10].innerHTML = spark(h.map((x) => x.rate), '#2563eb')
      r.cells[11].innerHTML = spark(h.map((x) => x.p99), '#9333ea')
      actions(r, u, s.actions)
      if (body.children[i] !== r.tr) body.insertBefore(r.tr, body.children[i] ?? null)
      i++
    }
    for (const [id, r] of rows) if (!seen.has(id)) { r.tr.remove(); rows.delete(id); history.delete(id) }
  }
  const events = new EventSource('events')
  events.onopen = () => { history.clear(); $('conn').textContent = 'live' } // the server sends its history again
  events.onerror = () => { $('conn').textContent = 'reconnecting…' }
  events.onmessage = (e) => render(JSON.parse(e.data))
</script>
</body>
</html>
`
