/**
 * Admin editing of a lesson's sub-lessons (role `admin`; the server checks `admin.access`):
 * add, edit, move up/down (each sub-lesson's `order` PATCHed to its new index) and delete.
 * A sub-lesson with a Mux playback id is a part with its own video; without one it is a
 * chapter of the lesson's video at its start time.
 */
import { useState, type FormEvent } from 'react'
import { useQueryClient } from '@tanstack/react-query'
import { api, describe, must } from '../api/client'
import { courseKeys, type Lesson, type SubLesson } from '../api/courses'
import { toast } from '../ui/toast'

function seconds(text: string): number {
  return Math.max(0, Math.round(Number(text) || 0))
}

function SubLessonForm({
  lesson,
  sub,
  onSaved,
  onCancel,
}: {
  lesson: Lesson
  sub?: SubLesson
  onSaved: () => Promise<unknown>
  onCancel?: () => void
}) {
  const [title, setTitle] = useState(sub?.title ?? '')
  const [start, setStart] = useState(String(sub?.startTimeSeconds ?? 0))
  const [playbackId, setPlaybackId] = useState(sub?.muxPlaybackId ?? '')
  const [duration, setDuration] = useState(String(sub?.durationSeconds ?? 0))
  const prefix = sub ? `sub-${sub.id}` : `new-sub-${lesson.id}`

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    const body = {
      title,
      startTimeSeconds: seconds(start),
      muxPlaybackId: playbackId.trim() || null,
      durationSeconds: seconds(duration),
    }
    try {
      if (sub) {
        must(await api.PATCH('/api/workbook/sub-lessons/{subLessonId}', { params: { path: { subLessonId: sub.id } }, body }))
      } else {
        must(
          await api.POST('/api/workbook/lessons/{lessonId}/sub-lessons', {
            params: { path: { lessonId: lesson.id } },
            body: { ...body, order: lesson.subLessons?.length ?? 0 },
          }),
        )
        setTitle('')
        setPlaybackId('')
      }
      await onSaved()
      onCancel?.()
    } catch (err) {
      toast(describe(err), 'error')
    }
  }

  return (
    <form
      className="admin-inline"
      onSubmit={(e) => void submit(e)}
      aria-label={sub ? `Edit sub-lesson ${sub.title}` : `Add a sub-lesson to ${lesson.title}`}
    >
      <label htmlFor={`${prefix}-title`}>Sub-lesson title</label>
      <input id={`${prefix}-title`} className="input" required value={title} onChange={(e) => setTitle(e.target.value)} />
      <label htmlFor={`${prefix}-start`}>Starts at (s)</label>
      <input id={`${prefix}-start`} className="input" type="number" min={0} value={start} onChange={(e) => setStart(e.target.value)} />
      <label htmlFor={`${prefix}-playback`}>Sub-lesson playback id</label>
      <input id={`${prefix}-playback`} className="input" value={playbackId} onChange={(e) => setPlaybackId(e.target.value)} />
      <label htmlFor={`${prefix}-duration`}>Sub-lesson duration (s)</label>
      <input
        id={`${prefix}-duration`}
        className="input"
        type="number"
        min={0}
        value={duration}
        onChange={(e) => setDuration(e.target.value)}
      />
      <button type="submit" className="btn">
        {sub ? 'Save sub-lesson' : 'Add sub-lesson'}
      </button>
      {onCancel && (
        <button type="button" className="btn" onClick={onCancel}>
          Cancel
        </button>
      )}
    </form>
  )
}

export function AdminSubLessons({ moduleId, lesson }: { moduleId: string; lesson: Lesson }) {
  const client = useQueryClient()
  const [editing, setEditing] = useState<string | null>(null)
  const subs = lesson.subLessons ?? []
  const refresh = () =>
    Promise.all([
      client.invalidateQueries({ queryKey: courseKeys.lessons(moduleId) }),
      client.invalidateQueries({ queryKey: courseKeys.lesson(lesson.id) }),
    ])
  const run = async (work: () => Promise<unknown>) => {
    try {
      await work()
      await refresh()
    } catch (err) {
      toast(describe(err), 'error')
    }
  }
  const move = (index: number, delta: number) =>
    run(async () => {
      const order = subs.slice()
      const [moved] = order.splice(index, 1)
      if (!moved) return
      order.splice(index + delta, 0, moved)
      for (const [i, sub] of order.entries()) {
        if (sub.order === i) continue
        must(
          await api.PATCH('/api/workbook/sub-lessons/{subLessonId}', {
            params: { path: { subLessonId: sub.id } },
            body: { order: i },
          }),
        )
      }
    })
  const remove = (sub: SubLesson) =>
    run(async () => {
      if (!confirm(`Delete the sub-lesson "${sub.title}"?`)) return
      must(await api.DELETE('/api/workbook/sub-lessons/{subLessonId}', { params: { path: { subLessonId: sub.id } } }))
    })

  return (
    <>
      <ul className="admin-chapters" aria-label={`Sub-lessons of ${lesson.title}`}>
        {subs.map((sub, i) => (
          <li key={sub.id} className="admin-sub">
            <span className="admin-sub-title">{sub.title}</span>{' '}
            <span className="muted">
              ({sub.startTimeSeconds} s{sub.muxPlaybackId ? `, video ${sub.muxPlaybackId}` : ''})
            </span>{' '}
            <button
              type="button"
              className="btn btn-ghost"
              disabled={i === 0}
              onClick={() => void move(i, -1)}
              aria-label={`Move sub-lesson ${sub.title} up`}
            >
              Up
            </button>
            <button
              type="button"
              className="btn btn-ghost"
              disabled={i === subs.length - 1}
              onClick={() => void move(i, 1)}
              aria-label={`Move sub-lesson ${sub.title} down`}
            >
              Down
            </button>
            <button
              type="button"
              className="btn btn-ghost"
              onClick={() => setEditing((v) => (v === sub.id ? null : sub.id))}
              aria-label={`Edit sub-lesson ${sub.title}`}
            >
              Edit
            </button>
            <button type="button" className="btn btn-ghost" onClick={() => void remove(sub)} aria-label={`Delete sub-lesson ${sub.title}`}>
              Delete
            </button>
            {editing === sub.id && (
              <SubLessonForm lesson={lesson} sub={sub} onSaved={refresh} onCancel={() => setEditing(null)} />
            )}
          </li>
        ))}
      </ul>
      <SubLessonForm lesson={lesson} onSaved={refresh} />
    </>
  )
}
