export { type PrometheusMetrics, type PrometheusOptions, prometheus } from './prometheus.js'
export { type AccessLogger, type AccessLogLine, type AccessLogOptions, accessLine, accessLog } from './access-log.js'
export type { FlushTimer, LogDestination } from './log-batch.js'
export { type Tracing, type TracingOptions, tracing } from './tracing.js'
