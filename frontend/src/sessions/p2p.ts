/**
 * Peer-to-peer media for small meetings (docs/media.md, "Peer-to-peer mode"): a mesh of
 * RTCPeerConnections, one per (publisher, receiver) pair and direction, always offered by the
 * **receiver** (recvonly m-lines, the sources it wants named by mid) and answered by the
 * publisher, so two offers never cross (no glare) and a publisher never needs to know who is
 * in the room. What each member sends is the room document's `p2p` map; a member who drops out
 * of it (left, removed, demoted) has its connection closed here. Signaling is `media.p2p.*`
 * actions addressed to one member (`to`), arriving at that member as pushes (room.ts).
 *
 * A connection that fails, or is not connected `CONNECT_TIMEOUT_MS` after its first offer, is
 * reported once with `media.p2p.failed`: the server moves the room to the relay.
 */
import type { Push, Reply } from './room'
import type { RemoteTrack, Source } from './media'

type Act = (action: string, fields?: Record<string, unknown>) => Promise<Reply>

export const CONNECT_TIMEOUT_MS = 8000
/** Test hook (tests/browser/test_room_p2p_page.py): `'relay'` makes every P2P ICE check fail. */
const POLICY_HOOK = '__workbookP2pIcePolicy'

export interface MeshHost {
  act: Act
  me: string
  iceServers(): RTCIceServer[]
  /** my track of a source, or null when I do not send it */
  track(source: Source): MediaStreamTrack | null
  /** a received track appeared (or ended: null) */
  remote(key: string, track: RemoteTrack | null): void
  /** a connection to `peer` failed: the room should move to the relay */
  failed(peer: string): void
}

interface Receiving {
  pc: RTCPeerConnection
  cid: string
  transceivers: Map<Source, RTCRtpTransceiver>
  wanted: string
  chain: Promise<unknown>
  timer: number | null
  answered: ((sdp: string) => void) | null
  sent: boolean
}

interface Answering {
  pc: RTCPeerConnection
  tracks: Map<string, Source> // mid -> source the receiver wants
  chain: Promise<unknown>
  sent: boolean
}

function rtcConfig(iceServers: RTCIceServer[]): RTCConfiguration {
  const policy = (window as unknown as Record<string, unknown>)[POLICY_HOOK]
  return { iceServers, bundlePolicy: 'max-bundle', ...(policy === 'relay' ? { iceTransportPolicy: 'relay' as const } : {}) }
}

/** Wait until ICE gathering completes (host candidates come at once; a STUN/TURN server that
 * never answers must not hang us: at most 3 s). */
export async function gathered(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === 'complete') return
  await new Promise<void>((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== 'complete') return
      pc.removeEventListener('icegatheringstatechange', done)
      resolve()
    }
    pc.addEventListener('icegatheringstatechange', done)
    setTimeout(resolve, 3000)
  })
}

function newCid(): string {
  return Math.random().toString(36).slice(2, 12) + Date.now().toString(36)
}

export class P2pMesh {
  private readonly receiving = new Map<string, Receiving>() // publisher's userId
  private readonly answering = new Map<string, Answering>() // `${receiver}:${cid}`
  private closed = false
  private reported = false

  constructor(private readonly host: MeshHost) {}

  /** The room's `p2p` map changed: receive what every other member sends, drop the rest. */
  want(map: Map<string, Source[]>): void {
    if (this.closed) return
    for (const peer of [...this.receiving.keys()]) if (!map.has(peer)) this.drop(peer)
    for (const [peer, sources] of map) {
      if (peer === this.host.me || !sources.length) continue
      const key = [...sources].sort().join(',')
      let r = this.receiving.get(peer)
      if (r?.wanted === key) continue
      r ??= this.receiver(peer)
      r.wanted = key
      const current = r
      r.chain = r.chain.then(() => this.offer(peer, current, sources)).catch(() => undefined)
    }
  }

  /**
   * Who is in the room now (not removed): a connection I answer for anyone else is closed, so a
   * removed member stops receiving from me whatever their page does.
   */
  members(userIds: Set<string>): void {
    for (const [key, a] of [...this.answering]) {
      if (userIds.has(key.slice(0, key.lastIndexOf(':')))) continue
      this.answering.delete(key)
      a.pc.close()
    }
  }

  /** My source changed: the connections I answer send the new track (or nothing). */
  setTrack(source: Source, track: MediaStreamTrack | null): void {
    for (const a of this.answering.values()) {
      for (const t of a.pc.getTransceivers()) {
        if (t.mid !== null && a.tracks.get(t.mid) === source) void t.sender.replaceTrack(track).catch(() => undefined)
      }
    }
  }

  onPush(push: Push): void {
    if (this.closed) return
    const cid = typeof push.cid === 'string' ? push.cid : ''
    if (push.push === 'media.p2p.offer') this.answer(push.from, cid, push)
    else if (push.push === 'media.p2p.answer') {
      const r = this.receiving.get(push.from)
      if (r && r.cid === cid && typeof push.sdp === 'string') r.answered?.(push.sdp)
    } else if (push.push === 'media.p2p.ice') {
      const r = this.receiving.get(push.from)
      const pc = r?.cid === cid ? r.pc : this.answering.get(`${push.from}:${cid}`)?.pc
      if (pc && typeof push.candidate === 'string')
        void pc.addIceCandidate({ candidate: push.candidate, sdpMid: push.sdpMid as string }).catch(() => undefined)
    }
  }

  /** Close every connection (the room moved to the relay, or the page leaves). */
  close(): void {
    this.closed = true
    for (const peer of [...this.receiving.keys()]) this.drop(peer)
    for (const a of this.answering.values()) a.pc.close()
    this.answering.clear()
  }

