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
 * room, its devices stay on. The relay's two connections are relaypub.ts and relaysub.ts.
 *
 * A source the relay stopped for sending over the room's bitrate cap (a `media.stopped` push)
 * is turned off here and said in words (`stopped`).
 */
import type { MediaMode } from './model'
import { capture, Refused, stoppedText } from './devices'
import { AudioLevels } from './levels'
import { type LocalState, type MediaRoom, type RemoteTrack, type Sent, type Source, Store } from './mediatypes'
import { P2pMesh } from './p2p'
import { RelayPublisher } from './relaypub'
import { RelaySubscriber } from './relaysub'
import type { Push, Reply } from './room'

export type { LocalState, MediaMap, MediaRoom, Publication, RemoteTrack, Source } from './mediatypes'

type Act = (action: string, fields?: Record<string, unknown>) => Promise<Reply>

const RELAY_ONLY: MediaRoom = { mode: () => 'relay', onPush: () => () => undefined }

/** One page's media in one room; `destroy` stops every track and closes both connections. */
export class RoomMediaClient extends Store {
  private iceServers: RTCIceServer[] = []
  private maxVideoBitrate = 1_500_000
  private configured: Promise<void> | null = null
  private readonly sending = new Map<Source, Sent>()
  private listed = false // the room's `media` map lists me (noteListed)
  private readonly p2pRemote = new Map<string, RemoteTrack>() // "userId:source", from the mesh
  private publishChain: Promise<unknown> = Promise.resolve()
  private destroyed = false
  private muted = false
  private readonly meter = new AudioLevels(
    (userId) => userId === this.me && this.muted,
    () => this.bump(),
  )
  private mesh: P2pMesh | null = null
  private p2pWanted = new Map<string, Source[]>()
  private modeSeen: MediaMode | null = null
  private readonly unlisten: () => void
  private readonly pub = new RelayPublisher({
    iceServers: () => this.iceServers,
    maxVideoBitrate: () => this.maxVideoBitrate,
    call: (action, fields) => this.call(action, fields),
    failed: () => {
      this.republish()
      this.bump()
    },
  })
  private readonly sub = new RelaySubscriber({
    iceServers: () => this.iceServers,
    config: () => this.config(),
    call: (action, fields) => this.call(action, fields),
    gone: (key) => this.meter.drop(key.split(':')[0] ?? ''),
    changed: () => this.bump(),
    destroyed: () => this.destroyed,
  })
  /** Why the relay stopped one of my sources, in words, until dismissed. */
  stopped: string | null = null

  constructor(
    private readonly act: Act,
    private readonly me: string,
    private readonly room: MediaRoom = RELAY_ONLY,
  ) {
    super()
    this.unlisten = room.onPush((push) => {
      if (push.push === 'media.stopped') this.onStopped(push)
      else this.mesh?.onPush(push)
    })
  }

  /** The relay stopped a source of mine (over the room's bitrate cap): turn it off, say why. */
  private onStopped(push: Push): void {
    const source = push.source as Source
    if (!['audio', 'camera', 'screen'].includes(source)) return
    this.stopped = stoppedText(source, typeof push.limit === 'number' ? push.limit : 0)
    void this.setSource(source, false).catch(() => undefined)
    this.bump()
  }

  dismissStopped(): void {
    this.stopped = null
    this.bump()
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
          this.p2pRemote.set(key, track)
          if (track.source === 'audio') this.meter.watch(userId, track.stream)
        } else if (this.p2pRemote.delete(key) && key.endsWith(':audio')) this.meter.drop(userId)
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
    for (const key of this.p2pRemote.keys()) {
      if (key.endsWith(':audio') && !this.sub.has(key)) this.meter.drop(key.split(':')[0] ?? '')
    }
    this.p2pRemote.clear()
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
        this.pub.drop(this.sending.values())
        this.publishChain = this.publishChain.then(() => this.publishRelay()).catch(() => undefined)
      }
    } else {
      this.pub.drop(this.sending.values())
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
    await this.pub.negotiate(this.sending)
    if (this.muted) await this.call('media.mute', { source: 'audio', muted: true })
  }

  get local(): LocalState {
    return { audio: this.sending.has('audio'), muted: this.muted, camera: this.sending.has('camera'), screen: this.sending.has('screen') }
  }

  localStream(source: Source): MediaStream | null {
    const sent = this.sending.get(source)
    return sent ? (sent.preview ??= new MediaStream([sent.track])) : null
  }

  get remoteTracks(): RemoteTrack[] {
    return [...this.sub.tracks.values(), ...this.p2pRemote.values()]
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
        this.meter.drop(this.me)
      }
      this.bump()
      if (this.mode === 'p2p') {
        this.mesh?.setTrack(source, null)
        await this.call('media.p2p.publish', { sources: [...this.sending.keys()] }).catch(() => undefined)
        return
      }
      // an empty publish offer would be a connection with nothing in it: unpublish instead
      if (this.sending.size === 0) await this.call('media.unpublish', { source }).catch(() => undefined)
      else await this.pub.negotiate(this.sending).catch(() => undefined)
      return
    }
    await this.config()
    const track = await capture(source)
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
      } else await this.pub.negotiate(this.sending)
    } catch (err) {
      this.sending.delete(source)
      track.stop()
      this.pub.abandon(track)
      this.mesh?.setTrack(source, null)
      this.bump()
      throw err
    }
    if (source === 'audio') {
      this.muted = false
      this.meter.watch(this.me, new MediaStream([track]))
    }
    this.bump()
  }

  /** Offer what I send again on a fresh publish connection (queued after other changes). */
  private republish(): void {
    if (this.destroyed || !this.sending.size) return
    this.pub.drop(this.sending.values())
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
    this.republish()
    this.bump()
  }

  /**
   * The room socket came back: the server ended this participant's media when its last
   * connection closed, so publish and subscribe again on new connections.
   */
  resume(): void {
    if (this.destroyed) return
    this.pub.drop(this.sending.values())
    this.p2pRemote.clear()
    this.mesh?.close()
    this.mesh = null
    this.receiveP2p()
    this.republish()
    this.sub.restart()
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
    return this.sub.setWanted(keys, force)
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
    const had = this.sending.size > 0 || this.sub.active || (this.mesh?.connections ?? 0) > 0
    this.unlisten()
    this.mesh?.close()
    this.mesh = null
    for (const sent of this.sending.values()) sent.track.stop()
    this.sending.clear()
    this.pub.drop([])
    this.sub.close()
    this.meter.close()
    this.p2pRemote.clear()
    this.bump() // (a page still showing the room shows nothing sent or received)
    this.forget()
    if (had) void this.act('media.leave').catch(() => undefined)
  }
}
