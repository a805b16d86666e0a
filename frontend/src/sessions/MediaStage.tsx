/**
 * The room's audio and video: my media bar (microphone, camera, screen), the stage (a shared
 * screen large, cameras beside it), the others' sound, and the host's recording control with an
 * indicator everyone sees. What is published comes from the room document's `media` map (the
 * relay) or `p2p` map (peer to peer, small meetings: `state.mediaMode`, docs/media.md); the
 * server decides who may publish and the bar shows its refusal in words.
 */
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react'
import type { RoomCtx } from './RoomPage'
import type { MediaSource, RoomView } from './model'
import { deviceError, Refused } from './devices'
import type { RemoteTrack, RoomMediaClient, Source } from './media'
import { mediaReasonText } from './room'

const WHAT: Record<MediaSource, string> = { audio: 'microphone', camera: 'camera', screen: 'screen' }

function explain(err: unknown, source: MediaSource): string {
  if (err instanceof Refused) return mediaReasonText(err.reason)
  if (source === 'screen' && err instanceof DOMException && err.name === 'NotAllowedError') return 'Screen sharing was cancelled or not allowed.'
  return deviceError(err, WHAT[source])
}

/** What a role may send under the session's settings (the server checks it again). */
function allowed(ctx: RoomCtx, view: RoomView, source: MediaSource): boolean {
  if (ctx.isHost) return true
  if (ctx.role === 'viewer') return false
  if (source === 'screen') return view.settings.whoMayShare === 'everyone'
  return (view.settings.whoMayUnmute ?? 'everyone') === 'everyone'
}

export function useMediaVersion(client: RoomMediaClient): number {
  return useSyncExternalStore(client.subscribe, () => client.snapshotVersion)
}

