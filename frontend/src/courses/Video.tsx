/**
 * One video with resume, progress saving and token refresh: a lesson's, or a sub-lesson's
 * (a part with its own playback id, token and progress endpoint). The page mounts at most one.
 *
 * Invariants (the production lessons of issue 13):
 * - the start position is decided once per player mount (the server's saved position minus
 *   RESUME_BACK_SECONDS, read when the video opened) and passed as the player's startTime;
 *   a re-render never changes it, and nothing also sets currentTime;
 * - `useProgressSaver` is the only code that saves progress, to the target's own endpoint;
 * - a token within REFRESH_MARGIN_S of expiry is replaced before playing, and a player error
 *   for an expired/refused token fetches a new one and remounts the player at the position it
 *   had reached (that remount is the one place a new start position is chosen).
 */
import { lazy, Suspense, useCallback, useEffect, useRef, useState } from 'react'
import type MuxPlayerElement from '@mux/mux-player'
import {
  fetchLessonProgress,
  fetchSubLessonProgress,
  formatTime,
  playbackToken,
  type PlaybackToken,
} from '../api/courses'
import { describe } from '../api/client'
import { useProgressSaver, type Saved, type Target } from './useProgressSaver'
import type { PlayerSource } from './Player'

const Player = lazy(() => import('./Player'))

export const RESUME_BACK_SECONDS = 3
const REFRESH_MARGIN_S = 600
const TOKEN_ERROR_CODES = new Set([2403201, 2403210, 2403221, 2403222, 2403232])
const MAX_RECOVERIES = 3

interface Tokens {
  video: PlaybackToken
  thumbnail?: PlaybackToken
  storyboard?: PlaybackToken
}

interface Mount {
  key: number
  start: number
  autoPlay: boolean
}

async function fetchTokens(playbackId: string): Promise<Tokens> {
  const video = await playbackToken(playbackId, 'video')
  const [thumbnail, storyboard] = await Promise.all([
    playbackToken(playbackId, 'thumbnail').catch(() => undefined),
    video.streamUrl ? Promise.resolve(undefined) : playbackToken(playbackId, 'storyboard').catch(() => undefined),
  ])
  return { video, thumbnail, storyboard }
}

/** The playlist URL the player fetches: this server's local stream, or Mux's (custom) host. */
function playlistUrl(playbackId: string, video: PlaybackToken): string | null {
  if (video.streamUrl) return video.streamUrl
  if (video.customDomain) return `https://stream.${video.customDomain}/${playbackId}.m3u8?token=${video.token}`
  return null
}

/**
 * Whether a player error means "this token no longer works". Mux's errors carry a muxCode
 * (2403210: expired). A stream played by URL (this server's local stand-in) gets only a
 * network error from the player, so the playlist is asked once more: a 403 is the token.
 */
async function isTokenError(event: Event, url: string | null): Promise<boolean> {
  const detail = (event as CustomEvent<{ muxCode?: number; code?: number } | undefined>).detail
  if (detail?.muxCode !== undefined && TOKEN_ERROR_CODES.has(detail.muxCode)) return true
  if (!url) return false
  try {
    return (await fetch(url, { cache: 'no-store' })).status === 403
  } catch {
    return false
  }
}

interface Props {
  target: Target
  playbackId: string
  title: string
  durationSeconds: number
  /** The stored progress, once read and after every save. */
  onProgress: (saved: Saved) => void
  /** After a save (the page invalidates what shows this progress elsewhere). */
  onSaved?: (saved: Saved) => void
}

