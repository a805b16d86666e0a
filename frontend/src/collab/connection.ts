/**
 * One note's live document: a Y.Doc kept in IndexedDB (y-indexeddb) and synced with the server
 * over y-websocket at `/collab/notes/<id>?token=<access JWT>`.
 *
 * The connection follows the browser's online/offline events (Chromium keeps an open WebSocket
 * alive when only the network emulation goes offline), refreshes an expired access token before
 * it reconnects, and on close code 4401 refreshes and retries. A note created offline (queued in
 * the outbox) does not connect until its create has reached the server.
 *
 * Pending changes are counted per part of the note, not per keystroke: the text, and each
 * metadata field (title, tags, folder) changed while not synced, plus one for a queued create.
 * The set survives a reload.
 */
import * as Y from 'yjs'
import { IndexeddbPersistence } from 'y-indexeddb'
import { WebsocketProvider } from 'y-websocket'
import { freshToken, OfflineError, refresh, SignedOutError } from '../lib/session'
import { rememberOpened } from './forget'
import { KEEPALIVE_MS } from './userFeed'
import { isQueued, onOutboxChange } from './outbox'
import { META, type MetaKey } from './meta'

export type SyncKind = 'loading' | 'saved' | 'syncing' | 'offline' | 'error'

/** A part of the note with changes the server has not acknowledged. */
export type Part = 'text' | MetaKey

export interface SyncState {
  kind: SyncKind
  /** Changes not yet on the server: changed parts, plus a queued create. */
  pending: number
  /** True while the note exists only on this device (its create is queued). */
  queued: boolean
  /** Set for permanent failures: the reason shown to the user. */
  message?: string
  /** True once the server refused edits for good (access revoked, note deleted). */
  locked?: boolean
}

const PERMANENT: Record<number, string> = {
  4403: 'You no longer have access to this note.',
  4404: 'This note does not exist.',
  4410: 'This note was deleted.',
  4413: 'This note is too large to sync.',
}

function socketBase(): string {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws'
  return `${scheme}://${location.host}/collab`
}

function readParts(key: string): Set<Part> {
  try {
    const raw: unknown = JSON.parse(localStorage.getItem(key) ?? '[]')
    return new Set(Array.isArray(raw) ? (raw as Part[]) : [])
  } catch {
    return new Set()
  }
}

export class NoteConnection {
  readonly doc = new Y.Doc()
  readonly name: string
  readonly provider: WebsocketProvider
  readonly persistence: IndexeddbPersistence
  private state: SyncState
  private readonly pendingKey: string
  private readonly noteId: string
  private parts: Set<Part>
  private destroyed = false
  private unauthorizedStreak = 0
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private flushTimer: ReturnType<typeof setInterval> | undefined
  private localUpdates = 0
  private readonly listeners = new Set<(state: SyncState) => void>()
  private readonly stopOutbox: () => void

  /**
   * `document` names another document in the notes' layout (a session's shared notes,
   * `sessions-notes/<id>`); its pending parts are kept apart from the notes' (the background
   * sync of notes changed offline reads `collab.pending.*` as note ids).
   */
  constructor(
    noteId: string,
    private readonly onSignedOut: (message: string) => void,
    document?: string,
  ) {
    this.noteId = noteId
    this.name = document ?? `notes/${noteId}`
    this.pendingKey = document ? `collab.docpending.${document}` : `collab.pending.${noteId}`
    this.parts = readParts(this.pendingKey)
    this.state = { kind: 'loading', pending: 0, queued: isQueued(noteId) }
    this.state.pending = this.countPending()
    rememberOpened(this.name)
    this.persistence = new IndexeddbPersistence(this.name, this.doc)
    this.provider = new WebsocketProvider(socketBase(), this.name, this.doc, {
      connect: false,
      disableBc: true,
      params: {},
      shouldReconnect: (event) => !(event.code >= 4400 && event.code < 4500),
      // alone in a note the server relays nothing, and y-websocket drops a socket silent for
      // 30 s: a sync step 1 every 20 s keeps it up (the answer is an empty diff)
      resyncInterval: KEEPALIVE_MS,
    })
    this.provider.on('status', () => this.recompute())
    this.provider.on('sync', (synced: boolean) => {
      if (synced) {
        this.unauthorizedStreak = 0
        this.setParts(new Set())
      }
      this.recompute()
    })
    this.provider.on('closed', (event: { code: number; reason: string }) => this.onClosed(event.code))
    this.doc.on('afterTransaction', this.onTransaction)
    this.stopOutbox = onOutboxChange(() => {
      const queued = isQueued(this.noteId)
      if (queued === this.state.queued) return
      this.state = { ...this.state, queued }
      this.state.pending = this.countPending()
      if (!queued) void this.connect()
      this.recompute()
    })
    window.addEventListener('online', this.onOnline)
    window.addEventListener('offline', this.onOffline)
  }

  /** Wait for the local copy, then connect. Resolves once the editor can render. */
  async start(): Promise<void> {
    await Promise.race([this.persistence.whenSynced, new Promise((r) => setTimeout(r, 1500))])
    this.recompute()
    void this.connect()
  }

