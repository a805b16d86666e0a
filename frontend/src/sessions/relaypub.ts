/**
 * The sending half of the page's relay media (media.ts): one publish peer connection offered
 * by this page (non-trickle), carrying every source I send. A source turned off becomes an
 * inactive m-line (spent, as with the server); a source turned on gets a new one. Invariant:
 * a source's `transceiver` belongs to the live connection, or is null (offered on the next
 * `negotiate`); dropping the connection nulls them all.
 */
import { gathered } from './p2p'
import type { Reply } from './room'
import type { Sent, Source } from './mediatypes'

export interface PublisherHost {
  iceServers(): RTCIceServer[]
  maxVideoBitrate(): number
  call(action: string, fields: Record<string, unknown>): Promise<Reply>
  /** The connection failed (aiortc has no ICE restart): offer again on a fresh one. */
  failed(): void
}

export class RelayPublisher {
  private pc: RTCPeerConnection | null = null

  constructor(private readonly host: PublisherHost) {}

  /** Close the connection; what `sending` holds is offered anew by the next `negotiate`. */
  drop(sending: Iterable<Sent>): void {
    this.pc?.close()
    this.pc = null
    for (const sent of sending) sent.transceiver = null
  }

  /** A track that could not be published: its m-line goes inactive. */
  abandon(track: MediaStreamTrack): void {
    for (const t of this.pc?.getTransceivers() ?? []) if (t.sender.track === track) t.direction = 'inactive'
  }

  /** Offer what `sending` holds (new sources on new m-lines); publish it to the relay. */
  async negotiate(sending: Map<Source, Sent>): Promise<void> {
    let pc = this.pc
    if (!pc || pc.connectionState === 'closed') {
      pc = this.pc = this.newPc()
      for (const sent of sending.values()) sent.transceiver = null
    }
    for (const sent of sending.values()) {
      if (sent.transceiver) continue
      sent.transceiver = pc.addTransceiver(sent.track, { direction: 'sendonly' })
      if (sent.track.kind === 'video') {
        const params = sent.transceiver.sender.getParameters()
        params.encodings = [{ maxBitrate: this.host.maxVideoBitrate() }]
        await sent.transceiver.sender.setParameters(params).catch(() => undefined)
      }
    }
    await pc.setLocalDescription(await pc.createOffer())
    await gathered(pc)
    const tracks = [...sending.entries()].map(([source, sent]) => ({ mid: sent.transceiver?.mid, source }))
    let reply: Reply
    try {
      reply = await this.host.call('media.publish', { sdp: pc.localDescription?.sdp, tracks })
    } catch (err) {
      // the offer stays unanswered: start over on a fresh connection next time
      if (this.pc === pc) this.pc = null
      pc.close()
      for (const sent of sending.values()) sent.transceiver = null
      throw err
    }
    await pc.setRemoteDescription({ type: 'answer', sdp: reply.sdp as string })
  }

  private newPc(): RTCPeerConnection {
    const pc = new RTCPeerConnection({ iceServers: this.host.iceServers(), bundlePolicy: 'max-bundle' })
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState !== 'failed') return
      if (this.pc === pc) {
        this.pc = null
        this.host.failed()
      }
      pc.close()
    })
    return pc
  }
}
