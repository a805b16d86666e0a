/**
 * The signed-in user's change feed: one collab socket to document `users/<myUserId>` (same
 * y-websocket URL and token as notes), opted in to stateless messages (`stateless=1`, type 100,
 * docs/protocol.md). The server sends `{"type":"notes.changed","noteId","change"}` whenever a
 * note of mine (or shared with me) is created, updated, deleted, shared or unshared, and
 * `{"type":"recordings.changed","recordingId","transcriptionId","status","error"?}` when a
 * transcription of one of my recordings changes status. Pages never poll: they refetch on these
 * messages and on every (re)connect.
 */
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import { WebsocketProvider } from 'y-websocket'
import { freshToken, refresh, SignedOutError } from '../lib/session'

export type NoteChange = 'created' | 'updated' | 'deleted' | 'shared' | 'unshared'

export interface NotesChanged {
  type: 'notes.changed'
  noteId: string
  change: NoteChange
}

export interface RecordingsChanged {
  type: 'recordings.changed'
  recordingId: string
  transcriptionId: string
  status: 'processing' | 'done' | 'failed'
  error?: string
}

export interface FeedHandlers {
  onChange?: (event: NotesChanged) => void
  onRecording?: (event: RecordingsChanged) => void
  /** The socket is (again) connected: anything may have changed while it was not. */
  onConnect: () => void
  onSignedOut: (message: string) => void
}

const STATELESS = 100
const MAX_BACKOFF_MS = 60_000
export const KEEPALIVE_MS = 20_000

function parse(payload: string): NotesChanged | RecordingsChanged | null {
  try {
    const value = JSON.parse(payload) as Partial<NotesChanged> | Partial<RecordingsChanged>
    if (value.type === 'notes.changed' && typeof value.noteId === 'string') return value as NotesChanged
    if (value.type === 'recordings.changed' && typeof value.recordingId === 'string') return value as RecordingsChanged
  } catch {
    // not JSON: not for us
  }
  return null
}

export class UserFeed {
  private readonly doc = new Y.Doc()
  private readonly provider: WebsocketProvider
  private destroyed = false
  private failures = 0
  private timer: ReturnType<typeof setTimeout> | undefined

  constructor(userId: string, private readonly handlers: FeedHandlers) {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws'
    this.provider = new WebsocketProvider(`${scheme}://${location.host}/collab`, `users/${userId}`, this.doc, {
      connect: false,
      disableBc: true,
      params: {},
      // reconnects are ours (below): backed off up to a minute, and never with an expired token
      shouldReconnect: () => false,
      // The server relays nothing on a quiet feed, and y-websocket drops a socket that received
      // nothing for 30 s (then the page would refetch the list on every reconnect): a sync
      // step 1 every 20 s gets the server's (empty) answer and keeps the socket up.
      resyncInterval: KEEPALIVE_MS,
    })
    this.provider.messageHandlers[STATELESS] = (_encoder, decoder) => {
      const status = decoding.readVarUint(decoder)
      const payload = decoding.readVarString(decoder)
      this.accepted()
      const event = status === 0 ? parse(payload) : null
      if (event?.type === 'notes.changed') this.handlers.onChange?.(event)
      else if (event?.type === 'recordings.changed') this.handlers.onRecording?.(event)
    }
    // An open socket is not yet an accepted one (a server without this document kind opens
    // and then closes it): the feed counts as connected once the server has synced with us.
    this.provider.on('sync', (synced: boolean) => {
      if (synced) this.accepted()
    })
    this.provider.on('status', ({ status }) => {
      if (status !== 'connected') this.live = false
    })
    this.provider.on('closed', ({ code }) => {
      if (code === 4401) void refresh().then(() => this.schedule(0), (err: unknown) => this.fail(err))
      else this.schedule()
    })
    window.addEventListener('online', this.onOnline)
    window.addEventListener('offline', this.onOffline)
  }

  private live = false

  private accepted(): void {
    if (this.live) return
    this.live = true
    this.failures = 0
    this.handlers.onConnect()
  }

  private readonly onOnline = (): void => this.schedule(0)

  private readonly onOffline = (): void => {
    clearTimeout(this.timer)
    this.provider.disconnect()
  }

  private fail(err: unknown): void {
    if (err instanceof SignedOutError) this.handlers.onSignedOut(err.message)
    else this.schedule()
  }

  private schedule(delay?: number): void {
    if (this.destroyed) return
    clearTimeout(this.timer)
    const backoff = delay ?? Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(this.failures++, 6))
    this.timer = setTimeout(() => void this.connect(), backoff)
  }

  async connect(): Promise<void> {
    if (this.destroyed || !navigator.onLine) return
    try {
      const token = await freshToken(20)
      if (this.destroyed) return
      this.provider.params = { token, stateless: '1' }
      this.provider.connect()
    } catch (err) {
      this.fail(err)
    }
  }

  destroy(): void {
    this.destroyed = true
    clearTimeout(this.timer)
    window.removeEventListener('online', this.onOnline)
    window.removeEventListener('offline', this.onOffline)
    this.provider.destroy()
    this.doc.destroy()
  }
}
