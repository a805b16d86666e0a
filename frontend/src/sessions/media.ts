/**
 * The room's media (docs/media.md): two peer connections to the server's relay, both offered
 * by this page — *publish* carries my microphone, camera and screen, *subscribe* receives what
 * others publish. Signaling is `media.*` actions on the room socket (room.ts `act`); the offers
 * are non-trickle (sent once gathering completes; the server's answer carries all its
 * candidates). A change of what I send or of the room's `media` map renegotiates the same
 * connection: a source turned off becomes an inactive m-line (spent, as with the server), a
 * source turned on gets a new one. Who speaks in the room is measured by the server (the room
 * state's `speaker`); this page measures only my own microphone (WebAudio), for the meter
 * beside my mic button. Mute is enforced by the server; a host's mute of my microphone
 * (`forced` in the `media` map) is applied here too (`followServerMute`).
 *
 * While the room document says `mediaMode: p2p` (small meetings, docs/media.md "Peer-to-peer
 * mode") the same sources go peer to peer instead (p2p.ts): `media.p2p.publish` announces them
 * and the mesh receives what the `p2p` map lists. When the room moves to the relay, the mesh
 * closes and what this page sends is published to the relay (mute kept): the page stays in the
 * room, its devices stay on.
 */
import type { MediaMode } from './model'
import { Refused, screenStream } from './devices'
import { AudioLevels } from './levels'
import { gathered, P2pMesh } from './p2p'
import type { Push, Reply } from './room'

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

type Act = (action: string, fields?: Record<string, unknown>) => Promise<Reply>

/** What the page knows of the room beyond replies: its media mode now, and pushes to me. */
export interface MediaRoom {
  mode(): MediaMode
  onPush(fn: (push: Push) => void): () => void
}

const RELAY_ONLY: MediaRoom = { mode: () => 'relay', onPush: () => () => undefined }

/** One page's media in one room; `destroy` stops every track and closes both connections. */
export class RoomMediaClient {
  private iceServers: RTCIceServer[] = []
  private maxVideoBitrate = 1_500_000
  private configured: Promise<void> | null = null
  private publishPc: RTCPeerConnection | null = null
  private subscribePc: RTCPeerConnection | null = null
  private readonly sending = new Map<Source, { track: MediaStreamTrack; transceiver: RTCRtpTransceiver | null }>()
  private readonly receiving = new Map<string, RTCRtpTransceiver>() // "userId:source"
  private listed = false // the room's `media` map lists me (noteListed)
  private readonly remote = new Map<string, RemoteTrack>()
  private publishChain: Promise<unknown> = Promise.resolve()
  private subscribeChain: Promise<unknown> = Promise.resolve()
  private wanted: string[] = []
  private readonly listeners = new Set<() => void>()
  private destroyed = false
  private version = 0
  private muted = false
  private readonly meter = new AudioLevels(
    (userId) => userId === this.me && this.muted,
    () => this.bump(),
  )
  private mesh: P2pMesh | null = null
  private p2pWanted = new Map<string, Source[]>()
  private modeSeen: MediaMode | null = null
  private readonly unlisten: () => void

  constructor(
    private readonly act: Act,
    private readonly me: string,
    private readonly room: MediaRoom = RELAY_ONLY,
  ) {
    this.unlisten = room.onPush((push) => this.mesh?.onPush(push))
  }

  /** The mode this page's media runs in now (the room document's, once it said). */
  get mode(): MediaMode {
    return this.modeSeen ?? this.room.mode()
  }

  private ensureMesh(): P2pMesh {
    this.mesh ??= new P2pMesh({
      act: this.act,
      me: this.me,
      iceServers: () => this.iceServers,
      track: (source) => this.sending.get(source)?.track ?? null,
      remote: (key, track) => {
        const userId = key.split(':')[0] ?? ''
        if (track) {
          this.remote.set(key, track)
          if (track.source === 'audio') this.watchLevel(userId, track.stream)
        } else if (this.remote.delete(key) && key.endsWith(':audio')) this.dropAnalyser(userId)
        this.bump()
      },
      failed: (peer) => void this.act('media.p2p.failed', { with: peer }).catch(() => undefined),
    })
    return this.mesh
  }

  private closeMesh(): void {
    const mesh = this.mesh
    if (!mesh) return
    this.mesh = null
    mesh.close()
    for (const key of [...this.remote.keys()]) {
      if (!this.receiving.has(key)) {
        this.remote.delete(key)
        if (key.endsWith(':audio')) this.dropAnalyser(key.split(':')[0] ?? '')
      }
    }
    this.bump()
  }

