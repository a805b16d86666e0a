// One benchmark client: a real Y.Doc synced by the stock provider of the server under test
// (y-websocket's WebsocketProvider for our server and the y-websocket reference server,
// @hocuspocus/provider for Hocuspocus, which frames every message with the document name).
import * as Y from 'yjs'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import { HocuspocusProvider } from '@hocuspocus/provider'
import { boundary, marker } from './measure.mjs'

/**
 * The `ws` client without permessage-deflate. Node inflates every frame through its threaded
 * zlib binding, which made the load generator the bottleneck in the 100-client room; servers
 * that would negotiate compression (ours via uvicorn, the y-websocket server via ws 6) then
 * simply send uncompressed frames, like Hocuspocus (ws 8, compression off) always does.
 */
class PlainWebSocket extends WebSocket {
  constructor (url, protocols, options) {
    super(url, protocols, { ...options, perMessageDeflate: false })
  }
}

/**
 * @param {{kind: string, url: string}} target  kind: "y-websocket" (ours, y-websocket-server) or
 *   "hocuspocus"; url: the provider's server URL (ours: ws://host:port/collab)
 * @param {{room: string, token?: string, sid: number, url?: string, stateless?: boolean}} spec
 *   url: this client's server when it differs from the target's (a node of several);
 *   stateless: opt in to stateless messages (our rooms' actions)
 */
export class BenchClient {
  constructor (target, spec, { connect = true } = {}) {
    this.spec = spec
    this.sid = spec.sid
    this.doc = new Y.Doc()
    this.text = this.doc.getText('bench')
    this.synced = false
    this.closeCodes = []
    this.received = 0 // markers from other clients seen while recording
    this.recording = null // a Histogram while a measured phase runs
    this.lastReceiveAt = 0
    this.sent = 0
    this._syncWaiters = []
    this._changeWaiters = []
    // Send times travel in a map keyed "<sid>:<seq>", set in the same transaction as the text
    // insert: observing a map is ~10x cheaper than diffing the text, which keeps the load
    // generator from becoming the bottleneck in big rooms, and coalesced updates still carry
    // every edit's own timestamp.
    this.ts = this.doc.getMap('ts')
    this.ts.observe((event) => this._onTs(event))
    this.doc.on('update', () => this._wakeChange())
    if (target.kind === 'hocuspocus') {
      this.provider = new HocuspocusProvider({
        url: spec.url ?? target.url,
        name: spec.room,
        document: this.doc,
        token: spec.token ?? 'bench',
        WebSocketPolyfill: PlainWebSocket,
        autoConnect: connect,
        onSynced: ({ state }) => this._setSynced(state),
        onClose: ({ event }) => this.closeCodes.push(event?.code ?? 0),
      })
    } else {
      const params = spec.token ? { token: spec.token } : {}
      if (spec.stateless) params.stateless = '1' // rooms' actions (docs/rooms.md)
      this.provider = new WebsocketProvider(spec.url ?? target.url, spec.room, this.doc, {
        WebSocketPolyfill: PlainWebSocket,
        params,
        disableBc: true,
        connect,
      })
      this.provider.on('sync', (state) => this._setSynced(state))
      this.provider.on('connection-close', (event) => this.closeCodes.push(event?.code ?? 0))
    }
    this.awareness = this.provider.awareness
  }

  _setSynced (state) {
    this.synced = state
    if (state) {
      for (const w of this._syncWaiters.splice(0)) w()
    }
  }

  _wakeChange () {
    for (const w of this._changeWaiters.splice(0)) w()
  }

  _onTs (event) {
    if (event.transaction.local || this.recording === null) return
    const at = performance.timeOrigin + performance.now()
    for (const key of event.keysChanged) {
      if (Number.parseInt(key, 10) === this.sid) continue
      const sentAt = this.ts.get(key)
      if (typeof sentAt !== 'number') continue
      this.received++
      this.lastReceiveAt = at
      this.recording.add(at - sentAt)
    }
  }

  /** One edit: a marker inserted into the text, its send time stamped in the same update. */
  edit () {
    const seq = this.sent++
    this.doc.transact(() => {
      this.text.insert(boundary(this.text), marker(this.sid, seq))
      this.ts.set(`${this.sid}:${seq}`, performance.timeOrigin + performance.now())
    })
  }

  /** Resolves once synced, or rejects after `timeoutMs`. */
  waitSynced (timeoutMs) {
    if (this.synced) return Promise.resolve()
    return withTimeout(new Promise((resolve) => this._syncWaiters.push(resolve)), timeoutMs, 'sync')
  }

  /** Resolves on the next document update (local or remote), or after `ms` at most. */
  nextChange (ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms)
      this._changeWaiters.push(() => { clearTimeout(timer); resolve() })
    })
  }

  /** Waits until `predicate()` holds, re-checking on every document update. */
  async waitFor (predicate, timeoutMs, what) {
    const deadline = performance.now() + timeoutMs
    while (!predicate()) {
      const left = deadline - performance.now()
      if (left <= 0) throw new Error(`timeout waiting for ${what}`)
      await this.nextChange(Math.min(left, 250))
    }
  }

  /** Bytes queued in the socket and not yet handed to the kernel. */
  get bufferedAmount () {
    const ws = this.provider.ws ?? this.provider.configuration?.websocketProvider?.webSocket
    return ws ? ws.bufferedAmount : 0
  }

  disconnect () { this.provider.disconnect() }

  /** True once the socket is fully closed (the provider has processed the close). */
  get offline () {
    const hp = this.provider.configuration?.websocketProvider
    if (hp) return hp.status === 'disconnected' && !hp.webSocket
    return this.provider.ws === null && !this.provider.wsconnected
  }

  /** Disconnects and waits until the provider has seen its socket close. */
  async goOffline (timeoutMs) {
    this.provider.disconnect()
    const deadline = performance.now() + timeoutMs
    while (!this.offline) {
      if (performance.now() > deadline) throw new Error('timeout: going offline')
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  connect () { return this.provider.connect() }

  destroy () {
    this.provider.destroy()
    this.doc.destroy()
  }
}

export function withTimeout (promise, ms, what) {
  let timer
  return Promise.race([
    promise,
    new Promise((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`timeout: ${what}`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}
