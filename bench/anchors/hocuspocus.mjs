// Hocuspocus anchor: `@hocuspocus/server` with no extensions (in-memory documents), on loopback.
// Usage: node anchors/hocuspocus.mjs <port>
// Prints "READY <port>" on stdout once it listens; exits on SIGTERM/SIGINT.
import { Server } from '@hocuspocus/server'

const port = Number.parseInt(process.argv[2] ?? '1234', 10)
const server = new Server({
  port,
  address: '127.0.0.1',
  quiet: true,
  stopOnSignals: true,
})
await server.listen()
process.stdout.write(`READY ${server.address.port}\n`)
