/** `/courses`: continue watching, module search (after a pause in typing) and difficulty filter. */
import { useEffect, useState } from 'react'
import { Link } from 'react-router'
import { DIFFICULTIES, useModuleProgress, useModules, type Difficulty, type Module } from '../api/courses'
import { describe } from '../api/client'
import { useUser } from '../lib/useSession'
import { Icon } from '../ui/Icon'
import { AdminModuleForm, ModuleMoveButtons } from './Admin'
import { ContinueWatching } from './ContinueWatching'
import './courses.css'

export const SEARCH_DEBOUNCE_MS = 300

function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value)
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms)
    return () => clearTimeout(timer)
  }, [value, ms])
  return settled
}

function lockReason(module: Module): string {
  return module.requiredTier === 'premium' ? 'Premium members only' : 'Not open yet'
}

function ModuleProgressLine({ module }: { module: Module }) {
  const progress = useModuleProgress(module.id, !module.isLocked)
  if (module.isLocked || !progress.data) return null
  const rows = [...progress.data.values()]
  const done = rows.filter((r) => r.completed).length
  if (!rows.length) return <span className="muted">Not started</span>
  return (
    <span className="muted">
      {done} done, {rows.length - done} in progress
    </span>
  )
}

export default function CoursesPage() {
  const user = useUser()
  const [input, setInput] = useState('')
  const [difficulty, setDifficulty] = useState<Difficulty | ''>('')
  const search = useDebounced(input.trim(), SEARCH_DEBOUNCE_MS)
  const modules = useModules(search, difficulty)
  const [creating, setCreating] = useState(false)
  // the course order can be changed where it is shown whole: no search, no filter, one page
  const reorderable =
    user?.role === 'admin' &&
    !search &&
    !difficulty &&
    !modules.isPlaceholderData &&
    modules.data !== undefined &&
    modules.data.total === modules.data.modules.length

  return (
    <main id="main" className="courses-page">
      <div className="courses-head">
        <h1>Courses</h1>
        {user?.role === 'admin' && (
          <button type="button" className="btn btn-primary" onClick={() => setCreating((c) => !c)}>
            <Icon name="plus" /> New module
          </button>
        )}
      </div>
      {creating && <AdminModuleForm onDone={() => setCreating(false)} />}
      <ContinueWatching />
      <div className="course-filters" role="search">
        <label htmlFor="module-search" className="visually-hidden">
          Search modules
        </label>
        <input
          id="module-search"
          type="search"
          className="input"
          placeholder="Search modules"
          value={input}
          onChange={(e) => setInput(e.target.value)}
        />
        <label htmlFor="module-difficulty" className="visually-hidden">
          Difficulty
        </label>
        <select
          id="module-difficulty"
          className="input"
          value={difficulty}
          onChange={(e) => setDifficulty(e.target.value as Difficulty | '')}
        >
          <option value="">Any difficulty</option>
          {DIFFICULTIES.map((d) => (
            <option key={d} value={d}>
              {d.charAt(0).toUpperCase() + d.slice(1)}
            </option>
          ))}
        </select>
      </div>
      {modules.isError && <p role="alert">{describe(modules.error)}</p>}
      {modules.isPending && <p role="status">Loading modules…</p>}
      {modules.data && (
        <>
          <p className="visually-hidden" role="status">
            {modules.data.total} modules
          </p>
          {modules.data.modules.length === 0 && <p className="muted">No modules match.</p>}
          <ul className="module-list" aria-label="Modules">
            {modules.data.modules.map((m, i) => (
              <li key={m.id} className={`module-card${m.isLocked ? ' locked' : ''}`}>
                <h2>
                  <Link to={`/courses/${m.id}`}>{m.title}</Link>
                </h2>
                <p>{m.description}</p>
                <p className="module-meta">
                  <span className={`badge badge-${m.difficulty}`}>{m.difficulty}</span>
                  {m.isLocked ? (
                    <span className="locked-why">
                      <Icon name="lock" /> Locked: {lockReason(m)}
                    </span>
                  ) : (
                    <ModuleProgressLine module={m} />
                  )}
                </p>
                {reorderable && <ModuleMoveButtons modules={modules.data.modules} index={i} />}
              </li>
            ))}
          </ul>
        </>
      )}
    </main>
  )
}
