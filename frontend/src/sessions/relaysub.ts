/**
 * The receiving half of the page's relay media (media.ts): one peer connection offered by this
 * page, renegotiated whenever what it wants (the room's `media` map, minus me) changes. Keys
 * are "userId:source". A key no longer wanted has its m-line made inactive (spent, as with the
 * server); a new key gets a new one. Offers are non-trickle and queued one after another.
 * Invariants: `receiving` holds a transceiver of the live connection for each key offered;
 * `tracks` holds only keys of `receiving`; a failed connection is replaced on the next offer
 * (aiortc has no ICE restart); an offer refused `invalid` on a used connection is made again
 * once on a fresh one.
 */
import { Refused } from './devices'
import { gathered } from './p2p'
import type { Reply } from './room'
import type { RemoteTrack, Source } from './media'

/** What the subscriber needs from the media client. */
export interface SubscriberHost {
  iceServers(): RTCIceServer[]
  config(): Promise<void>
  call(action: string, fields: Record<string, unknown>): Promise<Reply>
  /** A key stopped being received (its level meter goes). */
  gone(key: string): void
  changed(): void
  destroyed(): boolean
}

export class RelaySubscriber {
  private pc: RTCPeerConnection | null = null
  private readonly receiving = new Map<string, RTCRtpTransceiver>()
  readonly tracks = new Map<string, RemoteTrack>()
  private chain: Promise<unknown> = Promise.resolve()
  private wanted: string[] = []

  constructor(private readonly host: SubscriberHost) {}

  /** Whether a subscribe connection exists. */
  get active(): boolean {
    return this.pc !== null
  }

  has(key: string): boolean {
    return this.receiving.has(key)
  }

  /** Receive these keys (called whenever the room's `media` map changes). */
  setWanted(keys: string[], force = false): Promise<void> {
    const sorted = [...keys].sort()
    if (!force && sorted.join('|') === this.wanted.join('|')) return Promise.resolve()
    this.wanted = sorted
    const run = this.chain.then(() => this.resubscribe())
    this.chain = run.catch(() => undefined)
    return run
  }

  /** The socket came back (the server ended my media): subscribe again on a new connection. */
  restart(): void {
    this.drop()
    void this.setWanted(this.wanted, true).catch(() => undefined)
  }

  close(): void {
    this.drop()
  }

  private drop(): void {
    this.pc?.close()
    this.pc = null
    this.receiving.clear()
    this.tracks.clear()
  }

  private newPc(): RTCPeerConnection {
    const pc = new RTCPeerConnection({ iceServers: this.host.iceServers(), bundlePolicy: 'max-bundle' })
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState !== 'failed' || this.pc !== pc) return
      this.pc = null
      this.receiving.clear()
      this.tracks.clear()
      pc.close()
      void this.setWanted(this.wanted, true)
      this.host.changed()
    })
    pc.addEventListener('track', (event) => this.onTrack(event))
    return pc
  }

  private async resubscribe(): Promise<void> {
    if (this.host.destroyed()) return
    const wanted = new Set(this.wanted)
    let changed = false
    for (const [key, transceiver] of this.receiving) {
      if (wanted.has(key)) continue
      transceiver.direction = 'inactive'
      this.receiving.delete(key)
      this.tracks.delete(key)
      this.host.gone(key)
      changed = true
    }
    const missing = [...wanted].filter((key) => !this.receiving.has(key))
    if (!missing.length && !changed) return
    if (!this.receiving.size && !missing.length) {
      this.pc?.close()
      this.pc = null
      this.host.changed()
      return
    }
    await this.host.config()
    const fresh = this.pc === null
    const pc = (this.pc ??= this.newPc())
    for (const key of missing) {
      const source = key.split(':')[1] as Source
      const transceiver = pc.addTransceiver(source === 'audio' ? 'audio' : 'video', { direction: 'recvonly' })
      relayedCodecs(transceiver, source === 'audio' ? 'audio' : 'video')
      this.receiving.set(key, transceiver)
    }
    await pc.setLocalDescription(await pc.createOffer())
    await gathered(pc)
    const tracks = [...this.receiving.entries()].map(([key, t]) => {
      const [userId, source] = key.split(':')
      return { mid: t.mid, userId, source }
    })
    try {
      const reply = await this.host.call('media.subscribe', { sdp: pc.localDescription?.sdp, tracks })
      await pc.setRemoteDescription({ type: 'answer', sdp: reply.sdp as string })
    } catch (err) {
      if (this.pc === pc) this.pc = null
      pc.close()
      this.receiving.clear()
      this.tracks.clear()
      this.host.changed()
      // An m-line the server had ended (its publication stopped and came back between two
      // offers, e.g. a camera off and on) is refused `invalid`: a fresh connection has none,
      // so offer everything once more there. (A publication gone between the map's change and
      // our offer is `not_found`: the next change retries.)
      if (!fresh && err instanceof Refused && err.reason === 'invalid') return this.resubscribe()
      throw err
    }
    this.host.changed()
  }

  private onTrack(event: RTCTrackEvent): void {
    for (const [key, transceiver] of this.receiving) {
      if (transceiver !== event.transceiver) continue
      const [userId = '', source] = key.split(':')
      this.tracks.set(key, { userId, source: source as Source, stream: new MediaStream([event.track]) })
      this.host.changed()
    }
  }
}

/**
 * Offer only what the relay forwards (VP8 with RTX, Opus: media/members.py
 * `prefer_relayed_codecs`). Chromium lists every codec it has otherwise, about 5 KB per video
 * m-line: a room of five videos and two voices was a 27 KB offer, over the server's 24 KB
 * `MAX_SDP`, refused `invalid` (an empty stage, seen in the room walkthrough).
 */
function relayedCodecs(transceiver: RTCRtpTransceiver, kind: 'audio' | 'video'): void {
  const wanted = kind === 'audio' ? ['audio/opus'] : ['video/vp8', 'video/rtx']
  const codecs = RTCRtpReceiver.getCapabilities(kind)?.codecs.filter((c) => wanted.includes(c.mimeType.toLowerCase()))
  if (!codecs?.length || typeof transceiver.setCodecPreferences !== 'function') return
  try {
    transceiver.setCodecPreferences(codecs)
  } catch {
    // (a browser that refuses the list offers its own: larger, still answered)
  }
}
