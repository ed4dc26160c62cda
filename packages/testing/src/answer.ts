/** What a fake or function upstream does with one request. */
export type Answer =
  | {
      /** @default 200 */
      status?: number
      headers?: Record<string, string | string[]>
      /** @default a JSON body naming the upstream, the method and the URL */
      body?: string | Uint8Array
      /** Wait this long before answering, ms. */
      delayMs?: number
      /** Send the body in `chunks` pieces, `everyMs` apart (a slow body). */
      slowBody?: { chunks: number; everyMs: number }
    }
  /** Close the connection without answering (a crash mid-request). */
  | 'reset'
  /** Never answer (a stuck process); the request stays open until the client gives up. */
  | 'hang'
  /** Answer bytes that are not HTTP, then close (a confused process). */
  | 'garbage'

/** One request an upstream received. */
export interface ReceivedRequest {
  readonly method: string
  /** Path and query. */
  readonly url: string
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  /** Names and values as they came, in order (`[name, value, …]`). */
  readonly rawHeaders: readonly string[]
  /** The body (empty when `recordBodies` is off). */
  readonly body: Buffer
  /** Bytes of body received, recorded or not. */
  readonly bodyLength: number
}

/** Decides the answer to a request: a fixed one, a function of the request, or the next of a script. */
export type Answerer = Answer | ((request: ReceivedRequest) => Answer | Promise<Answer>)

/** The default answer body: `{"name":…,"method":…,"url":…}`. */
export function defaultBody(name: string, request: ReceivedRequest): string {
  return JSON.stringify({ name, method: request.method, url: request.url })
}

/** Resolves an answer: a script entry first, then the standing answerer. */
export async function decide(script: Answer[], answerer: Answerer, request: ReceivedRequest): Promise<Answer> {
  const next = script.shift()
  if (next !== undefined) return next
  return typeof answerer === 'function' ? answerer(request) : answerer
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref())
