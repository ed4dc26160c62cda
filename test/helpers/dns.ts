import dgram from 'node:dgram'
import { once } from 'node:events'
import * as packet from 'dns-packet'
import { onTestFinished } from 'vitest'

/** Records a test DNS server answers, by name: set them, change them, and the next lookups see it. */
export interface Zone {
  a?: Record<string, { address: string; ttl?: number }[]>
  aaaa?: Record<string, { address: string; ttl?: number }[]>
  srv?: Record<string, { name: string; port: number; priority?: number; weight?: number }[]>
}

/**
 * An authoritative DNS server on 127.0.0.1 (UDP, a free port) answering A, AAAA and SRV questions
 * from `zone`; anything else, or a name it does not have, gets NXDOMAIN. Counts the questions.
 * Closed after the test.
 */
export async function startDns(zone: Zone): Promise<{ server: string; zone: Zone; questions: () => number }> {
  const socket = dgram.createSocket('udp4')
  let questions = 0
  socket.on('message', (message, peer) => {
    const query = packet.decode(message)
    const answers: packet.Answer[] = []
    for (const q of query.questions ?? []) {
      questions++
      const name = q.name.toLowerCase()
      if (q.type === 'A') for (const r of zone.a?.[name] ?? []) answers.push({ type: 'A', name: q.name, ttl: r.ttl ?? 60, data: r.address })
      if (q.type === 'AAAA') for (const r of zone.aaaa?.[name] ?? []) answers.push({ type: 'AAAA', name: q.name, ttl: r.ttl ?? 60, data: r.address })
      if (q.type === 'SRV') {
        for (const r of zone.srv?.[name] ?? []) {
          answers.push({ type: 'SRV', name: q.name, ttl: 60, data: { target: r.name, port: r.port, priority: r.priority ?? 0, weight: r.weight ?? 1 } })
        }
      }
    }
    const known = (query.questions ?? []).some((q) => {
      const name = q.name.toLowerCase()
      return zone.a?.[name] !== undefined || zone.aaaa?.[name] !== undefined || zone.srv?.[name] !== undefined
    })
    const reply = packet.encode({
      type: 'response',
      id: query.id,
      flags: packet.AUTHORITATIVE_ANSWER | (known ? 0 : 3), // rcode 3: NXDOMAIN
      questions: query.questions,
      answers,
    })
    socket.send(reply, peer.port, peer.address)
  })
  socket.bind(0, '127.0.0.1')
  await once(socket, 'listening')
  onTestFinished(() => new Promise<void>((resolve) => socket.close(() => resolve())))
  return { server: `127.0.0.1:${socket.address().port}`, zone, questions: () => questions }
}
