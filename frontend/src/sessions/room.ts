/**
 * One live room: the Yjs document `sessions/<id>` synced read-only over y-websocket (opened with
 * `stateless=1`), plus awareness. The page never writes the document: every change is a typed
 * action sent as a stateless message (type 100, docs/rooms.md) and the server's change arrives
 * as a normal document update before the reply. Any rejected reply, also one for an action this
 * page did not send, is reported to `onRejected` with its reason code.
 */
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { WebsocketProvider } from 'y-websocket'
import { freshToken, refresh, SignedOutError } from '../lib/session'
import { KEEPALIVE_MS } from '../collab/userFeed'

const STATELESS = 100

export interface Reply {
  id: string | number | null
  ok: boolean
  reason?: string
  [key: string]: unknown
}

/** A message another member addressed to this one (`{push, from, ...}`, docs/media.md). */
export interface Push {
  push: string
  from: string
  [key: string]: unknown
}

export type RoomStatus = 'connecting' | 'live' | 'offline' | 'closed'

export interface ConnState {
  status: RoomStatus
  /** Set when the server closed the room for good (removed, cancelled, no such session). */
  message?: string
}

const CLOSED: Record<number, string> = {
  4403: 'You were removed from this session, or have not joined it.',
  4404: 'This session does not exist.',
  4410: 'This session was cancelled.',
}

const RETRY_MS = 2000 // after a 4408 (the server timed the socket out)
const ACT_TIMEOUT_MS = 30_000

export class Room {
  readonly doc = new Y.Doc()
  readonly provider: WebsocketProvider
  private next = 0
  private readonly waiting = new Map<string, (reply: Reply) => void>()
  private readonly quiet = new Set<string>()
  private readonly listeners = new Set<() => void>()
  private readonly pushListeners = new Set<(push: Push) => void>()
  private destroyed = false
  private state: ConnState = { status: 'connecting' }
  private version = 0
  private retry: number | undefined

  constructor(
    sessionId: string,
    private readonly onRejected: (reply: Reply) => void,
  ) {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws'
    this.provider = new WebsocketProvider(`${scheme}://${location.host}/collab`, `sessions/${sessionId}`, this.doc, {
      connect: false,
      disableBc: true,
      params: {},
      // a quiet room relays nothing; y-websocket drops a socket silent for 30 s
      resyncInterval: KEEPALIVE_MS,
    })
    this.provider.messageHandlers[STATELESS] = (_encoder, decoder) => {
      decoding.readVarUint(decoder) // status: always 0 for rooms
      let reply: Reply
      try {
        reply = JSON.parse(decoding.readVarString(decoder)) as Reply
      } catch {
        return
      }
      if (typeof reply.push === 'string') {
        // addressed to this member by another (media.p2p.*): not a reply to anything sent here
        for (const fn of this.pushListeners) fn(reply as unknown as Push)
        return
      }
      const key = reply.id === null ? '' : String(reply.id)
      const resolve = this.waiting.get(key)
      this.waiting.delete(key)
      // (a quiet action's caller shows its own words for the refusal)
      if (!reply.ok && !this.quiet.delete(key)) this.onRejected(reply)
      resolve?.(reply)
    }
    this.provider.on('status', ({ status }) => {
      // replies to actions sent on a socket that closed will never come: they fail now
      if (status !== 'connected') this.settleWaiting('offline')
      this.set({ status: status === 'connected' ? 'connecting' : 'offline' })
    })
    this.provider.on('sync', (synced: boolean) => {
      if (synced) this.set({ status: 'live' })
    })
    this.provider.on('closed', ({ code }: { code: number }) => {
      if (code === 4401) {
        refresh().then(
          () => void this.connect(),
          (err: unknown) => this.set({ status: 'closed', message: err instanceof SignedOutError ? err.message : 'Cannot reach the server.' }),
        )
        return
      }
      if (code === 4408) {
        // authentication (or a message) took too long: a busy server, not a verdict; try again
        this.set({ status: 'offline' })
        window.clearTimeout(this.retry)
        this.retry = window.setTimeout(() => void this.connect(), RETRY_MS)
        return
      }
      this.set({ status: 'closed', message: CLOSED[code] ?? `The server closed the room (${code}).` })
    })
    // presence: announce the media state once (then only on a change; y-protocols renews it)
    this.provider.awareness.setLocalStateField('media', { mic: false, camera: false, screen: false })
    this.doc.on('update', this.bump)
    this.provider.awareness.on('change', this.bump)
    window.addEventListener('online', this.onOnline)
    window.addEventListener('offline', this.onOffline)
  }

  private readonly bump = (): void => {
    this.version += 1
    for (const fn of this.listeners) fn()
  }

  private set(state: ConnState): void {
    if (this.state.status === 'closed' && state.status !== 'closed' && this.state.message) return
    this.state = state
    this.bump()
  }

  get conn(): ConnState {
    return this.state
  }

  /** Changes with every document update, awareness change and connection change. */
  get snapshotVersion(): number {
    return this.version
  }

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  private readonly onOnline = (): void => void this.connect()
  private readonly onOffline = (): void => {
    this.provider.disconnect()
    this.set({ status: 'offline' })
  }

