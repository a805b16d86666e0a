// A load-generator worker process. The Python orchestrator (bench/run.py) starts several of these
// so the clients' CPU is spread over separate processes, and drives them with one JSON command per
// line on stdin; each reply is one JSON line on stdout: {"id": <command id>, "ok": true, ...}.
import readline from 'node:readline'
import * as rooms from './rooms.mjs'
import * as documents from './documents.mjs'
import * as liveroom from './liveroom.mjs'

const handlers = {
  open: rooms.open,
  edit: rooms.edit,
  drain: rooms.drain,
  aware: rooms.aware,
  awdrain: rooms.awdrain,
  close: rooms.close,
  b4load: documents.b4load,
  b4ingest: documents.b4ingest,
  offline: documents.offline,
  churn: documents.churn,
  loaddocs: documents.loaddocs,
  ropen: liveroom.ropen,
  ract: liveroom.ract,
  rrun: liveroom.rrun,
  rdrain: liveroom.rdrain,
  rclose: liveroom.rclose,
  ping: async () => ({ pid: process.pid }),
}

function reply (obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

// Commands run one at a time, in order: a phase never overlaps the next one.
let chain = Promise.resolve()
const lines = readline.createInterface({ input: process.stdin })
lines.on('line', (line) => {
  if (!line.trim()) return
  const cmd = JSON.parse(line)
  chain = chain.then(async () => {
    try {
      const handler = handlers[cmd.cmd]
      if (!handler) throw new Error(`unknown command ${cmd.cmd}`)
      const result = await handler(cmd)
      reply({ id: cmd.id, ok: true, ...result })
    } catch (err) {
      reply({ id: cmd.id, ok: false, error: String(err?.stack ?? err) })
    }
  })
})
lines.on('close', async () => {
  await chain
  rooms.destroyAll()
  process.exit(0)
})
// A provider's socket error must not take the whole worker (and its other clients) down.
process.on('uncaughtException', (err) => console.error('uncaught:', err))
process.on('unhandledRejection', (err) => console.error('unhandled rejection:', err))
// Providers log reconnect noise on stderr; keep stdout for replies only.
console.log = (...args) => console.error(...args)
