/**
 * The one owner of saving video progress. It listens to the media element and saves
 * `{positionSeconds, watchTimeSeconds, clientTimestamp}`: every 15 s while playing, and on
 * pause, seeked, ended, the tab going hidden, page hide (and beforeunload: a keepalive fetch
 * started there survives a navigation more reliably than one started in pagehide) and
 * unmount. The server merges saves idempotently (position last-write-wins by clientTimestamp,
 * watch time never goes down), so an extra or repeated save is harmless.
 *
 * Watch time is the TOTAL across sessions: it starts from the stored value and grows by the
 * media time actually played (a seek adds nothing). Saves at page hide use `fetch(keepalive)`
 * with the in-memory access token: the API authenticates with `Authorization: Bearer`, which
 * `sendBeacon` cannot carry.
 */
import { useEffect, useRef } from 'react'
import { api, must, type Schemas } from '../api/client'
import { token } from '../lib/session'

export const SAVE_EVERY_MS = 15_000

export type Saved = Schemas['VideoProgressOut']
export type Target = { kind: 'lesson' | 'subLesson'; id: string }

/** What the saver reads of the player (a <video> or <mux-player>). */
export interface MediaLike extends EventTarget {
  currentTime: number
  paused: boolean
  playbackRate: number
}

interface Options {
  target: Target
  media: MediaLike | null
  /** The stored total watch time, read once when the page opened. */
  initialWatchTime: number
  onSaved: (saved: Saved) => void
}

function url(target: Target): string {
  return target.kind === 'lesson' ? `/api/progress/lessons/${target.id}` : `/api/progress/sub-lessons/${target.id}`
}

export function useProgressSaver({ target, media, initialWatchTime, onSaved }: Options): void {
  const watched = useRef(initialWatchTime)
  const initial = useRef(initialWatchTime)
  initial.current = initialWatchTime
  const onSavedRef = useRef(onSaved)
  onSavedRef.current = onSaved

  useEffect(() => {
    if (!media) return
    // the stored total (read after the first render) never goes down
    watched.current = Math.max(watched.current, initial.current)
    let last = media.currentTime
    let playing = !media.paused
    let dirty = false
    // the player forgets its position once it leaves the page (an unmount's cleanup runs after
    // the element is removed): the last position it reported while connected is used then
    let known = media.currentTime || 0
    const position = () => {
      const detached = 'isConnected' in media && !(media as unknown as Node).isConnected
      return detached ? known : media.currentTime || 0
    }

    const body = () => ({
      positionSeconds: Math.max(0, position()),
      watchTimeSeconds: watched.current,
      clientTimestamp: Date.now(),
    })

    const save = async () => {
      dirty = false
      const data = body()
      const result =
        target.kind === 'lesson'
          ? await api.POST('/api/progress/lessons/{lessonId}', { params: { path: { lessonId: target.id } }, body: data })
          : await api.POST('/api/progress/sub-lessons/{subLessonId}', {
              params: { path: { subLessonId: target.id } },
              body: data,
            })
      onSavedRef.current(must(result).progress)
    }
    const saveSoon = () => void save().catch(() => (dirty = true))

    /** A save that outlives the page (tab closed, navigation away). */
    const saveOnExit = () => {
      const access = token()
      if (!access) return
      dirty = false
      void fetch(url(target), {
        method: 'POST',
        keepalive: true,
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${access}` },
        body: JSON.stringify(body()),
      }).catch(() => undefined)
    }

    const onTime = () => {
      const now = media.currentTime
      known = now
      const step = now - last
      // played media time only: a seek jumps further than a timeupdate interval
      if (playing && step > 0 && step < 1.5 * Math.max(1, media.playbackRate)) {
        watched.current += step
        dirty = true
      }
      last = now
    }
    const onPlay = () => {
      playing = true
      last = media.currentTime
    }
    const onPause = () => {
      playing = false
      saveSoon()
    }
    const onSeeking = () => {
      last = media.currentTime
    }
    const onSeeked = () => {
      last = media.currentTime
      known = last
      saveSoon()
    }
    const onEnded = () => {
      playing = false
      saveSoon()
    }
    const onVisibility = () => {
      if (document.visibilityState === 'hidden') saveOnExit()
    }
    const timer = setInterval(() => {
      if (playing || dirty) saveSoon()
    }, SAVE_EVERY_MS)

    media.addEventListener('timeupdate', onTime)
    media.addEventListener('play', onPlay)
    media.addEventListener('pause', onPause)
    media.addEventListener('seeking', onSeeking)
    media.addEventListener('seeked', onSeeked)
    media.addEventListener('ended', onEnded)
    document.addEventListener('visibilitychange', onVisibility)
    window.addEventListener('pagehide', saveOnExit)
    window.addEventListener('beforeunload', saveOnExit)
    return () => {
      clearInterval(timer)
      media.removeEventListener('timeupdate', onTime)
      media.removeEventListener('play', onPlay)
      media.removeEventListener('pause', onPause)
      media.removeEventListener('seeking', onSeeking)
      media.removeEventListener('seeked', onSeeked)
      media.removeEventListener('ended', onEnded)
      document.removeEventListener('visibilitychange', onVisibility)
      window.removeEventListener('pagehide', saveOnExit)
      window.removeEventListener('beforeunload', saveOnExit)
      // leaving the lesson inside the app (or a player remount) saves where it stood
      if (position() > 0) saveOnExit()
    }
  }, [media, target.kind, target.id])
}
