/** The room media's shapes, shared by media.ts and its halves (relaysub.ts, relaypub.ts), and
 * the external store the page reads it through (React's `useSyncExternalStore`). */
import type { MediaMode } from './model'
import type { Push } from './room'

export type Source = 'audio' | 'camera' | 'screen'
export interface Publication {
  muted: boolean
}
/** The room document's `media` map: userId → source → `{muted}`. */
export type MediaMap = Map<string, Partial<Record<Source, Publication>>>

export interface RemoteTrack {
  userId: string
  source: Source
  stream: MediaStream
}

export interface LocalState {
  audio: boolean
  muted: boolean
  camera: boolean
  screen: boolean
}

/** What the page knows of the room beyond replies: its media mode now, and pushes to me. */
export interface MediaRoom {
  mode(): MediaMode
  onPush(fn: (push: Push) => void): () => void
}

/** A source I send: its track, and its m-line on the relay's publish connection if offered. */
export interface Sent {
  track: MediaStreamTrack
  transceiver: RTCRtpTransceiver | null
  /** its stream for my own preview, made once (a new stream per render restarts the video) */
  preview?: MediaStream
}

/** A store whose every change bumps a version and tells its listeners. */
export class Store {
  private readonly listeners = new Set<() => void>()
  private version = 0

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  get snapshotVersion(): number {
    return this.version
  }

  protected bump(): void {
    this.version += 1
    for (const fn of this.listeners) fn()
  }

  protected forget(): void {
    this.listeners.clear()
  }
}
