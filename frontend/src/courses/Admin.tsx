/**
 * Admin editing (role `admin`; the server checks `admin.access` on every write): modules,
 * lessons (reorder with up/down through `PUT .../lessons/order`), sub-lessons, playback ids.
 */
import { useState, type FormEvent } from 'react'
import { useNavigate } from 'react-router'
import { useQueryClient } from '@tanstack/react-query'
import { api, describe, must } from '../api/client'
import { courseKeys, DIFFICULTIES, type Difficulty, type Lesson, type Module } from '../api/courses'
import { toast } from '../ui/toast'
import { AdminSubLessons } from './AdminSubLessons'
import type { components } from '../api/schema'

type ModuleBody = components['schemas']['ModuleCreate']
type ModuleContent = NonNullable<ModuleBody['content']>

function lines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
}

function contentList(module: Module | undefined, key: string): string {
  const value = module?.content?.[key]
  return Array.isArray(value) ? value.filter((v) => typeof v === 'string').join('\n') : ''
}

/** Create a module, or edit `module`. */
export function AdminModuleForm({ module, onDone }: { module?: Module; onDone: () => void }) {
  const client = useQueryClient()
  const navigate = useNavigate()
  const [title, setTitle] = useState(module?.title ?? '')
  const [description, setDescription] = useState(module?.description ?? '')
  const [difficulty, setDifficulty] = useState<Difficulty>(module?.difficulty ?? 'beginner')
  const [tier, setTier] = useState<'free' | 'premium'>(module?.requiredTier ?? 'free')
  const [objectives, setObjectives] = useState(contentList(module, 'objectives'))
  const [materials, setMaterials] = useState(contentList(module, 'materials'))
  const [busy, setBusy] = useState(false)
  const prefix = module ? `edit-${module.id}` : 'new-module'

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    setBusy(true)
    const content: ModuleContent = { ...(module?.content ?? {}), objectives: lines(objectives), materials: lines(materials) }
    const body: ModuleBody = { title, description, difficulty, requiredTier: tier, content }
    try {
      if (module) {
        must(await api.PATCH('/api/workbook/modules/{moduleId}', { params: { path: { moduleId: module.id } }, body }))
        toast('Module saved')
      } else {
        const created = must(await api.POST('/api/workbook/modules', { body })).module
        toast('Module created')
        navigate(`/courses/${created.id}`)
      }
      await client.invalidateQueries({ queryKey: courseKeys.all })
      onDone()
    } catch (err) {
      toast(describe(err), 'error')
    } finally {
      setBusy(false)
    }
  }

  return (
    <form className="admin-form" onSubmit={(e) => void submit(e)} aria-label={module ? 'Edit module' : 'New module'}>
      <label htmlFor={`${prefix}-title`}>Module title</label>
      <input id={`${prefix}-title`} className="input" required value={title} onChange={(e) => setTitle(e.target.value)} />
      <label htmlFor={`${prefix}-desc`}>Description</label>
      <textarea id={`${prefix}-desc`} className="input" value={description} onChange={(e) => setDescription(e.target.value)} />
      <label htmlFor={`${prefix}-difficulty`}>Module difficulty</label>
      <select
        id={`${prefix}-difficulty`}
        className="input"
        value={difficulty}
        onChange={(e) => setDifficulty(e.target.value as Difficulty)}
      >
        {DIFFICULTIES.map((d) => (
          <option key={d} value={d}>
            {d}
          </option>
        ))}
      </select>
      <label htmlFor={`${prefix}-tier`}>Who may watch</label>
      <select id={`${prefix}-tier`} className="input" value={tier} onChange={(e) => setTier(e.target.value as 'free' | 'premium')}>
        <option value="free">Everyone</option>
        <option value="premium">Premium members</option>
      </select>
      <label htmlFor={`${prefix}-objectives`}>Objectives (one a line)</label>
      <textarea id={`${prefix}-objectives`} className="input" value={objectives} onChange={(e) => setObjectives(e.target.value)} />
      <label htmlFor={`${prefix}-materials`}>Materials (one a line)</label>
      <textarea id={`${prefix}-materials`} className="input" value={materials} onChange={(e) => setMaterials(e.target.value)} />
      <div className="admin-actions">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {module ? 'Save module' : 'Create module'}
        </button>
        <button type="button" className="btn" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  )
}

export function DeleteModuleButton({ module }: { module: Module }) {
  const client = useQueryClient()
  const navigate = useNavigate()
  const remove = async () => {
    if (!confirm(`Delete the module "${module.title}" and its lessons?`)) return
    try {
      must(await api.DELETE('/api/workbook/modules/{moduleId}', { params: { path: { moduleId: module.id } } }))
      await client.invalidateQueries({ queryKey: courseKeys.all })
      navigate('/courses')
    } catch (err) {
      toast(describe(err), 'error')
    }
  }
  return (
    <button type="button" className="btn btn-danger" onClick={() => void remove()}>
      Delete module
    </button>
  )
}

