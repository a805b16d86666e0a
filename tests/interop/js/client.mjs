// A stock yjs + y-websocket client that a pytest test drives over stdin/stdout JSON lines.
//
// Each stdin line is a command {"id": n, "cmd": "...", ...args}; each reply is one stdout line
// {"id": n, "ok": true, "result": ...} or {"id": n, "ok": false, "error": "..."}. Lines without
// an id are events the test may read: {"event": "close", "code": 4401, "reason": "..."} is sent
// for every close event the WebSocket reports (the server's close code, never a local close).
//
// The provider is the unmodified WebsocketProvider; the only wrapper is a WebSocket subclass
// that counts the bytes of the frames it sends and receives, so a test can check that a
// reconnect sends only the difference and not the whole document.
import * as readline from 'node:readline'
import WebSocket from 'ws'
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { WebsocketProvider } from 'y-websocket'

// The server's stateless messages (docs/protocol.md): varuint(100) varuint(status) varstring.
const messageStateless = 100
const stateless = []

const stats = { bytesSent: 0, framesSent: 0, bytesReceived: 0, framesReceived: 0 }

class CountingWebSocket extends WebSocket {
  constructor (url, protocols) {
    super(url, protocols)
    this.on('message', (data) => {
      stats.framesReceived += 1
      stats.bytesReceived += data.byteLength ?? data.length
    })
  }

  send (data, ...rest) {
    stats.framesSent += 1
    stats.bytesSent += data.byteLength ?? data.length
    return super.send(data, ...rest)
  }
}

let doc = null
let provider = null
let textName = 'content'
const closes = []
const waiters = new Set()

const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')
const text = () => doc.getText(textName)

// Re-check every pending wait whenever something it could depend on changes.
const poke = () => {
  for (const waiter of [...waiters]) {
    let value
    try {
      value = waiter.check()
    } catch (err) {
      waiters.delete(waiter)
      clearTimeout(waiter.timer)
      waiter.reject(err)
      continue
    }
    if (value !== undefined) {
      waiters.delete(waiter)
      clearTimeout(waiter.timer)
      waiter.resolve(value)
    }
  }
}

// Resolve with check()'s value once it is not undefined; reject after timeoutMs.
const waitFor = (check, timeoutMs, what) => new Promise((resolve, reject) => {
  const started = Date.now()
  const waiter = {
    check: () => {
      const value = check()
      return value === undefined ? undefined : { value, elapsedMs: Date.now() - started }
    },
    resolve,
    reject
  }
  waiter.timer = setTimeout(() => {
    waiters.delete(waiter)
    reject(new Error(`timeout after ${timeoutMs} ms waiting for ${what}`))
  }, timeoutMs)
  waiters.add(waiter)
  poke()
})

const textOf = (node) => {
  if (node instanceof Y.XmlText) {
    return node.toDelta().map((op) => (typeof op.insert === 'string' ? op.insert : '')).join('')
  }
  return node.toArray().map(textOf).join('')
}
const shared = (name, type) => (type === 'map' ? doc.getMap(name) : doc.getArray(name))
const xmlLines = () => doc.getXmlFragment('default').toArray().map(textOf)

const remoteStates = () => {
  const out = {}
  for (const [clientId, state] of provider.awareness.getStates()) {
    if (clientId !== doc.clientID) out[clientId] = state
  }
  return out
}

