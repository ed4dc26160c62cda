import { Agent, request } from 'undici'
import { closeWithTest } from './cleanup.js'

/** An undici agent for test clients, closed after the test. */
export function testAgent(options: Agent.Options = {}): Agent {
  const agent = new Agent({ keepAliveTimeout: 1_000, ...options })
  closeWithTest(() => agent.destroy())
  return agent
}

/** GETs (or sends) to `url` and returns status, headers and the body as text. */
export async function get(
  url: string,
  options: Parameters<typeof request>[1] = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string; json: () => unknown }> {
  const res = await request(url, options)
  const text = await res.body.text()
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) }
}
