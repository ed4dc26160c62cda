// autocannon in its own process (so it can be pinned); prints one JSON line of results.
import autocannon from 'autocannon'

const { url, connections, duration, uploadBytes } = JSON.parse(process.argv[2])
const r = await autocannon({
  url,
  connections,
  duration,
  ...(uploadBytes ? { method: 'POST', body: Buffer.alloc(uploadBytes, 'x') } : {}),
})
console.log(
  JSON.stringify({
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    requests: r.requests.total,
    errors: r.errors + r.timeouts + r.non2xx,
  }),
)
