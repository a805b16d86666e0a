/** `/courses/:moduleId`: objectives, materials, exercises, lessons with my progress on each. */
import { useState } from 'react'
import { Link, useParams } from 'react-router'
import { formatTime, useLessons, useModule, useModuleProgress, type Module } from '../api/courses'
import { describe } from '../api/client'
import { useUser } from '../lib/useSession'
import { Icon } from '../ui/Icon'
import { AdminLessonForm, AdminLessonTools, AdminModuleForm, DeleteModuleButton } from './Admin'
import './courses.css'

function strings(module: Module, key: string): string[] {
  const value = module.content?.[key]
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []
}

function exercises(module: Module): { title: string; prompt: string }[] {
  const value = module.content?.exercises
  if (!Array.isArray(value)) return []
  return value
    .filter((v): v is Record<string, unknown> => typeof v === 'object' && v !== null)
    .map((v) => ({ title: String(v.title ?? ''), prompt: String(v.prompt ?? '') }))
}

export default function ModulePage() {
  const { moduleId = '' } = useParams()
  const user = useUser()
  const admin = user?.role === 'admin'
  const module = useModule(moduleId)
  const open = module.data !== undefined && !module.data.isLocked
  const lessons = useLessons(moduleId, open)
  const progress = useModuleProgress(moduleId, open)
  const [editing, setEditing] = useState(false)
  const [adding, setAdding] = useState(false)

  if (module.isPending) return <div className="loading" role="status">Loading module…</div>
  if (module.isError)
    return (
      <main id="main" className="courses-page">
        <p role="alert">{describe(module.error)}</p>
        <Link to="/courses">All courses</Link>
      </main>
    )
  const m = module.data
  const objectives = strings(m, 'objectives')
  const materials = strings(m, 'materials')
  const tasks = exercises(m)

  return (
    <main id="main" className="courses-page module-page">
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to="/courses">Courses</Link>
      </nav>
      <h1>{m.title}</h1>
      <p>{m.description}</p>
      <p className="module-meta">
        <span className={`badge badge-${m.difficulty}`}>{m.difficulty}</span>
        {m.requiredTier === 'premium' && <span className="badge">premium</span>}
      </p>
      {admin && (
        <div className="admin-actions">
          <button type="button" className="btn" onClick={() => setEditing((v) => !v)}>
            Edit module
          </button>
          <DeleteModuleButton module={m} />
        </div>
      )}
      {editing && <AdminModuleForm module={m} onDone={() => setEditing(false)} />}
      {m.isLocked && (
        <p className="locked-why notice" role="note">
          <Icon name="lock" /> This module is locked:{' '}
          {m.requiredTier === 'premium' ? 'it is for premium members. Upgrade to watch it.' : 'it is not open yet.'}
        </p>
      )}
      <div className="module-columns">
        {objectives.length > 0 && (
          <section aria-labelledby="objectives-h">
            <h2 id="objectives-h">Objectives</h2>
            <ul>{objectives.map((o) => <li key={o}>{o}</li>)}</ul>
          </section>
        )}
        {materials.length > 0 && (
          <section aria-labelledby="materials-h">
            <h2 id="materials-h">Materials</h2>
            <ul>{materials.map((o) => <li key={o}>{o}</li>)}</ul>
          </section>
        )}
        {tasks.length > 0 && (
          <section aria-labelledby="exercises-h">
            <h2 id="exercises-h">Exercises</h2>
            <ul>
              {tasks.map((t) => (
                <li key={t.title}>
                  <strong>{t.title}</strong>: {t.prompt}
                </li>
              ))}
            </ul>
          </section>
        )}
      </div>
      {open && (
        <section aria-labelledby="lessons-h">
          <h2 id="lessons-h">Lessons</h2>
          {lessons.isError && <p role="alert">{describe(lessons.error)}</p>}
          <ol className="lesson-list">
            {lessons.data?.map((lesson, i) => {
              const p = progress.data?.get(lesson.id)
              const state = p?.completed ? 'Completed' : p && p.positionSeconds > 0 ? `At ${formatTime(p.positionSeconds)}` : 'Not started'
              return (
                <li key={lesson.id} className="lesson-row" data-lesson-id={lesson.id}>
                  <div className="lesson-row-main">
                    <Link to={`/lessons/${lesson.id}`}>{lesson.title}</Link>
                    <span className="muted">{formatTime(lesson.durationSeconds)}</span>
                    <span className={`lesson-state${p?.completed ? ' done' : ''}`}>{state}</span>
                  </div>
                  {lesson.durationSeconds > 0 && (
                    <progress
                      max={lesson.durationSeconds}
                      value={p?.completed ? lesson.durationSeconds : Math.min(p?.positionSeconds ?? 0, lesson.durationSeconds)}
                      aria-label={`${lesson.title} progress`}
                    />
                  )}
                  {admin && <AdminLessonTools moduleId={moduleId} lessons={lessons.data} lesson={lesson} index={i} />}
                </li>
              )
            })}
          </ol>
          {lessons.data?.length === 0 && <p className="muted">No lessons yet.</p>}
          {admin &&
            (adding ? (
              <AdminLessonForm moduleId={moduleId} onDone={() => setAdding(false)} />
            ) : (
              <button type="button" className="btn btn-primary" onClick={() => setAdding(true)}>
                <Icon name="plus" /> New lesson
              </button>
            ))}
        </section>
      )}
    </main>
  )
}
