// What the benchmark's backends answer, built once and shared by the Node backends
// (backends.mjs) and the nginx ones (nginx.mjs): the seed's hello-world JSON, 64 KiB, and 16 KiB
// of JSON records that compress as an API's answer does.
export const SMALL = Buffer.from(JSON.stringify({ message: 'Hello, World!' }))
export const BIG = Buffer.alloc(64 * 1024, 'x')
const records = []
for (let i = 0; JSON.stringify(records).length < 16 * 1024; i++) records.push({ id: 1000 + i, name: `item ${i}`, price: (i * 37) % 1000, tags: ['blue', 'sale'], inStock: i % 3 !== 0 })
export const TEXT = Buffer.from(JSON.stringify(records))
/** Lets shared caches keep `/cached` for an hour. */
export const CACHEABLE = { 'cache-control': 'public, max-age=3600' }
