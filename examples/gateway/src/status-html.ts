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
    const body = $('upstreams')
    body.replaceChildren()
    for (const u of s.upstreams) {
      const h = history.get(u.id) ?? []
      h.push({ rate: u.rate, p99: u.p99 })
      if (h.length > 60) h.shift()
      history.set(u.id, h)
      const tr = document.createElement('tr')
      tr.className = 'state-' + u.state
      tr.dataset.upstream = u.id
      tr.append(
        cell(u.id + (u.backup ? ' (backup)' : '')),
        cell(u.state === 'up' ? 'up' : u.state + ' (' + u.reason + ')', 'state'),
        cell(u.breaker),
        cell(String(u.weight), 'num'),
        cell(String(u.inFlight), 'num'),
        cell(String(u.queued), 'num'),
        cell(fmt(u.rate, 1), 'num rate'),
        cell(fmt(u.errorRate * 100, 1) + '%', 'num'),
        cell(fmt(u.p50, 1), 'num'),
        cell(fmt(u.p99, 1), 'num'),
      )
      const rate = document.createElement('td')
      rate.innerHTML = spark(h.map((x) => x.rate), '#2563eb')
      const p99 = document.createElement('td')
      p99.innerHTML = spark(h.map((x) => x.p99), '#9333ea')
      tr.append(rate, p99)
      if (s.actions) {
        const td = document.createElement('td')
        td.append(
          u.state === 'down' && u.reason === 'configured' ? button('up', () => act(u.id, 'up')) : button('down', () => act(u.id, 'down')),
          button('weight', () => { const w = Number(prompt('weight for ' + u.id, String(u.weight))); if (w > 0) act(u.id, 'weight', w) }),
          button('drain', () => { if (confirm('drain ' + u.id + '? it leaves the balancer')) act(u.id, 'drain') }),
        )
        tr.append(td)
      }
      body.append(tr)
    }
  }
  const events = new EventSource('events')
  events.onopen = () => { history.clear(); $('conn').textContent = 'live' } // the server sends its history again
  events.onerror = () => { $('conn').textContent = 'reconnecting…' }
  events.onmessage = (e) => render(JSON.parse(e.data))
</script>
</body>
</html>
`
