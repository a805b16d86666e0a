// y-websocket reference server anchor: `@y/websocket-server`'s own entry point (src/server.js),
// in-memory documents (no YPERSISTENCE), bound to loopback.
// Usage: node anchors/y-websocket-server.mjs <port>
// Prints "READY <port>" on stdout once it listens.
import net from 'node:net'

const port = Number.parseInt(process.argv[2] ?? '1234', 10)
process.env.HOST = '127.0.0.1'
process.env.PORT = String(port)
delete process.env.YPERSISTENCE
await import('@y/websocket-server/src/server.js').catch(async () => {
  // The package's exports map hides src/server.js; load it by path instead.
  const { createRequire } = await import('node:module')
  const require = createRequire(import.meta.url)
  const pkg = require.resolve('@y/websocket-server/package.json')
  await import(new URL('src/server.js', `file://${pkg}`).href)
})

// server.js logs its own banner; announce readiness in the format the orchestrator waits for.
const deadline = Date.now() + 10000
for (;;) {
  const ok = await new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true) })
    s.on('error', () => resolve(false))
  })
  if (ok) break
  if (Date.now() > deadline) { console.error('y-websocket-server did not start'); process.exit(1) }
  await new Promise((resolve) => setTimeout(resolve, 20))
}
process.stdout.write(`READY ${port}\n`)