  /**
   * Run `fn`, which writes `key` of the note's meta, once a write is sure to come after the
   * server's own value: at once when this copy already holds the key (from the server or
   * IndexedDB), is synced, or is offline; otherwise after the first sync (at most 5 s). A write
   * made before the copy ever saw the server's value would be concurrent with it and could lose.
   */
  afterMetaKnown(key: MetaKey, fn: () => void): void {
    if (this.doc.getMap(META).has(key) || this.provider.synced || !navigator.onLine) {
      fn()
      return
    }
    let done = false
    const run = (): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      this.provider.off('sync', onSync)
      fn()
    }
    const onSync = (synced: boolean): void => {
      if (synced) run()
    }
    const timer = setTimeout(run, 5000)
    this.provider.on('sync', onSync)
  }

  get current(): SyncState {
    return this.state
  }

  get awareness() {
    return this.provider.awareness
  }

  subscribe(fn: (state: SyncState) => void): () => void {
    this.listeners.add(fn)
    fn(this.state)
    return () => this.listeners.delete(fn)
  }

  private readonly onTransaction = (tr: Y.Transaction): void => {
    if (tr.origin === this.provider || tr.origin === this.persistence || tr.changed.size === 0) return
    this.localUpdates += 1
    if (!(this.provider.wsconnected && this.provider.synced)) {
      const meta: unknown = this.doc.getMap(META)
      const parts = new Set(this.parts)
      for (const [type, keys] of tr.changed) {
        if (type === meta) keys.forEach((key) => key && parts.add(key as MetaKey))
        else parts.add('text')
      }
      this.setParts(parts)
    } else {
      this.watchFlush()
    }
    this.recompute()
  }

  private countPending(): number {
    return this.parts.size + (this.state.queued ? 1 : 0)
  }

  private readonly onOnline = (): void => {
    void this.connect()
  }

  private readonly onOffline = (): void => {
    clearTimeout(this.retryTimer)
    this.provider.disconnect()
    this.recompute()
  }

  /** Get a valid token (refreshing an expired one first), then open the socket. */
  async connect(): Promise<void> {
    clearTimeout(this.retryTimer)
    if (this.destroyed || this.state.locked) return
    if (!navigator.onLine || this.state.queued) {
      this.recompute()
      return
    }
    try {
      const token = await freshToken(20)
      if (this.destroyed) return
      this.provider.params = { token }
      this.provider.connect()
    } catch (err) {
      if (err instanceof SignedOutError) {
        this.onSignedOut(err.message)
        return
      }
      if (err instanceof OfflineError) {
        this.retryTimer = setTimeout(() => void this.connect(), 3000)
      }
    }
    this.recompute()
  }

  private onClosed(code: number): void {
    if (this.destroyed) return
    if (code === 4401) {
      // The access token expired (or was revoked): refresh it and reconnect, with a brake.
      this.unauthorizedStreak += 1
      if (this.unauthorizedStreak > 3) {
        this.lock('The server keeps refusing this session. Please sign in again.')
        return
      }
      refresh()
        .then(() => this.connect())
        .catch((err) => {
          if (err instanceof SignedOutError) this.onSignedOut(err.message)
          else this.retryTimer = setTimeout(() => void this.connect(), 3000)
        })
      return
    }
    const message = PERMANENT[code]
    if (message) this.lock(message)
    else this.retryTimer = setTimeout(() => void this.connect(), 2000)
  }

  private lock(message: string): void {
    this.provider.disconnect()
    this.state = { ...this.state, kind: 'error', message, locked: true }
    this.emit()
  }

  private setParts(parts: Set<Part>): void {
    this.parts = parts
    this.state = { ...this.state, pending: this.countPending() }
    if (parts.size) localStorage.setItem(this.pendingKey, JSON.stringify([...parts]))
    else localStorage.removeItem(this.pendingKey)
  }

  /**
   * While online, show "syncing" until the socket's send buffer has drained *and* the local
   * copy (IndexedDB) holds every edit: "saved" must survive a reload with the network gone.
   */
  private watchFlush(): void {
    if (this.flushTimer) return
    this.flushTimer = setInterval(() => {
      const ws = this.provider.ws
      if (ws && ws.bufferedAmount > 0) return
      clearInterval(this.flushTimer)
      const seen = this.localUpdates
      void this.storedLocally().finally(() => {
        this.flushTimer = undefined
        if (this.localUpdates !== seen && this.provider.wsconnected) this.watchFlush()
        this.recompute()
      })
    }, 150)
  }

  /**
   * Resolves once y-indexeddb has committed every update made so far: it writes each update in
   * its own readwrite transaction on `updates`, and IndexedDB completes overlapping readwrite
   * transactions in the order they were created, so an empty one created now completes last.
   */
  private storedLocally(): Promise<void> {
    const db = this.persistence.db
    if (!db) return Promise.resolve()
    return new Promise((resolve) => {
      try {
        const tx = db.transaction(['updates'], 'readwrite')
        tx.oncomplete = tx.onerror = tx.onabort = () => resolve()
      } catch {
        resolve() // the database is closing: nothing more will be stored
      }
    })
  }

  private recompute(): void {
    if (this.state.locked) return this.emit()
    const p = this.provider
    let kind: SyncKind
    if (!navigator.onLine || this.state.queued || (!p.wsconnected && !p.wsconnecting && !p.shouldConnect)) kind = 'offline'
    else if (p.wsconnected && p.synced && !this.flushTimer) kind = 'saved'
    else if (p.wsconnected || p.wsconnecting) kind = 'syncing'
    else kind = 'offline'
    if (kind === 'offline' && this.state.kind === 'loading' && !navigator.onLine) kind = 'offline'
    this.state = { ...this.state, kind }
    this.emit()
  }

  private emit(): void {
    for (const fn of this.listeners) fn(this.state)
  }

  destroy(): void {
    this.destroyed = true
    clearTimeout(this.retryTimer)
    clearInterval(this.flushTimer)
    window.removeEventListener('online', this.onOnline)
    window.removeEventListener('offline', this.onOffline)
    this.doc.off('afterTransaction', this.onTransaction)
    this.stopOutbox()
    this.listeners.clear()
    this.provider.destroy()
    void this.persistence.destroy()
    this.doc.destroy()
  }
}
