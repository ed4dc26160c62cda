import type { IncomingMessage, ServerResponse } from 'node:http'

/** Connect-style middleware: every guard is one, and `compose()` chains them. */
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void