  async connect(): Promise<void> {
    if (this.destroyed || !navigator.onLine) return
    try {
      const token = await freshToken(20)
      if (this.destroyed) return
      this.provider.params = { token, stateless: '1' }
      this.provider.connect()
    } catch (err) {
      this.set({ status: 'offline', message: err instanceof Error ? err.message : undefined })
    }
  }

  /** Send one action; resolves with the server's reply (a socket lost before the reply
   * resolves as `offline`, no reply within 30 s as `timeout`). */
  act(action: string, fields: Record<string, unknown> = {}, quiet = false): Promise<Reply> {
    const ws = this.provider.ws
    const id = `a${++this.next}`
    if (!ws || ws.readyState !== WebSocket.OPEN || !this.provider.synced) {
      const reply: Reply = { id, ok: false, reason: 'offline' }
      if (!quiet) this.onRejected(reply)
      return Promise.resolve(reply)
    }
    return new Promise((resolve) => {
      // a server that never answers (busy, or the action lost) must not hold a control forever
      const timer = window.setTimeout(() => this.settle(id, 'timeout'), ACT_TIMEOUT_MS)
      this.waiting.set(id, (reply) => {
        window.clearTimeout(timer)
        resolve(reply)
      })
      if (quiet) this.quiet.add(id)
      const encoder = encoding.createEncoder()
      encoding.writeVarUint(encoder, STATELESS)
      encoding.writeVarUint(encoder, 0)
      encoding.writeVarString(encoder, JSON.stringify({ id, action, ...fields }))
      ws.send(encoding.toUint8Array(encoder))
    })
  }

  /** Fail one waiting action with `reason` (its reply never came). */
  private settle(id: string, reason: string, tell = true): void {
    const resolve = this.waiting.get(id)
    if (!resolve) return
    this.waiting.delete(id)
    const reply: Reply = { id, ok: false, reason }
    if (!this.quiet.delete(id) && tell) this.onRejected(reply)
    resolve(reply)
  }

  private settleWaiting(reason: string, tell = true): void {
    for (const id of [...this.waiting.keys()]) this.settle(id, reason, tell)
  }

  /** Hear the pushes addressed to this member; returns the unsubscribe. */
  onPush = (fn: (push: Push) => void): (() => void) => {
    this.pushListeners.add(fn)
    return () => this.pushListeners.delete(fn)
  }

  setMedia(media: { mic: boolean; camera: boolean; screen: boolean }): void {
    this.provider.awareness.setLocalStateField('media', media)
  }

  destroy(): void {
    this.destroyed = true
    window.clearTimeout(this.retry)
    this.settleWaiting('offline', false)
    window.removeEventListener('online', this.onOnline)
    window.removeEventListener('offline', this.onOffline)
    this.provider.destroy()
    this.doc.destroy()
    this.listeners.clear()
    this.pushListeners.clear()
  }
}

/** Words for every reason code of docs/rooms.md (and `offline`, the page's own). */
export const REASONS: Record<string, string> = {
  invalid: 'The request was malformed.',
  unknown_action: 'The server does not know this action.',
  too_large: 'That is too large to send.',
  too_long: 'That text is too long.',
  not_allowed: 'Only the host can do that.',
  not_started: 'The session has not started yet.',
  session_ended: 'The session has ended: the room is read-only.',
  chat_disabled: 'Chat is turned off for this session.',
  chat_locked: 'The host locked the chat.',
  questions_disabled: 'Questions are turned off for this session.',
  anonymous_disabled: 'Anonymous questions are not allowed in this session.',
  rate_limited: 'You are sending too fast; wait a moment.',
  not_found: 'That item no longer exists.',
  poll_not_open: 'This poll is not open yet.',
  poll_closed: 'This poll is closed.',
  already_voted: 'You already upvoted this question.',
  limit_reached: 'This session has reached its limit for that.',
  internal: 'The server failed; please try again.',
  media_limit: 'This room or server has reached its limit for audio and video; try again later.',
  media_unavailable: 'Audio and video are not available on this server.',
  recording_active: 'A recording is already running in this room.',
  media_mode: 'Audio and video moved to the server relay.',
  offline: 'You are offline: the action was not sent.',
  timeout: 'The server did not answer in time; please try again.',
}

/** Media refusals in the words of the control that was refused (docs/media.md, "Signaling"). */
export const MEDIA_REASONS: Record<string, string> = {
  not_allowed: 'The host has not allowed you to share that in this session.',
  not_started: 'Audio and video start when the host starts the session.',
  not_found: 'That is no longer being shared.',
  invalid: 'The browser sent a media request the server could not use.',
  session_ended: 'The session has ended.',
}

export function mediaReasonText(reason: string | undefined): string {
  return MEDIA_REASONS[reason ?? ''] ?? reasonText(reason)
}

export function reasonText(reason: string | undefined): string {
  return REASONS[reason ?? ''] ?? `Rejected (${reason ?? 'unknown reason'}).`
}