export function Video({ target, playbackId, title, durationSeconds, onProgress, onSaved }: Props) {
  const [initialWatch, setInitialWatch] = useState(0)
  const [tokens, setTokens] = useState<Tokens | null>(null)
  const [mount, setMount] = useState<Mount | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [media, setMedia] = useState<MuxPlayerElement | null>(null)
  const [status, setStatus] = useState('')
  const [savedAt, setSavedAt] = useState<Saved | null>(null)
  const [clock, setClock] = useState({ at: 0, of: durationSeconds })
  const position = useRef(0)
  const recovering = useRef(false)
  const tokensRef = useRef<Tokens | null>(null)
  tokensRef.current = tokens
  const onProgressRef = useRef(onProgress)
  onProgressRef.current = onProgress

  // once per video: the saved progress decides the first start position; tokens for the video
  useEffect(() => {
    let cancelled = false
    void (async () => {
      try {
        const read = target.kind === 'lesson' ? fetchLessonProgress(target.id) : fetchSubLessonProgress(target.id)
        const [progress, fetched] = await Promise.all([read, fetchTokens(playbackId)])
        if (cancelled) return
        const resumable =
          progress.positionSeconds > 0 && !(durationSeconds && progress.positionSeconds >= durationSeconds * 0.95)
        const start = resumable ? Math.max(0, progress.positionSeconds - RESUME_BACK_SECONDS) : 0
        position.current = start
        setInitialWatch(progress.watchTimeSeconds)
        setSavedAt(progress)
        onProgressRef.current(progress)
        setTokens(fetched)
        setMount({ key: 0, start, autoPlay: false })
      } catch (err) {
        if (!cancelled) setError(describe(err))
      }
    })()
    return () => {
      cancelled = true
    }
  }, [target.kind, target.id, durationSeconds, playbackId])

  /** New tokens, then a new player at `start` (the only other place a start is chosen). */
  const remount = useCallback(
    async (start: number, autoPlay: boolean, why: string) => {
      if (recovering.current) return
      recovering.current = true
      setStatus(why)
      try {
        const fresh = await fetchTokens(playbackId)
        position.current = start
        setTokens(fresh)
        setMount((m) => ({ key: (m?.key ?? 0) + 1, start, autoPlay }))
        setStatus('')
      } catch (err) {
        setError(describe(err))
      } finally {
        recovering.current = false
      }
    },
    [playbackId],
  )

  // refresh before playing after a long idle: a token close to expiry is replaced first
  useEffect(() => {
    if (!media) return
    const expiring = () => {
      const t = tokensRef.current
      return t !== null && t.video.expiresAt - Date.now() / 1000 < REFRESH_MARGIN_S
    }
    const onPlay = () => {
      if (!expiring() || recovering.current) return
      media.pause()
      void remount(media.currentTime, true, 'Refreshing the video link…')
    }
    const onTime = () => {
      if (media.currentTime > 0) position.current = media.currentTime
      const of = Number.isFinite(media.duration) && media.duration > 0 ? media.duration : durationSeconds
      setClock((c) =>
        Math.floor(c.at) === Math.floor(media.currentTime) && c.of === of ? c : { at: media.currentTime, of },
      )
    }
    media.addEventListener('play', onPlay)
    media.addEventListener('timeupdate', onTime)
    return () => {
      media.removeEventListener('play', onPlay)
      media.removeEventListener('timeupdate', onTime)
    }
  }, [media, remount, durationSeconds])

  const recoveries = useRef(0)
  const probing = useRef(false)
  const onPlayerError = useCallback(
    (event: Event) => {
      const wasPlaying = media ? !media.paused : false
      const t = tokensRef.current
      if (probing.current) return
      probing.current = true
      void isTokenError(event, t ? playlistUrl(playbackId, t.video) : null).then((expired) => {
        probing.current = false
        if (!expired || recoveries.current >= MAX_RECOVERIES) return
        recoveries.current += 1
        void remount(position.current, wasPlaying, 'The video link expired; getting a new one…')
      })
    },
    [media, remount, playbackId],
  )
  const onPlayerErrorRef = useRef(onPlayerError)
  onPlayerErrorRef.current = onPlayerError
  // The player's error events do not reliably reach the page (one raised while the first
  // playlist loads comes before React attaches listeners, and a URL-played stream's error
  // carries no status), so the page also watches for a stuck player: no data for 3 s while
  // loading or playing means the playlist is asked once (isTokenError) per stuck spell.
  useEffect(() => {
    if (!media) return
    const el = media as unknown as { readyState: number; paused: boolean }
    let stuck = 0
    const onError = (event: Event) => onPlayerErrorRef.current(event)
    const timer = setInterval(() => {
      const waiting = el.readyState < 3 && (el.readyState === 0 || !el.paused)
      stuck = waiting ? stuck + 1 : 0
      if (stuck === 3) onPlayerErrorRef.current(new CustomEvent('error'))
    }, 1000)
    media.addEventListener('error', onError)
    return () => {
      clearInterval(timer)
      media.removeEventListener('error', onError)
    }
  }, [media])

  const onSavedRef = useRef(onSaved)
  onSavedRef.current = onSaved
  const saved = useCallback((progress: Saved) => {
    setSavedAt(progress)
    onProgressRef.current(progress)
    onSavedRef.current?.(progress)
  }, [])
  useProgressSaver({ target, media, initialWatchTime: initialWatch, onSaved: saved })

  const video = tokens?.video
  const source: PlayerSource | null =
    tokens && video
    ? {
        streamUrl: video.streamUrl ?? null,
        customDomain: video.customDomain ?? null,
        playbackId,
        tokens: {
          playback: video.token,
          ...(tokens.thumbnail ? { thumbnail: tokens.thumbnail.token } : {}),
          ...(tokens.storyboard ? { storyboard: tokens.storyboard.token } : {}),
        },
      }
    : null
  const poster =
    video?.streamUrl && tokens?.thumbnail
      ? `/mux-local/image/${playbackId}/thumbnail.jpg?token=${tokens.thumbnail.token}`
      : undefined

  return (
    <>
      {error && (
        <p role="alert" className="notice">
          {error}
        </p>
      )}
      <div className="player-box" data-testid="player-box">
        {source && mount ? (
          <Suspense fallback={<div className="player-placeholder" role="status">Loading player…</div>}>
            <Player
              key={mount.key}
              source={source}
              title={title}
              startTime={mount.start}
              autoPlay={mount.autoPlay}
              poster={poster}
              onElement={setMedia}
            />
          </Suspense>
        ) : (
          !error && <div className="player-placeholder" role="status">Loading video…</div>
        )}
      </div>
      {source && (
        <p className="lesson-time" data-testid="lesson-time">
          {formatTime(clock.at)} / {formatTime(clock.of)}
        </p>
      )}
      <p className="lesson-status" role="status" aria-live="polite">
        {status}
        {!status && savedAt && !savedAt.completed && savedAt.positionSeconds > 0 && (
          <>Saved at {formatTime(savedAt.positionSeconds)}</>
        )}
      </p>
    </>
  )
}
