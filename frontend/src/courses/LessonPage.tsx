/**
 * One lesson: the player, resume, progress, token refresh, completion and the next lesson.
 *
 * Invariants (the production lessons of issue 13):
 * - the start position is decided once per player mount (the server's saved position minus
 *   RESUME_BACK_SECONDS, read when the page opened) and passed as the player's startTime;
 *   a re-render never changes it, and nothing also sets currentTime;
 * - `useProgressSaver` is the only code that saves progress;
 * - a token within REFRESH_MARGIN_S of expiry is replaced before playing, and a player error
 *   for an expired/refused token fetches a new one and remounts the player at the position it
 *   had reached (that remount is the one place a new start position is chosen).
 */
import { lazy, Suspense, useCallback, useEffect, useRef, useState } from 'react'
import { Link, useParams } from 'react-router'
import { useQueryClient } from '@tanstack/react-query'
import type MuxPlayerElement from '@mux/mux-player'
import {
  courseKeys,
  fetchLessonProgress,
  formatTime,
  playbackToken,
  useLesson,
  type LessonDetail,
  type PlaybackToken,
} from '../api/courses'
import { describe } from '../api/client'
import { useProgressSaver, type Saved } from './useProgressSaver'
import type { PlayerSource } from './Player'
import './courses.css'

const Player = lazy(() => import('./Player'))

export const RESUME_BACK_SECONDS = 3
const REFRESH_MARGIN_S = 600
const TOKEN_ERROR_CODES = new Set([2403201, 2403210, 2403221, 2403222, 2403232])

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

async function fetchTokens(playbackId: string, local: boolean): Promise<Tokens> {
  const video = await playbackToken(playbackId, 'video')
  const [thumbnail, storyboard] = await Promise.all([
    playbackToken(playbackId, 'thumbnail').catch(() => undefined),
    local || video.streamUrl ? Promise.resolve(undefined) : playbackToken(playbackId, 'storyboard').catch(() => undefined),
  ])
  return { video, thumbnail, storyboard }
}

const MAX_RECOVERIES = 3

/**
 * Whether a player error means "this token no longer works". Mux's errors carry a muxCode
 * (2403210: expired). A stream played by URL (this server's local stand-in) gets only a
 * network error from the player, so the playlist is asked once more: a 403 is the token.
 */
async function isTokenError(event: Event, streamUrl: string | null): Promise<boolean> {
  const detail = (event as CustomEvent<{ muxCode?: number; code?: number } | undefined>).detail
  if (detail?.muxCode !== undefined && TOKEN_ERROR_CODES.has(detail.muxCode)) return true
  if (!streamUrl) return false
  try {
    return (await fetch(streamUrl, { cache: 'no-store' })).status === 403
  } catch {
    return false
  }
}

export default function LessonPage() {
  const { lessonId = '' } = useParams()
  const lesson = useLesson(lessonId)
  if (lesson.isPending) return <div className="loading" role="status">Loading lesson…</div>
  if (lesson.isError) {
    return (
      <main id="main" className="courses-page">
        <p role="alert">{describe(lesson.error)}</p>
        <Link to="/courses">All courses</Link>
      </main>
    )
  }
  return <LessonView key={lessonId} detail={lesson.data} />
}