  /**
   * The room's media mode changed (`state.mediaMode`). To the relay: close the mesh and publish
   * what I send there (mute kept). Back to P2P (a new period: nobody publishes then): drop the
   * relay connections.
   */
  setMode(mode: MediaMode): void {
    if (this.destroyed || mode === this.modeSeen) return
    const before = this.modeSeen
    this.modeSeen = mode
    if (mode === 'relay') {
      this.closeMesh()
      if (before === 'p2p' && this.sending.size) {
        for (const sent of this.sending.values()) sent.transceiver = null
        this.publishChain = this.publishChain.then(() => this.publishRelay()).catch(() => undefined)
      }
    } else {
      this.publishPc?.close()
      this.publishPc = null
      for (const sent of this.sending.values()) sent.transceiver = null
      this.receiveP2p()
      if (before === 'relay' && this.sending.size) this.publishChain = this.publishChain.then(() => this.publish()).catch(() => undefined)
    }
    this.bump()
  }

  /** The room's members changed (a removal): peer to peer, only members get my media. */
  setMembers(userIds: string[]): void {
    this.mesh?.members(new Set(userIds))
  }

  /** The room's `p2p` map changed: what each member sends peer to peer. */
  setP2p(map: Map<string, Source[]>): void {
    this.p2pWanted = map
    this.receiveP2p()
  }

  private receiveP2p(): void {
    if (this.mode !== 'p2p' || this.destroyed) return
    if (![...this.p2pWanted.keys()].some((userId) => userId !== this.me)) {
      this.mesh?.want(this.p2pWanted)
      return
    }
    // (the ICE servers come with the config)
    this.config().then(
      () => {
        if (this.mode === 'p2p' && !this.destroyed) this.ensureMesh().want(this.p2pWanted)
      },
      () => undefined,
    )
  }

  /** Publish what I send, peer to peer or through the relay as the room says. */
  private async publish(): Promise<void> {
    if (this.mode !== 'p2p') return this.publishRelay()
    const reply = await this.call('media.p2p.publish', { sources: [...this.sending.keys()] })
    if (reply.mode !== 'relay') {
      // (published again after a reconnect: the server's entry starts unmuted)
      if (this.muted && this.sending.has('audio')) await this.call('media.mute', { source: 'audio', muted: true })
      return
    }
    // over the limit, or the room moved meanwhile: the relay takes it
    this.modeSeen = 'relay'
    this.closeMesh()
    await this.publishRelay()
  }

  private async publishRelay(): Promise<void> {
    if (!this.sending.size) return
    await this.negotiate()
    if (this.muted) await this.call('media.mute', { source: 'audio', muted: true })
  }

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  get snapshotVersion(): number {
    return this.version
  }

  private bump(): void {
    this.version += 1
    for (const fn of this.listeners) fn()
  }

  get local(): LocalState {
    return { audio: this.sending.has('audio'), muted: this.muted, camera: this.sending.has('camera'), screen: this.sending.has('screen') }
  }

  localStream(source: Source): MediaStream | null {
    const sent = this.sending.get(source)
    return sent ? new MediaStream([sent.track]) : null
  }

  get remoteTracks(): RemoteTrack[] {
    return [...this.remote.values()]
  }

  private async call(action: string, fields: Record<string, unknown> = {}): Promise<Reply> {
    const reply = await this.act(action, fields)
    if (!reply.ok) throw new Refused(reply.reason ?? 'internal')
    return reply
  }

  private config(): Promise<void> {
    this.configured ??= this.call('media.config').then(
      (reply) => {
        this.iceServers = (reply.iceServers as RTCIceServer[] | undefined) ?? []
        const limits = reply.limits as { maxVideoBitrate?: number } | undefined
        if (limits?.maxVideoBitrate) this.maxVideoBitrate = limits.maxVideoBitrate
      },
      (err: unknown) => {
        this.configured = null
        throw err
      },
    )
    return this.configured
  }

