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
 */
import type { Reply } from './room'

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

/** The page's own words for the failures of getting a device (DOMException names). */
export function deviceError(err: unknown, what: string): string {
  const name = err instanceof DOMException ? err.name : ''
  if (name === 'NotAllowedError' || name === 'SecurityError')
    return `Permission to use your ${what} was denied: allow it in the browser's site settings and try again.`
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return `No ${what} was found on this device.`
  if (name === 'NotReadableError' || name === 'AbortError') return `Your ${what} is in use by another program or could not be started.`
  return `Could not start your ${what}${err instanceof Error && err.message ? `: ${err.message}` : '.'}`
}

/** A refusal of the server as a thrown error carrying its reason code. */
export class Refused extends Error {
  constructor(readonly reason: string) {
    super(reason)
  }
}

async function gathered(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === 'complete') return
  await new Promise<void>((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== 'complete') return
      pc.removeEventListener('icegatheringstatechange', done)
      resolve()
    }
    pc.addEventListener('icegatheringstatechange', done)
    // host candidates come at once; a STUN/TURN server that never answers must not hang us
    setTimeout(resolve, 3000)
  })
}

function screenStream(): Promise<MediaStream> {
  return navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 15 }, audio: false })
}

/** One page's media in one room; `destroy` stops every track and closes both connections. */
export class RoomMediaClient {
  private iceServers: RTCIceServer[] = []
  private maxVideoBitrate = 1_500_000
  private configured: Promise<void> | null = null
  private publishPc: RTCPeerConnection | null = null
  private subscribePc: RTCPeerConnection | null = null
  private readonly sending = new Map<Source, { track: MediaStreamTrack; transceiver: RTCRtpTransceiver | null }>()
  private readonly receiving = new Map<string, RTCRtpTransceiver>() // "userId:source"
  private readonly remote = new Map<string, RemoteTrack>()
  private publishChain: Promise<unknown> = Promise.resolve()
  private subscribeChain: Promise<unknown> = Promise.resolve()
  private wanted: string[] = []
  private readonly listeners = new Set<() => void>()
  private destroyed = false
  private version = 0
  private muted = false
  private audioContext: AudioContext | null = null
  private readonly analysers = new Map<string, { analyser: AnalyserNode; source: MediaStreamAudioSourceNode; data: Float32Array<ArrayBuffer> }>()
  private levelTimer: number | null = null
  /** userId (only mine) → audio level 0..1 (RMS), refreshed five times a second. */
  readonly levels = new Map<string, number>()

  constructor(
    private readonly act: Act,
    private readonly me: string,
  ) {}

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
    try {
      await this.negotiate()
    } catch (err) {
      this.sending.delete(source)
      track.stop()
      if (this.publishPc) {
        for (const t of this.publishPc.getTransceivers()) if (t.sender.track === track) t.direction = 'inactive'
      }
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
    this.publishChain = this.publishChain.then(() => this.negotiate()).catch(() => undefined)
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
    try {
      this.audioContext ??= new AudioContext()
      void this.audioContext.resume().catch(() => undefined)
      this.dropAnalyser(userId)
      const source = this.audioContext.createMediaStreamSource(stream)
      const analyser = this.audioContext.createAnalyser()
      analyser.fftSize = 512
      source.connect(analyser)
      this.analysers.set(userId, { analyser, source, data: new Float32Array(analyser.fftSize) })
      this.levelTimer ??= window.setInterval(() => this.measure(), 200)
    } catch {
      // no WebAudio: no speaker highlight, the sound itself still plays
    }
  }

  private dropAnalyser(userId: string): void {
    const entry = this.analysers.get(userId)
    if (!entry) return
    entry.source.disconnect()
    this.analysers.delete(userId)
    this.levels.delete(userId)
  }

  private measure(): void {
    let changed = false
    for (const [userId, { analyser, data }] of this.analysers) {
      analyser.getFloatTimeDomainData(data)
      let sum = 0
      for (const v of data) sum += v * v
      const level = Math.round(Math.sqrt(sum / data.length) * 1000) / 1000
      const muted = userId === this.me && this.muted
      const value = muted ? 0 : level
      if (this.levels.get(userId) !== value) changed = true
      this.levels.set(userId, value)
    }
    if (changed) this.bump()
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
    const had = this.sending.size > 0 || this.subscribePc !== null
    for (const sent of this.sending.values()) sent.track.stop()
    this.sending.clear()
    this.publishPc?.close()
    this.subscribePc?.close()
    this.publishPc = this.subscribePc = null
    if (this.levelTimer !== null) window.clearInterval(this.levelTimer)
    for (const userId of [...this.analysers.keys()]) this.dropAnalyser(userId)
    void this.audioContext?.close().catch(() => undefined)
    this.remote.clear()
    this.listeners.clear()
    if (had) void this.act('media.leave').catch(() => undefined)
  }
}