function LessonView({ detail }: { detail: LessonDetail }) {
  const { lesson } = detail
  const client = useQueryClient()
  const [saved, setSaved] = useState<Saved | null>(null)
  const [tokens, setTokens] = useState<Tokens | null>(null)
  const [mount, setMount] = useState<Mount | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [media, setMedia] = useState<MuxPlayerElement | null>(null)
  const [status, setStatus] = useState('')
  const [clock, setClock] = useState({ at: 0, of: lesson.durationSeconds })
  const position = useRef(0)
  const recovering = useRef(false)
  const tokensRef = useRef<Tokens | null>(null)
  tokensRef.current = tokens
  const playbackId = lesson.muxPlaybackId

  // once per page: the saved progress decides the first start position; tokens for the video
  useEffect(() => {
    if (!playbackId) return
    let cancelled = false
    void (async () => {
      try {
        const [progress, fetched] = await Promise.all([fetchLessonProgress(lesson.id), fetchTokens(playbackId, false)])
        if (cancelled) return
        const duration = lesson.durationSeconds
        const resumable = progress.positionSeconds > 0 && !(duration && progress.positionSeconds >= duration * 0.95)
        const start = resumable ? Math.max(0, progress.positionSeconds - RESUME_BACK_SECONDS) : 0
        position.current = start
        setSaved(progress)
        setTokens(fetched)
        setMount({ key: 0, start, autoPlay: false })
      } catch (err) {
        if (!cancelled) setError(describe(err))
      }
    })()
    return () => {
      cancelled = true
    }
  }, [lesson.id, lesson.durationSeconds, playbackId])

  /** New tokens, then a new player at `start` (the only other place a start is chosen). */
  const remount = useCallback(
    async (start: number, autoPlay: boolean, why: string) => {
      if (!playbackId || recovering.current) return
      recovering.current = true
      setStatus(why)
      try {
        const fresh = await fetchTokens(playbackId, false)
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
      const of = Number.isFinite(media.duration) && media.duration > 0 ? media.duration : lesson.durationSeconds
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
  }, [media, remount, lesson.durationSeconds])


  const recoveries = useRef(0)
  const probing = useRef(false)
  const onPlayerError = useCallback(
    (event: Event) => {
      const wasPlaying = media ? !media.paused : false
      const streamUrl = tokensRef.current?.video.streamUrl ?? null
      if (probing.current) return
      probing.current = true
      void isTokenError(event, streamUrl).then((expired) => {
        probing.current = false
        if (!expired || recoveries.current >= MAX_RECOVERIES) return
        recoveries.current += 1
        void remount(position.current, wasPlaying, 'The video link expired; getting a new one…')
      })
    },
    [media, remount],
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

  const onSaved = useCallback(
    (progress: Saved) => {
      setSaved(progress)
      void client.invalidateQueries({ queryKey: courseKeys.moduleProgress(detail.moduleId) })
      void client.invalidateQueries({ queryKey: courseKeys.continue })
    },
    [client, detail.moduleId],
  )
  useProgressSaver({
    target: { kind: 'lesson', id: lesson.id },
    media,
    initialWatchTime: saved?.watchTimeSeconds ?? 0,
    onSaved,
  })

  const completed = saved?.completed ?? false
  const source: PlayerSource | null =
    tokens && playbackId
      ? {
          streamUrl: tokens.video.streamUrl ?? null,
          playbackId,
          tokens: {
            playback: tokens.video.token,
            ...(tokens.thumbnail ? { thumbnail: tokens.thumbnail.token } : {}),
            ...(tokens.storyboard ? { storyboard: tokens.storyboard.token } : {}),
          },
        }
      : null
  const poster =
    tokens?.video.streamUrl && tokens.thumbnail && playbackId
      ? `/mux-local/image/${playbackId}/thumbnail.jpg?token=${tokens.thumbnail.token}`
      : undefined

  return (
    <main id="main" className="courses-page lesson-page">
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to="/courses">Courses</Link> <span aria-hidden="true">/</span>{' '}
        <Link to={`/courses/${detail.moduleId}`}>{detail.moduleTitle}</Link>
      </nav>
      <h1>{lesson.title}</h1>
      {lesson.videoStatus === 'preparing' && <p className="notice">This video is still being prepared.</p>}
      {lesson.videoStatus === 'errored' && <p className="notice" role="alert">This video failed: {lesson.videoError}</p>}
      {!playbackId && <p className="notice">This lesson has no video yet.</p>}
      {error && <p role="alert" className="notice">{error}</p>}
      <div className="player-box" data-testid="player-box">
        {source && mount ? (
          <Suspense fallback={<div className="player-placeholder" role="status">Loading player…</div>}>
            <Player
              key={mount.key}
              source={source}
              title={lesson.title}
              startTime={mount.start}
              autoPlay={mount.autoPlay}
              poster={poster}
              onElement={setMedia}
            />
          </Suspense>
        ) : (
          playbackId && !error && <div className="player-placeholder" role="status">Loading video…</div>
        )}
      </div>
      {source && (
        <p className="lesson-time" data-testid="lesson-time">
          {formatTime(clock.at)} / {formatTime(clock.of)}
        </p>
      )}
      <p className="lesson-status" role="status" aria-live="polite">
        {status}
        {!status && saved && !completed && saved.positionSeconds > 0 && (
          <>Saved at {formatTime(saved.positionSeconds)}</>
        )}
      </p>
      {completed && (
        <div className="completed-box" data-testid="completed">
          <span aria-hidden="true">✓</span> <strong>Completed</strong>
          {detail.nextLessonId ? (
            <Link className="btn btn-primary" to={`/lessons/${detail.nextLessonId}`}>
              Next lesson
            </Link>
          ) : (
            <Link className="btn" to={`/courses/${detail.moduleId}`}>
              Back to the module
            </Link>
          )}
        </div>
      )}
      {lesson.description && <p className="lesson-description">{lesson.description}</p>}
      {lesson.subLessons && lesson.subLessons.length > 0 && (
        <section aria-labelledby="chapters-h">
          <h2 id="chapters-h">Chapters</h2>
          <ol className="chapters">
            {lesson.subLessons.map((sub) => (
              <li key={sub.id}>
                <span>{sub.title}</span> <span className="muted">{formatTime(sub.startTimeSeconds)}</span>
              </li>
            ))}
          </ol>
        </section>
      )}
      <nav aria-label="Lessons" className="lesson-nav">
        {detail.previousLessonId && <Link to={`/lessons/${detail.previousLessonId}`}>Previous lesson</Link>}
        {detail.nextLessonId && <Link to={`/lessons/${detail.nextLessonId}`}>Next lesson</Link>}
      </nav>
    </main>
  )
}
