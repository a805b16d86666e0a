// A raw y-protocols client for protocol-level cases the stock provider never produces:
// malformed frames, text frames, huge frames, and a client that stops reading its socket.
//
// Same stdin/stdout JSON-lines protocol as client.mjs: {"id", "cmd", ...args} in,
// {"id", "ok", "result" | "error"} out, plus {"event": "close", "code", "reason"} events.
import * as readline from 'node:readline'
import WebSocket from 'ws'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as syncProtocol from 'y-protocols/sync'
import * as awarenessProtocol from 'y-protocols/awareness'

let ws = null
let close = null
let closeWaiters = []
const stats = { bytesReceived: 0, framesReceived: 0, bytesSent: 0 }
const doc = new Y.Doc()

const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')

const send = (data, options = {}) => new Promise((resolve, reject) => {
  stats.bytesSent += data.length
  ws.send(data, options, (err) => (err ? reject(err) : resolve(data.length)))
})

const syncStep1 = () => {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, 0)
  syncProtocol.writeSyncStep1(encoder, doc)
  return encoding.toUint8Array(encoder)
}

// A well-formed sync update message (type 0, sync type 2) carrying `size` characters of text.
const updateMessage = (size) => {
  const scratch = new Y.Doc()
  scratch.getText('content').insert(0, 'x'.repeat(size))
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, 0)
  syncProtocol.writeUpdate(encoder, Y.encodeStateAsUpdate(scratch))
  return encoding.toUint8Array(encoder)
}

const commands = {
  open ({ url, timeoutMs = 10000 }) {
    return new Promise((resolve, reject) => {
      ws = new WebSocket(url)
      const timer = setTimeout(() => reject(new Error('open timed out')), timeoutMs)
      ws.on('open', () => { clearTimeout(timer); resolve(null) })
      ws.on('message', (data) => {
        stats.framesReceived += 1
        stats.bytesReceived += data.length
      })
      ws.on('error', (err) => emit({ event: 'error', message: err.message }))
      ws.on('close', (code, reason) => {
        clearTimeout(timer)
        close = { code, reason: reason.toString() }
        emit({ event: 'close', ...close })
        for (const waiter of closeWaiters) waiter(close)
        closeWaiters = []
        // A close before open: report it as the result of `open` too.
        resolve(null)
      })
    })
  },
  // The handshake a stock client starts with: sync step 1 with our (empty) state vector.
  syncStep1 () {
    return send(syncStep1())
  },
  sendHex ({ hex }) {
    return send(Buffer.from(hex, 'hex'))
  },
  sendText ({ text }) {
    return send(Buffer.from(text, 'utf8'), { binary: false })
  },
  // A sync update message (type 0, sync type 2) carrying the given update bytes.
  sendSyncUpdate ({ hex }) {
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, 0)
    syncProtocol.writeUpdate(encoder, Buffer.from(hex, 'hex'))
    return send(Buffer.from(encoding.toUint8Array(encoder)))
  },
  sendUpdate ({ size }) {
    return send(Buffer.from(updateMessage(size)))
  },
  // An awareness update for our client id with a state of about `size` bytes of padding.
  sendAwareness ({ size = 16, clock }) {
    const awareness = new awarenessProtocol.Awareness(doc)
    awareness.setLocalState({ pad: 'p'.repeat(size) })
    if (clock != null) awareness.meta.get(doc.clientID).clock = clock
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, 1)
    encoding.writeVarUint8Array(encoder,
      awarenessProtocol.encodeAwarenessUpdate(awareness, [doc.clientID]))
    awareness.destroy()
    return send(Buffer.from(encoding.toUint8Array(encoder)))
  },
  // `count` awareness updates of our client id, each with ~`size` bytes of state, one every
  // `intervalMs` (kept under the server's message rate limit), clocks increasing.
  async floodAwareness ({ count, size, intervalMs = 20 }) {
    const awareness = new awarenessProtocol.Awareness(doc)
    let sent = 0
    for (let i = 0; i < count; i++) {
      if (ws.readyState !== WebSocket.OPEN) break
      awareness.setLocalState({ pad: String(i % 10).repeat(size) })
      const encoder = encoding.createEncoder()
      encoding.writeVarUint(encoder, 1)
      encoding.writeVarUint8Array(encoder,
        awarenessProtocol.encodeAwarenessUpdate(awareness, [doc.clientID]))
      sent += await send(Buffer.from(encoding.toUint8Array(encoder)))
      await new Promise((resolve) => setTimeout(resolve, intervalMs))
    }
    awareness.destroy()
    return sent
  },
  // Stop reading the TCP socket: the kernel buffers fill up and the server's sends stall.
  pause () {
    ws._socket.pause()
    return null
  },
  resume () {
    ws._socket.resume()
    return null
  },
  waitForClose ({ timeoutMs = 10000 }) {
    if (close !== null) return close
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no close within ${timeoutMs} ms`)), timeoutMs)
      closeWaiters.push((value) => { clearTimeout(timer); resolve(value) })
    })
  },
  state () {
    return { readyState: ws === null ? null : ws.readyState, close, ...stats }
  },
  exit () {
    if (ws !== null) ws.terminate()
    setImmediate(() => process.exit(0))
    return null
  }
}

const rl = readline.createInterface({ input: process.stdin })
rl.on('line', async (line) => {
  if (line.trim() === '') return
  const { id, cmd, ...args } = JSON.parse(line)
  try {
    const handler = commands[cmd]
    if (handler === undefined) throw new Error(`unknown command ${cmd}`)
    const result = await handler(args)
    emit({ id, ok: true, result: result === undefined ? null : result })
  } catch (err) {
    emit({ id, ok: false, error: String(err && err.message ? err.message : err) })
  }
})
rl.on('close', () => process.exit(0))
emit({ event: 'ready' })