  get connections(): number {
    return this.receiving.size + this.answering.size
  }

  private receiver(peer: string): Receiving {
    const pc = new RTCPeerConnection(rtcConfig(this.host.iceServers()))
    const r: Receiving = { pc, cid: newCid(), transceivers: new Map(), wanted: '', chain: Promise.resolve(), timer: null, answered: null, sent: false }
    this.receiving.set(peer, r)
    pc.addEventListener('track', (event) => {
      for (const [source, t] of r.transceivers) {
        if (t !== event.transceiver) continue
        this.host.remote(`${peer}:${source}`, { userId: peer, source, stream: new MediaStream([event.track]) })
      }
    })
    pc.addEventListener('icecandidate', (event) => {
      // (non-trickle first: the offer carries what gathered; only later ones go alone)
      const c = event.candidate
      if (!c?.candidate || !r.sent || c.sdpMid === null) return
      void this.host.act('media.p2p.ice', { to: peer, cid: r.cid, candidate: c.candidate, sdpMid: c.sdpMid })
    })
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'connected' && r.timer !== null) {
        window.clearTimeout(r.timer)
        r.timer = null
      }
      if (pc.connectionState === 'failed' && this.receiving.get(peer) === r) this.fail(peer)
    })
    r.timer = window.setTimeout(() => {
      r.timer = null
      if (this.receiving.get(peer) === r && pc.connectionState !== 'connected') this.fail(peer)
    }, CONNECT_TIMEOUT_MS)
    return r
  }

  private async offer(peer: string, r: Receiving, sources: Source[]): Promise<void> {
    if (this.receiving.get(peer) !== r) return
    for (const [source, t] of [...r.transceivers]) {
      if (sources.includes(source)) continue
      t.direction = 'inactive' // (spent: a source back later gets a new m-line)
      r.transceivers.delete(source)
      this.host.remote(`${peer}:${source}`, null)
    }
    for (const source of sources) {
      if (!r.transceivers.has(source)) r.transceivers.set(source, r.pc.addTransceiver(source === 'audio' ? 'audio' : 'video', { direction: 'recvonly' }))
    }
    await r.pc.setLocalDescription(await r.pc.createOffer())
    await gathered(r.pc)
    const tracks = [...r.transceivers.entries()].map(([source, t]) => ({ mid: t.mid, source }))
    const answer = new Promise<string>((resolve) => {
      r.answered = resolve
      window.setTimeout(() => resolve(''), CONNECT_TIMEOUT_MS)
    })
    const reply = await this.host.act('media.p2p.offer', { to: peer, cid: r.cid, sdp: r.pc.localDescription?.sdp, tracks })
    if (!reply.ok) {
      // gone meanwhile (the map follows), or the room moved to the relay (so will this page)
      if (this.receiving.get(peer) === r) this.drop(peer)
      return
    }
    r.sent = true
    const sdp = await answer
    r.answered = null
    if (this.receiving.get(peer) !== r) return
    if (!sdp) {
      this.fail(peer)
      return
    }
    if (r.pc.signalingState === 'have-local-offer') await r.pc.setRemoteDescription({ type: 'answer', sdp })
  }

  private answer(from: string, cid: string, push: Push): void {
    const key = `${from}:${cid}`
    let a = this.answering.get(key)
    if (!a) {
      const pc = new RTCPeerConnection(rtcConfig(this.host.iceServers()))
      const created: Answering = { pc, tracks: new Map(), chain: Promise.resolve(), sent: false }
      a = created
      this.answering.set(key, created)
      pc.addEventListener('icecandidate', (event) => {
        const c = event.candidate
        if (!c?.candidate || !created.sent || c.sdpMid === null) return
        void this.host.act('media.p2p.ice', { to: from, cid, candidate: c.candidate, sdpMid: c.sdpMid })
      })
      pc.addEventListener('connectionstatechange', () => {
        if (pc.connectionState !== 'failed' && pc.connectionState !== 'closed') return
        if (this.answering.get(key) === created) this.answering.delete(key)
        pc.close()
      })
    }
    const target = a
    target.chain = target.chain
      .then(async () => {
        for (const entry of Array.isArray(push.tracks) ? (push.tracks as { mid?: unknown; source?: unknown }[]) : []) {
          if (typeof entry.mid === 'string') target.tracks.set(entry.mid, entry.source as Source)
        }
        await target.pc.setRemoteDescription({ type: 'offer', sdp: push.sdp as string })
        for (const t of target.pc.getTransceivers()) {
          const source = t.mid === null ? undefined : target.tracks.get(t.mid)
          const track = source ? this.host.track(source) : null
          await t.sender.replaceTrack(track)
          t.direction = track ? 'sendonly' : 'inactive'
        }
        await target.pc.setLocalDescription(await target.pc.createAnswer())
        await gathered(target.pc)
        const reply = await this.host.act('media.p2p.answer', { to: from, cid, sdp: target.pc.localDescription?.sdp })
        if (!reply.ok) throw new Error(reply.reason ?? 'refused')
        target.sent = true
      })
      .catch(() => {
        if (this.answering.get(key) === target) this.answering.delete(key)
        target.pc.close()
      })
  }

  private drop(peer: string): void {
    const r = this.receiving.get(peer)
    if (!r) return
    this.receiving.delete(peer)
    if (r.timer !== null) window.clearTimeout(r.timer)
    r.answered?.('')
    r.pc.close()
    for (const source of r.transceivers.keys()) this.host.remote(`${peer}:${source}`, null)
  }

  private fail(peer: string): void {
    if (this.reported || this.closed) return
    this.reported = true
    this.host.failed(peer)
  }
}