  private newPc(name: 'publish' | 'subscribe'): RTCPeerConnection {
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: 'max-bundle' })
    pc.addEventListener('connectionstatechange', () => {
      // aiortc has no ICE restart: a failed connection is replaced by a new one on the next change
      if (pc.connectionState !== 'failed') return
      if (name === 'publish' && this.publishPc === pc) {
        this.publishPc = null
        this.republish()
      }
      if (name === 'subscribe' && this.subscribePc === pc) {
        this.subscribePc = null
        this.receiving.clear()
        this.remote.clear()
        void this.setWanted(this.wanted, true)
      }
      pc.close()
      this.bump()
    })
    return pc
  }

  /** Turn a source on (asking for the device) or off. Throws `Refused` or a device error. */
  async setSource(source: Source, on: boolean): Promise<void> {
    const run = this.publishChain.then(() => this.changeSource(source, on))
    this.publishChain = run.catch(() => undefined)
    return run
  }

  private async changeSource(source: Source, on: boolean): Promise<void> {
    if (this.destroyed || on === this.sending.has(source)) return
    if (!on) {
      const sent = this.sending.get(source)
      this.sending.delete(source)
      sent?.track.stop()
      if (sent?.transceiver) {
        await sent.transceiver.sender.replaceTrack(null)
        sent.transceiver.direction = 'inactive'
      }
      if (source === 'audio') {
        this.muted = false
        this.dropAnalyser(this.me)
      }
      this.bump()
      if (this.mode === 'p2p') {
        this.mesh?.setTrack(source, null)
        await this.call('media.p2p.publish', { sources: [...this.sending.keys()] }).catch(() => undefined)
        return
      }
      // an empty publish offer would be a connection with nothing in it: unpublish instead
      if (this.sending.size === 0) await this.call('media.unpublish', { source }).catch(() => undefined)
      else await this.negotiate().catch(() => undefined)
      return
    }
    await this.config()
    let track: MediaStreamTrack | undefined
    if (source === 'screen') {
      track = (await screenStream()).getVideoTracks()[0]
    } else {
      const stream = await navigator.mediaDevices.getUserMedia(
        source === 'audio' ? { audio: true } : { video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } } },
      )
      track = stream.getTracks()[0]
    }
    if (!track) throw new DOMException('no track', 'NotFoundError')
    if (this.destroyed) {
      track.stop()
      return
    }
    // the browser's own "Stop sharing" ends the screen track
    track.addEventListener('ended', () => void this.setSource(source, false))
    this.sending.set(source, { track, transceiver: null })
    if (source === 'audio') this.muted = false
    try {
      if (this.mode === 'p2p') {
        this.mesh?.setTrack(source, track)
        await this.publish()
      } else await this.negotiate()
    } catch (err) {
      this.sending.delete(source)
      track.stop()
      if (this.publishPc) {
        for (const t of this.publishPc.getTransceivers()) if (t.sender.track === track) t.direction = 'inactive'
      }
      this.mesh?.setTrack(source, null)
      this.bump()
      throw err
    }
    if (source === 'audio') {
      this.muted = false
      this.watchLevel(this.me, new MediaStream([track]))
    }
    this.bump()
  }

  private async negotiate(): Promise<void> {
    let pc = this.publishPc
    if (!pc || pc.connectionState === 'closed') {
      pc = this.publishPc = this.newPc('publish')
      for (const sent of this.sending.values()) sent.transceiver = null
    }
    for (const sent of this.sending.values()) {
      if (sent.transceiver) continue
      sent.transceiver = pc.addTransceiver(sent.track, { direction: 'sendonly' })
      if (sent.track.kind === 'video') {
        const params = sent.transceiver.sender.getParameters()
        params.encodings = [{ maxBitrate: this.maxVideoBitrate }]
        await sent.transceiver.sender.setParameters(params).catch(() => undefined)
      }
    }
    await pc.setLocalDescription(await pc.createOffer())
    await gathered(pc)
    const tracks = [...this.sending.entries()].map(([source, sent]) => ({ mid: sent.transceiver?.mid, source }))
    let reply: Reply
    try {
      reply = await this.call('media.publish', { sdp: pc.localDescription?.sdp, tracks })
    } catch (err) {
      // the offer stays unanswered: start over on a fresh connection next time
      if (this.publishPc === pc) this.publishPc = null
      pc.close()
      for (const sent of this.sending.values()) sent.transceiver = null
      throw err
    }
    await pc.setRemoteDescription({ type: 'answer', sdp: reply.sdp as string })
  }

  /** Offer what I send again on a fresh publish connection (queued after other changes). */
  private republish(): void {
    if (this.destroyed || !this.sending.size) return
    for (const sent of this.sending.values()) sent.transceiver = null
    this.publishChain = this.publishChain.then(() => this.publish()).catch(() => undefined)
  }

  /**
   * Whether the room's `media` map lists what I send. Listed, then dropped while I still send:
   * the room's media moved to another node (its home died, docs/media.md "One media home per
   * room") or the relay lost my connection; publish again on a fresh connection (to the new
   * home) instead of waiting for this one to fail.
   */
  noteListed(listed: boolean): void {
    const dropped = this.listed && !listed
    this.listed = listed
    if (!dropped || this.destroyed || !this.sending.size) return
    this.publishPc?.close()
    this.publishPc = null
    this.republish()
    this.bump()
  }

  /**
   * The room socket came back: the server ended this participant's media when its last
   * connection closed, so publish and subscribe again on new connections.
   */
  resume(): void {
    if (this.destroyed) return
    this.publishPc?.close()
    this.publishPc = null
    this.subscribePc?.close()
    this.subscribePc = null
    this.receiving.clear()
    this.remote.clear()
    this.mesh?.close()
    this.mesh = null
    this.receiveP2p()
    this.republish()
    void this.setWanted(this.wanted, true).catch(() => undefined)
    this.bump()
  }

  async setMuted(muted: boolean): Promise<void> {
    const sent = this.sending.get('audio')
    if (!sent) return
    await this.call('media.mute', { source: 'audio', muted })
    sent.track.enabled = !muted
    this.muted = muted
    this.bump()
  }

  /** Receive everything others publish (called whenever the room's `media` map changes). */
  setWanted(keys: string[], force = false): Promise<void> {
    const sorted = [...keys].sort()
    if (!force && sorted.join('|') === this.wanted.join('|')) return Promise.resolve()
    this.wanted = sorted
    const run = this.subscribeChain.then(() => this.resubscribe())
    this.subscribeChain = run.catch(() => undefined)
    return run
  }

  private async resubscribe(): Promise<void> {
    if (this.destroyed) return
    const wanted = new Set(this.wanted)
    let changed = false
    for (const [key, transceiver] of this.receiving) {
      if (wanted.has(key)) continue
      transceiver.direction = 'inactive'
      this.receiving.delete(key)
      this.remote.delete(key)
      this.dropAnalyser(key.split(':')[0] ?? '')
      changed = true
    }
    const missing = [...wanted].filter((key) => !this.receiving.has(key))
    if (!missing.length && !changed) return
    if (!this.receiving.size && !missing.length) {
      this.subscribePc?.close()
      this.subscribePc = null
      this.bump()
      return
    }
    await this.config()
    let pc = this.subscribePc
    if (!pc) {
      pc = this.subscribePc = this.newPc('subscribe')
      pc.addEventListener('track', (event) => this.onTrack(event))
    }
    for (const key of missing) {
      const source = key.split(':')[1] as Source
      this.receiving.set(key, pc.addTransceiver(source === 'audio' ? 'audio' : 'video', { direction: 'recvonly' }))
    }
    await pc.setLocalDescription(await pc.createOffer())
    await gathered(pc)
    const tracks = [...this.receiving.entries()].map(([key, t]) => {
      const [userId, source] = key.split(':')
      return { mid: t.mid, userId, source }
    })
    try {
      const reply = await this.call('media.subscribe', { sdp: pc.localDescription?.sdp, tracks })
      await pc.setRemoteDescription({ type: 'answer', sdp: reply.sdp as string })
    } catch (err) {
      // (a publication gone between the map's change and our offer: the next change retries)
      if (this.subscribePc === pc) this.subscribePc = null
      pc.close()
      this.receiving.clear()
      this.remote.clear()
      this.bump()
      throw err
    }
    this.bump()
  }

  private onTrack(event: RTCTrackEvent): void {
    for (const [key, transceiver] of this.receiving) {
      if (transceiver !== event.transceiver) continue
      const [userId = '', source] = key.split(':')
      const stream = new MediaStream([event.track])
      this.remote.set(key, { userId, source: source as Source, stream })
      this.bump()
    }
  }

  private watchLevel(userId: string, stream: MediaStream): void {
    this.meter.watch(userId, stream)
  }

  private dropAnalyser(userId: string): void {
    this.meter.drop(userId)
  }

  /** userId → audio level 0..1 (RMS), refreshed five times a second. */
  get levels(): Map<string, number> {
    return this.meter.levels
  }

  /** Peer to peer only (no server hears the voices): the loudest voice this page receives. */
  get speaker(): string | null {
    return this.meter.speaker
  }

  /** My microphone's level (0..1 RMS; 0 while muted), for my own meter. */
  get myLevel(): number {
    return this.levels.get(this.me) ?? 0
  }

  /** The server muted my microphone (a host did): stop sending it here too. */
  followServerMute(): void {
    const sent = this.sending.get('audio')
    if (!sent || this.muted) return
    sent.track.enabled = false
    this.muted = true
    this.bump()
  }

  /** Leave: stop every local track, close both connections, tell the server (best effort). */
  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    const had = this.sending.size > 0 || this.subscribePc !== null || (this.mesh?.connections ?? 0) > 0
    this.unlisten()
    this.mesh?.close()
    this.mesh = null
    for (const sent of this.sending.values()) sent.track.stop()
    this.sending.clear()
    this.publishPc?.close()
    this.subscribePc?.close()
    this.publishPc = this.subscribePc = null
    this.meter.close()
    this.remote.clear()
    this.listeners.clear()
    if (had) void this.act('media.leave').catch(() => undefined)
  }
}