export function MediaStage({ ctx, view, client }: { ctx: RoomCtx; view: RoomView; client: RoomMediaClient }) {
  useMediaVersion(client)
  const [error, setError] = useState('')
  const [pending, setPending] = useState<MediaSource | 'record' | null>(null)
  const [soundBlocked, setSoundBlocked] = useState(false)
  const onBlocked = useCallback(() => setSoundBlocked(true), [])
  const live = view.status === 'live' && !ctx.readOnly
  const local = client.local
  const names = new Map(view.participants.map((p) => [p.userId, p.name]))
  const nameOf = (userId: string) => (userId === ctx.me ? 'You' : (names.get(userId) ?? 'Someone'))
  // a host's mute of my microphone: in the `media` map (relay) or the `p2p` map (mesh)
  const myAudio = view.media.get(ctx.me)?.audio ?? view.p2p.get(ctx.me)?.audio
  const forcedMute = Boolean(myAudio?.muted && myAudio.forced)

  // receive everything the others publish; a change of the map renegotiates
  const wanted: string[] = []
  for (const [userId, sources] of view.media) {
    if (userId === ctx.me) continue
    for (const source of Object.keys(sources)) wanted.push(`${userId}:${source}`)
  }
  const wantedKey = wanted.sort().join('|')
  useEffect(() => {
    if (view.status !== 'live') return
    client.setWanted(wantedKey ? wantedKey.split('|') : []).catch((err: unknown) => {
      if (err instanceof Refused && err.reason === 'not_found') return // gone meanwhile: the map follows
      setError(err instanceof Refused ? mediaReasonText(err.reason) : 'Could not receive the others\u2019 audio and video.')
    })
  }, [client, wantedKey, view.status])

  // what I send dropped from the map while I still send it: the media moved; publish again
  const listed = view.media.has(ctx.me)
  useEffect(() => {
    client.noteListed(listed)
  }, [client, listed])

  // a host muted my microphone: the server no longer forwards it; stop sending it too
  const serverMuted = Boolean(myAudio?.muted)
  useEffect(() => {
    if (serverMuted) client.followServerMute()
  }, [client, serverMuted])

  // the room's mode, and what members send peer to peer (the mesh follows both)
  useEffect(() => {
    if (view.status === 'live') client.setMode(view.mediaMode)
  }, [client, view.mediaMode, view.status])
  const p2pKey = [...view.p2p.entries()]
    .map(([userId, sources]) => `${userId}=${Object.keys(sources).sort().join(',')}`)
    .sort()
    .join('|')
  useEffect(() => {
    if (view.status !== 'live') return
    const map = new Map<string, Source[]>()
    for (const entry of p2pKey ? p2pKey.split('|') : []) {
      const [userId = '', sources = ''] = entry.split('=')
      map.set(userId, sources ? (sources.split(',') as Source[]) : [])
    }
    client.setP2p(map)
  }, [client, p2pKey, view.status])
  const membersKey = view.participants.map((p) => p.userId).sort().join('|')
  useEffect(() => {
    client.setMembers(membersKey ? membersKey.split('|') : [])
  }, [client, membersKey])
  const published = new Map([...view.media, ...view.p2p])

  // presence mirrors what I really send
  useEffect(() => {
    ctx.room.setMedia({ mic: local.audio && !local.muted, camera: local.camera, screen: local.screen })
  }, [ctx.room, local.audio, local.muted, local.camera, local.screen])

  const run = async (what: MediaSource | 'record', job: () => Promise<unknown>, source: MediaSource = 'camera') => {
    setPending(what)
    setError('')
    if (client.stopped) client.dismissStopped()
    try {
      await job()
    } catch (err) {
      setError(explain(err, source))
    } finally {
      setPending(null)
    }
  }

  const toggleMic = () =>
    void run('audio', () => (local.audio ? client.setMuted(!local.muted) : client.setSource('audio', true)), 'audio')
  const toggle = (source: 'camera' | 'screen') => void run(source, () => client.setSource(source, !local[source]), source)
  const record = () =>
    void run('record', async () => {
      const reply = await ctx.room.act('media.record', { on: !view.recording }, true)
      if (!reply.ok) throw new Refused(reply.reason ?? 'internal')
    })

  const remote = client.remoteTracks
  const videos: { key: string; userId: string; source: MediaSource; stream: MediaStream; mine: boolean }[] = []
  for (const source of ['screen', 'camera'] as const) {
    const mine = client.localStream(source)
    if (mine) videos.push({ key: `me:${source}`, userId: ctx.me, source, stream: mine, mine: true })
    for (const t of remote) if (t.source === source) videos.push({ key: `${t.userId}:${source}`, ...t, mine: false })
  }
  const hasScreen = videos.some((v) => v.source === 'screen')
  // measured by the server through the relay (docs/media.md, "Speakers"); peer to peer no
  // server hears the voices, so this page measures what it receives
  const speaker = view.mediaMode === 'p2p' ? client.speaker : view.speaker.userId
  const mayPublish = (['audio', 'camera', 'screen'] as const).filter((s) => allowed(ctx, view, s))
  const recordingBy = view.recording ? nameOf(view.recording.userId) : ''

  return (
    <section className="panel panel-media" aria-labelledby="media-title" data-speaker={speaker ?? ''} data-media-mode={client.mode}>
      <div className="media-head">
        <h2 id="media-title">Audio and video</h2>
        {view.status === 'live' && published.size ? (
          <span className="muted small" id="media-mode">
            {client.mode === 'p2p' ? 'Direct between participants' : 'Through the server'}
          </span>
        ) : null}
        {view.recording ? (
          <span className="rec-pill" role="status" id="recording-indicator">
            <span className="rec-dot" aria-hidden="true" /> Recording{recordingBy && recordingBy !== 'You' ? ` ${recordingBy}` : ''}
          </span>
        ) : null}
      </div>
      {mayPublish.length ? (
        <div className="media-bar" role="group" aria-label="Your audio and video">
          {mayPublish.includes('audio') ? (
            <button
              type="button"
              className={`btn media-btn ${local.audio && !local.muted ? 'media-on' : ''}`}
              id="media-mic"
              aria-pressed={local.audio && !local.muted}
              disabled={!live || pending !== null}
              onClick={toggleMic}
            >
              {pending === 'audio' ? 'Mic…' : !local.audio ? 'Turn on mic' : local.muted ? (forcedMute ? 'Muted by a host' : 'Mic muted') : 'Mic on'}
            </button>
          ) : null}
          {local.audio && !local.muted ? (
            // my own microphone, measured here at once (who speaks in the room comes from the server)
            <meter className="mic-level" id="media-mic-level" min={0} max={0.25} value={Math.min(client.myLevel, 0.25)} aria-label="Your microphone level" />
          ) : null}
          {mayPublish.includes('camera') ? (
            <button
              type="button"
              className={`btn media-btn ${local.camera ? 'media-on' : ''}`}
              id="media-camera"
              aria-pressed={local.camera}
              disabled={!live || pending !== null}
              onClick={() => toggle('camera')}
            >
              {pending === 'camera' ? 'Camera…' : local.camera ? 'Camera on' : 'Camera off'}
            </button>
          ) : null}
          {mayPublish.includes('screen') ? (
            <button
              type="button"
              className={`btn media-btn ${local.screen ? 'media-on' : ''}`}
              id="media-screen"
              aria-pressed={local.screen}
              disabled={!live || pending !== null}
              onClick={() => toggle('screen')}
            >
              {pending === 'screen' ? 'Screen…' : local.screen ? 'Stop sharing' : 'Share screen'}
            </button>
          ) : null}
          {ctx.isHost ? (
            <button
              type="button"
              className={`btn media-btn ${view.recording ? 'btn-danger' : ''}`}
              id="media-record"
              aria-pressed={Boolean(view.recording)}
              disabled={!live || pending !== null}
              onClick={record}
            >
              {pending === 'record' ? 'Recording…' : view.recording ? 'Stop recording' : 'Record'}
            </button>
          ) : null}
        </div>
      ) : (
        <p className="muted small" id="media-viewer-hint">
          {ctx.role === 'viewer' ? 'You are watching: viewers cannot share audio or video.' : 'In this session only the hosts share audio and video.'}
        </p>
      )}
      {!live && mayPublish.length ? <p className="muted small">{view.status === 'live' ? '' : 'Audio and video start when the session is live.'}</p> : null}
      {error ? (
        <p className="media-error" role="alert" id="media-error">
          {error}{' '}
          <button type="button" className="link-btn" onClick={() => setError('')}>
            Dismiss
          </button>
        </p>
      ) : null}
      {client.stopped ? (
        <p className="media-error" role="alert" id="media-stopped">
          {client.stopped}{' '}
          <button type="button" className="link-btn" onClick={() => client.dismissStopped()}>
            Dismiss
          </button>
        </p>
      ) : null}
      {soundBlocked ? (
        <button type="button" className="btn btn-primary" id="media-sound" onClick={() => setSoundBlocked(false)}>
          Turn on sound
        </button>
      ) : null}
      {videos.length ? (
        <div className={`stage ${hasScreen ? 'stage-screen' : ''}`} aria-label="Video">
          {videos.map((v) => {
            const muted = v.mine ? local.muted || !local.audio : Boolean(published.get(v.userId)?.audio?.muted ?? !published.get(v.userId)?.audio)
            return (
              <figure
                key={v.key}
                className={`tile tile-${v.source} ${speaker === v.userId && v.source === 'camera' ? 'tile-speaking' : ''}`}
                data-user={v.userId}
                data-source={v.source}
              >
                <Video stream={v.stream} />
                <figcaption>
                  {nameOf(v.userId)}
                  {v.source === 'screen' ? ' · screen' : ''}
                  {v.source === 'camera' && muted ? <span className="tile-muted"> · muted</span> : null}
                  {speaker === v.userId && v.source === 'camera' ? <span className="visually-hidden"> (speaking)</span> : null}
                </figcaption>
              </figure>
            )
          })}
        </div>
      ) : view.status === 'live' ? (
        <p className="muted small">Nobody shares video right now.</p>
      ) : null}
      {remote
        .filter((t) => t.source === 'audio')
        .map((t) => (
          <Sound key={`${t.userId}:audio`} track={t} blocked={soundBlocked} onBlocked={onBlocked} />
        ))}
    </section>
  )
}

function Video({ stream }: { stream: MediaStream }) {
  const ref = useRef<HTMLVideoElement>(null)
  useEffect(() => {
    const video = ref.current
    if (!video) return
    video.srcObject = stream
    void video.play().catch(() => undefined)
  }, [stream])
  // (video only: the sound plays from its own element)
  return <video ref={ref} muted playsInline autoPlay />
}

function Sound({ track, blocked, onBlocked }: { track: RemoteTrack; blocked: boolean; onBlocked: () => void }) {
  const ref = useRef<HTMLAudioElement>(null)
  useEffect(() => {
    const audio = ref.current
    if (!audio || blocked) return
    if (audio.srcObject !== track.stream) audio.srcObject = track.stream
    // a page nobody clicked yet may not play sound: ask for a click once
    audio.play().catch((err: unknown) => {
      if (err instanceof DOMException && err.name === 'NotAllowedError') onBlocked()
    })
  }, [track.stream, blocked, onBlocked])
  return <audio ref={ref} autoPlay data-user={track.userId} />
}
