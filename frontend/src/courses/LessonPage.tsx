/**
 * `/lessons/:lessonId`: a lesson's video, its chapters and its parts; and
 * `/lessons/:lessonId/parts/:subLessonId`: one part (a sub-lesson with a video of its own).
 *
 * Either route shows exactly one `Video` (resume, the one progress saver, token refresh): the
 * lesson's, saving to the lesson's progress, or the part's, saving to the sub-lesson's.
 * A sub-lesson without a playback id is a chapter of the lesson's video (its start time).
 */
import { useCallback, useState } from 'react'
import { Link, useParams } from 'react-router'
import { useQueries, useQueryClient } from '@tanstack/react-query'
import {
  courseKeys,
  fetchSubLessonProgress,
  formatTime,
  useLesson,
  type LessonDetail,
  type SubLesson,
} from '../api/courses'
import { describe } from '../api/client'
import type { Saved } from './useProgressSaver'
import { Video } from './Video'
import './courses.css'

export default function LessonPage() {
  const { lessonId = '', subLessonId } = useParams()
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
  if (subLessonId) {
    const parts = playableParts(lesson.data)
    const index = parts.findIndex((p) => p.id === subLessonId)
    if (index < 0) {
      return (
        <main id="main" className="courses-page">
          <p role="alert">This part does not exist (or has no video).</p>
          <Link to={`/lessons/${lessonId}`}>Back to the lesson</Link>
        </main>
      )
    }
    return <PartView key={subLessonId} detail={lesson.data} part={parts[index]!} parts={parts} index={index} />
  }
  return <LessonView key={lessonId} detail={lesson.data} />
}

function playableParts(detail: LessonDetail): SubLesson[] {
  return (detail.lesson.subLessons ?? []).filter((s) => s.muxPlaybackId)
}

function partPath(detail: LessonDetail, part: SubLesson): string {
  return `/lessons/${detail.lesson.id}/parts/${part.id}`
}

function stateOf(progress: Saved | undefined): { text: string; done: boolean } {
  if (progress?.completed) return { text: 'Completed', done: true }
  if (progress && progress.positionSeconds > 0) return { text: `At ${formatTime(progress.positionSeconds)}`, done: false }
  return { text: 'Not started', done: false }
}

function Crumbs({ detail, lessonLink }: { detail: LessonDetail; lessonLink: boolean }) {
  return (
    <nav aria-label="Breadcrumb" className="crumbs">
      <Link to="/courses">Courses</Link> <span aria-hidden="true">/</span>{' '}
      <Link to={`/courses/${detail.moduleId}`}>{detail.moduleTitle}</Link>
      {lessonLink && (
        <>
          {' '}
          <span aria-hidden="true">/</span> <Link to={`/lessons/${detail.lesson.id}`}>{detail.lesson.title}</Link>
        </>
      )}
    </nav>
  )
}

function VideoNotices({ status, error, playbackId }: { status?: string | null; error?: string | null; playbackId?: string | null }) {
  return (
    <>
      {status === 'preparing' && <p className="notice">This video is still being prepared.</p>}
      {status === 'errored' && (
        <p className="notice" role="alert">
          This video failed: {error}
        </p>
      )}
      {!playbackId && <p className="notice">This lesson has no video yet.</p>}
    </>
  )
}