const commands = {
  connect ({ url, room, token, awareness, text: name, statelessOptIn }) {
    if (provider !== null) throw new Error('already connected')
    textName = name ?? textName
    doc = new Y.Doc()
    doc.on('update', poke)
    provider = new WebsocketProvider(url, room, doc, {
      WebSocketPolyfill: CountingWebSocket,
      params: {
        ...(token == null ? {} : { token }),
        ...(statelessOptIn ? { stateless: '1' } : {})
      },
      disableBc: true,
      maxBackoffTime: 500
    })
    // What an application adds to a stock provider to receive stateless messages.
    provider.messageHandlers[messageStateless] = (_encoder, decoder) => {
      const status = decoding.readVarUint(decoder)
      stateless.push({ status, payload: decoding.readVarString(decoder) })
      poke()
    }
    provider.on('sync', poke)
    provider.on('status', poke)
    provider.awareness.on('change', poke)
    provider.on('connection-close', (event) => {
      if (event != null) {
        const close = { code: event.code, reason: event.reason }
        closes.push(close)
        emit({ event: 'close', ...close })
      }
      poke()
    })
    if (awareness != null) provider.awareness.setLocalState(awareness)
    return { clientId: doc.clientID }
  },
  insert ({ text: value, index }) {
    text().insert(index ?? text().length, value)
    return text().length
  },
  delete ({ index, length }) {
    text().delete(index, length)
    return text().length
  },
  getText () {
    return text().toString()
  },
  // The editor's body (TipTap / y-prosemirror `XmlFragment` "default") as plain text: one line
  // per top-level block, the inserts of every XmlText inside it (marks dropped).
  xmlText () {
    return xmlLines().join('\n')
  },
  // Append a paragraph the way y-prosemirror writes one: <paragraph><XmlText/></paragraph>.
  xmlAppendParagraph ({ text: value }) {
    const paragraph = new Y.XmlElement('paragraph')
    const run = new Y.XmlText()
    run.insert(0, value)
    paragraph.insert(0, [run])
    const fragment = doc.getXmlFragment('default')
    fragment.insert(fragment.length, [paragraph])
    return xmlLines().length
  },
  // Wait until the body text contains `contains` and/or equals `equals`.
  waitForXmlText ({ contains, equals, timeoutMs = 10000 }) {
    return waitFor(() => {
      const value = xmlLines().join('\n')
      const ok = (contains == null || value.includes(contains)) &&
        (equals == null || value === equals)
      return ok ? value : undefined
    }, timeoutMs, `xml text ${JSON.stringify({ contains, equals })}`)
  },
  // Send a stateless message the way an application does with a stock provider.
  sendStateless ({ payload }) {
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, messageStateless)
    encoding.writeVarUint(encoder, 0)
    encoding.writeVarString(encoder, payload)
    provider.ws.send(encoding.toUint8Array(encoder))
    return null
  },
  waitForStateless ({ count, timeoutMs = 10000 }) {
    return waitFor(() => (stateless.length >= count ? [...stateless] : undefined),
      timeoutMs, `${count} stateless messages`)
  },
  // Top-level shared types other than the text (a room's `chat` array, `tallies` map ...), as
  // JSON: read them, wait for a value, and write them directly (as a client that ignores the
  // server's read-only rule would).
  getShared ({ name, type }) {
    return shared(name, type).toJSON()
  },
  waitForShared ({ name, type, contains, timeoutMs = 10000 }) {
    return waitFor(() => {
      const value = shared(name, type).toJSON()
      return JSON.stringify(value).includes(contains) ? value : undefined
    }, timeoutMs, `${name} containing ${JSON.stringify(contains)}`)
  },
  pushArray ({ name, value }) {
    const array = doc.getArray(name)
    array.push([value])
    return array.length
  },
  setMap ({ name, key, value }) {
    doc.getMap(name).set(key, value)
    return null
  },
  stateSize () {
    return Y.encodeStateAsUpdate(doc).byteLength
  },
  setAwareness ({ state }) {
    provider.awareness.setLocalState(state)
    return null
  },
  getAwareness () {
    return remoteStates()
  },
  // Wait until exactly `count` remote awareness states are present (0 = everyone left).
  waitForAwareness ({ count, timeoutMs = 10000 }) {
    return waitFor(() => {
      const states = remoteStates()
      return Object.keys(states).length === count ? states : undefined
    }, timeoutMs, `${count} remote awareness states`)
  },
  // Wait until some remote awareness state has state[field] deep-equal to value.
  waitForAwarenessField ({ field, value, timeoutMs = 10000 }) {
    const wanted = JSON.stringify(value)
    return waitFor(() => {
      const states = remoteStates()
      const hit = Object.values(states).some((s) => JSON.stringify(s[field]) === wanted)
      return hit ? states : undefined
    }, timeoutMs, `a remote awareness state with ${field}=${wanted}`)
  },
  // y-websocket's own "go offline": closes the socket and stops reconnecting.
  disconnect () {
    provider.disconnect()
    return null
  },
  // Point the provider at another server (as a load balancer would after a node died); the
  // next reconnect attempt goes there.
  setServer ({ url }) {
    provider.serverUrl = url
    return provider.url.split('?')[0]
  },
  reconnect () {
    provider.connect()
    return null
  },
  waitForText ({ expected, timeoutMs = 10000 }) {
    return waitFor(() => (text().toString() === expected ? expected : undefined),
      timeoutMs, `text ${JSON.stringify(expected).slice(0, 80)}`)
  },
  waitForLength ({ length, timeoutMs = 10000 }) {
    return waitFor(() => (text().length === length ? length : undefined),
      timeoutMs, `text length ${length}`)
  },
  waitForSynced ({ timeoutMs = 10000 }) {
    return waitFor(() => (provider.synced ? true : undefined), timeoutMs, 'synced')
  },
  // The first close event reported since the connection started (or the next one).
  waitForClose ({ timeoutMs = 10000, after = 0 }) {
    return waitFor(() => (closes.length > after ? closes[after] : undefined),
      timeoutMs, 'a close event')
  },
  status () {
    return {
      connected: provider.wsconnected,
      synced: provider.synced,
      shouldConnect: provider.shouldConnect,
      closes
    }
  },
  stats () {
    return { ...stats }
  },
  resetStats () {
    for (const key of Object.keys(stats)) stats[key] = 0
    return null
  },
  exit () {
    if (provider !== null) provider.destroy()
    setImmediate(() => process.exit(0))
    return null
  }
}

const rl = readline.createInterface({ input: process.stdin })
rl.on('line', async (line) => {
  if (line.trim() === '') return
  let message
  try {
    message = JSON.parse(line)
  } catch (err) {
    emit({ ok: false, error: `bad json: ${err.message}` })
    return
  }
  const { id, cmd, ...args } = message
  try {
    const handler = commands[cmd]
    if (handler === undefined) throw new Error(`unknown command ${cmd}`)
    const result = await handler(args)
    emit({ id, ok: true, result: result === undefined ? null : result })
  } catch (err) {
    emit({ id, ok: false, error: String(err && err.message ? err.message : err) })
  }
})
// The parent closing our stdin means the test is over.
rl.on('close', () => process.exit(0))
emit({ event: 'ready' })
