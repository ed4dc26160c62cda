// The library alone, as an app mounts it: `http.createServer(createBalancer({ upstreams }).handler)`
// with every default (round robin, retries, passive health), no gateway around it (no guards,
// metrics, access log or status page).
import http from 'node:http'
import { createBalancer } from '@switchyard/core'

const lb = createBalancer({ upstreams: process.env.UPSTREAMS.split(',') })
http.createServer(lb.handler).listen(Number(process.env.PORT), '127.0.0.1')