/** New lesson, or edit one: title, Mux playback id, duration. */
export function AdminLessonForm({ moduleId, lesson, onDone }: { moduleId: string; lesson?: Lesson; onDone: () => void }) {
  const client = useQueryClient()
  const [title, setTitle] = useState(lesson?.title ?? '')
  const [playbackId, setPlaybackId] = useState(lesson?.muxPlaybackId ?? '')
  const [duration, setDuration] = useState(String(lesson?.durationSeconds ?? 0))
  const prefix = lesson ? `lesson-${lesson.id}` : 'new-lesson'

  const submit = async (e: FormEvent) => {
    e.preventDefault()
    const body = {
      title,
      muxPlaybackId: playbackId.trim() || null,
      durationSeconds: Math.max(0, Math.round(Number(duration) || 0)),
    }
    try {
      if (lesson) {
        must(await api.PATCH('/api/workbook/lessons/{lessonId}', { params: { path: { lessonId: lesson.id } }, body }))
      } else {
        must(
          await api.POST('/api/workbook/modules/{moduleId}/lessons', {
            params: { path: { moduleId } },
            body: { ...body, order: 1_000_000 - 1 },
          }),
        )
      }
      await client.invalidateQueries({ queryKey: courseKeys.lessons(moduleId) })
      onDone()
    } catch (err) {
      toast(describe(err), 'error')
    }
  }

  return (
    <form className="admin-form" onSubmit={(e) => void submit(e)} aria-label={lesson ? `Edit ${lesson.title}` : 'New lesson'}>
      <label htmlFor={`${prefix}-title`}>Lesson title</label>
      <input id={`${prefix}-title`} className="input" required value={title} onChange={(e) => setTitle(e.target.value)} />
      <label htmlFor={`${prefix}-playback`}>Mux playback id</label>
      <input id={`${prefix}-playback`} className="input" value={playbackId} onChange={(e) => setPlaybackId(e.target.value)} />
      <label htmlFor={`${prefix}-duration`}>Duration (seconds)</label>
      <input
        id={`${prefix}-duration`}
        className="input"
        type="number"
        min={0}
        value={duration}
        onChange={(e) => setDuration(e.target.value)}
      />
      <div className="admin-actions">
        <button type="submit" className="btn btn-primary">
          {lesson ? 'Save lesson' : 'Add lesson'}
        </button>
        <button type="button" className="btn" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  )
}

/** Up/down/edit/delete for one lesson, and its sub-lessons (AdminSubLessons). */
export function AdminLessonTools({
  moduleId,
  lessons,
  lesson,
  index,
}: {
  moduleId: string
  lessons: Lesson[]
  lesson: Lesson
  index: number
}) {
  const client = useQueryClient()
  const [editing, setEditing] = useState(false)
  const refresh = () => client.invalidateQueries({ queryKey: courseKeys.lessons(moduleId) })
  const run = async (work: () => Promise<unknown>) => {
    try {
      await work()
      await refresh()
    } catch (err) {
      toast(describe(err), 'error')
    }
  }
  const move = (delta: number) =>
    run(async () => {
      const ids = lessons.map((l) => l.id)
      ids.splice(index, 1)
      ids.splice(index + delta, 0, lesson.id)
      must(
        await api.PUT('/api/workbook/modules/{moduleId}/lessons/order', {
          params: { path: { moduleId } },
          body: { lessonIds: ids },
        }),
      )
    })
  const remove = () =>
    run(async () => {
      if (!confirm(`Delete the lesson "${lesson.title}"?`)) return
      must(await api.DELETE('/api/workbook/lessons/{lessonId}', { params: { path: { lessonId: lesson.id } } }))
    })
  return (
    <div className="admin-lesson">
      <p className="muted">
        Video: {lesson.muxPlaybackId ?? 'none'} · status {lesson.videoStatus ?? 'not reported'}
        {lesson.videoError ? ` (${lesson.videoError})` : ''}
      </p>
      <div className="admin-actions">
        <button type="button" className="btn" disabled={index === 0} onClick={() => void move(-1)} aria-label={`Move ${lesson.title} up`}>
          Up
        </button>
        <button
          type="button"
          className="btn"
          disabled={index === lessons.length - 1}
          onClick={() => void move(1)}
          aria-label={`Move ${lesson.title} down`}
        >
          Down
        </button>
        <button type="button" className="btn" onClick={() => setEditing((v) => !v)} aria-label={`Edit ${lesson.title}`}>
          Edit
        </button>
        <button type="button" className="btn btn-danger" onClick={() => void remove()} aria-label={`Delete ${lesson.title}`}>
          Delete
        </button>
      </div>
      {editing && <AdminLessonForm moduleId={moduleId} lesson={lesson} onDone={() => setEditing(false)} />}
      <AdminSubLessons moduleId={moduleId} lesson={lesson} />
    </div>
  )
}

/**
 * Up/down for a module in the course order (shown on the unfiltered list): every module whose
 * place changes gets its new index as `order` (`PATCH /api/workbook/modules/{id}`).
 */
export function ModuleMoveButtons({ modules, index }: { modules: Module[]; index: number }) {
  const client = useQueryClient()
  const module = modules[index]
  if (!module) return null
  const move = async (delta: number) => {
    const order = modules.slice()
    order.splice(index, 1)
    order.splice(index + delta, 0, module)
    try {
      for (const [i, m] of order.entries()) {
        if (m.order === i) continue
        must(await api.PATCH('/api/workbook/modules/{moduleId}', { params: { path: { moduleId: m.id } }, body: { order: i } }))
      }
    } catch (err) {
      toast(describe(err), 'error')
    }
    await client.invalidateQueries({ queryKey: courseKeys.all })
  }
  return (
    <span className="admin-actions">
      <button
        type="button"
        className="btn btn-ghost"
        disabled={index === 0}
        onClick={() => void move(-1)}
        aria-label={`Move module ${module.title} up`}
      >
        Up
      </button>
      <button
        type="button"
        className="btn btn-ghost"
        disabled={index === modules.length - 1}
        onClick={() => void move(1)}
        aria-label={`Move module ${module.title} down`}
      >
        Down
      </button>
    </span>
  )
}