function LessonView({ detail }: { detail: LessonDetail }) {
  const { lesson } = detail
  const client = useQueryClient()
  const [saved, setSaved] = useState<Saved | null>(null)
  const subs = lesson.subLessons ?? []
  const parts = playableParts(detail)
  const chapters = subs.filter((s) => !s.muxPlaybackId)
  const partProgress = useQueries({
    queries: parts.map((part) => ({
      queryKey: courseKeys.subLessonProgress(part.id),
      queryFn: () => fetchSubLessonProgress(part.id),
      staleTime: 0,
    })),
  })

  const onSaved = useCallback(() => {
    void client.invalidateQueries({ queryKey: courseKeys.moduleProgress(detail.moduleId) })
    void client.invalidateQueries({ queryKey: courseKeys.continue })
  }, [client, detail.moduleId])

  const completed = saved?.completed ?? false
  const firstPart = parts[0]
  return (
    <main id="main" className="courses-page lesson-page">
      <Crumbs detail={detail} lessonLink={false} />
      <h1>{lesson.title}</h1>
      <VideoNotices status={lesson.videoStatus} error={lesson.videoError} playbackId={lesson.muxPlaybackId} />
      {lesson.muxPlaybackId && (
        <Video
          target={{ kind: 'lesson', id: lesson.id }}
          playbackId={lesson.muxPlaybackId}
          title={lesson.title}
          durationSeconds={lesson.durationSeconds}
          onProgress={setSaved}
          onSaved={onSaved}
        />
      )}
      {completed && (
        <div className="completed-box" data-testid="completed">
          <span aria-hidden="true">✓</span> <strong>Completed</strong>
          {firstPart && !stateOf(partProgress[0]?.data).done ? (
            <Link className="btn btn-primary" to={partPath(detail, firstPart)}>
              First part
            </Link>
          ) : detail.nextLessonId ? (
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
      {parts.length > 0 && (
        <section aria-labelledby="parts-h">
          <h2 id="parts-h">Parts</h2>
          <ol className="lesson-list" aria-label="Parts">
            {parts.map((part, i) => {
              const state = stateOf(partProgress[i]?.data)
              return (
                <li key={part.id} className="lesson-row part-row">
                  <div className="lesson-row-main">
                    <Link to={partPath(detail, part)}>{part.title}</Link>
                    <span className="muted">{formatTime(part.durationSeconds)}</span>
                    <span className={`lesson-state${state.done ? ' done' : ''}`}>{state.text}</span>
                  </div>
                </li>
              )
            })}
          </ol>
        </section>
      )}
      {chapters.length > 0 && (
        <section aria-labelledby="chapters-h">
          <h2 id="chapters-h">Chapters</h2>
          <ol className="chapters">
            {chapters.map((sub) => (
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

function PartView({ detail, part, parts, index }: { detail: LessonDetail; part: SubLesson; parts: SubLesson[]; index: number }) {
  const client = useQueryClient()
  const [saved, setSaved] = useState<Saved | null>(null)
  const onSaved = useCallback(
    (progress: Saved) => client.setQueryData(courseKeys.subLessonProgress(part.id), progress),
    [client, part.id],
  )
  const previous = parts[index - 1]
  const next = parts[index + 1]
  return (
    <main id="main" className="courses-page lesson-page">
      <Crumbs detail={detail} lessonLink />
      <h1>{part.title}</h1>
      <p className="muted">
        Part {index + 1} of {parts.length} of {detail.lesson.title}
      </p>
      <VideoNotices status={part.videoStatus} error={part.videoError} playbackId={part.muxPlaybackId} />
      {part.muxPlaybackId && (
        <Video
          target={{ kind: 'subLesson', id: part.id }}
          playbackId={part.muxPlaybackId}
          title={part.title}
          durationSeconds={part.durationSeconds}
          onProgress={setSaved}
          onSaved={onSaved}
        />
      )}
      {saved?.completed && (
        <div className="completed-box" data-testid="completed">
          <span aria-hidden="true">✓</span> <strong>Completed</strong>
          {next ? (
            <Link className="btn btn-primary" to={partPath(detail, next)}>
              Next part
            </Link>
          ) : (
            <Link className="btn" to={`/lessons/${detail.lesson.id}`}>
              Back to the lesson
            </Link>
          )}
        </div>
      )}
      <nav aria-label="Parts" className="lesson-nav">
        {previous && <Link to={partPath(detail, previous)}>Previous part</Link>}
        {next && <Link to={partPath(detail, next)}>Next part</Link>}
        <Link to={`/lessons/${detail.lesson.id}`}>Whole lesson</Link>
      </nav>
    </main>
  )
}
