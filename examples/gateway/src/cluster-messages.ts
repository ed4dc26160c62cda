import type { ShareNews } from '@switchyard/core'
import type { MetricObjectWithValues, MetricValue } from 'prom-client'
import type { StatusSample } from './status.js'

/**
 * The messages between the gateway's cluster primary and its workers (Node's IPC channel, JSON).
 * Every one carries `sw`, so the primary and workers ignore anything else on the channel.
 */

/** A change to the fleet made through the admin API or the status page, replayed in every worker. */
export type AdminOp =
  | { op: 'add'; upstream: unknown }
  | { op: 'update'; id: string; change: { weight?: number; down?: boolean } }
  | { op: 'remove'; id: string; drain: boolean }

/** One worker's prom-client metrics, as `registry.getMetricsAsJSON()` gives them. */
export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[]

/** What a worker sends the primary. */
export type ToPrimary =
  /** The worker is listening for the primary's messages: send it the state so far. */
  | { sw: 'hello' }
  | { sw: 'share'; news: ShareNews }
  | { sw: 'admin'; op: AdminOp }
  /** A scrape of `/metrics` reached this worker: the primary answers with the gateway's. */
  | { sw: 'scrape'; id: number }
  /** This worker's own metrics, for collection `id`. */
  | { sw: 'metrics'; id: number; metrics: MetricsJson }
  /** This worker's status sample of the last interval. */
  | { sw: 'sample'; sample: StatusSample }

/** What the primary sends a worker. */
export type ToWorker =
  | { sw: 'share'; news: ShareNews }
  | { sw: 'admin'; op: AdminOp }
  /** Send your metrics for collection `id`. */
  | { sw: 'collect'; id: number }
  /** The gateway's metrics for the worker's scrape `id`. */
  | { sw: 'scraped'; id: number; text?: string; error?: string }
  /** The fleet's status sample, every worker's merged. */
  | { sw: 'fleet'; sample: StatusSample }

/** Whether `m` is one of ours. */
export function isGatewayMessage<T extends { sw: string }>(m: unknown): m is T {
  return typeof m === 'object' && m !== null && typeof (m as { sw?: unknown }).sw === 'string'
}
