/** `/sessions`: upcoming / live / past / mine, scheduling for hosts, join. */
import { useEffect, useState, type FormEvent } from 'react'
import { Link, useNavigate } from 'react-router'
import { useQueryClient } from '@tanstack/react-query'
import { canHost, createSession, sessionKeys, useMe, useSessionList, type SessionFilter } from '../api/sessions'
import { describe } from '../api/client'
import { useUser } from '../lib/useSession'
import './sessions.css'

const FILTERS: { id: SessionFilter; label: string }[] = [
  { id: 'upcoming', label: 'Upcoming' },
  { id: 'live', label: 'Live' },
  { id: 'past', label: 'Past' },
  { id: 'mine', label: 'Mine' },
]

const STATUS: Record<string, string> = {
  scheduled: 'Scheduled',
  waiting: 'Waiting',
  live: 'Live now',
  ended: 'Ended',
  cancelled: 'Cancelled',
}

function localInput(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`
}

function ScheduleForm({ onDone }: { onDone: (id: string) => void }) {
  const start = new Date(Date.now() + 15 * 60_000)
  const [title, setTitle] = useState('')
  const [description, setDescription] = useState('')
  const [from, setFrom] = useState(localInput(start))
  const [minutes, setMinutes] = useState(60)
  const [anonymous, setAnonymous] = useState(true)
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)

  const submit = async (event: FormEvent) => {
    event.preventDefault()
    setBusy(true)
    setError('')
    try {
      const begin = new Date(from)
      const created = await createSession({
        title,
        description: description || null,
        scheduledStart: begin.toISOString(),
        scheduledEnd: new Date(begin.getTime() + minutes * 60_000).toISOString(),
        settings: { anonymousQuestions: anonymous },
      })
      onDone(created.session.id)
    } catch (err) {
      setError(describe(err))
    } finally {
      setBusy(false)
    }
  }

  return (
    <form className="schedule-form card" onSubmit={(e) => void submit(e)} aria-labelledby="schedule-title">
      <h2 id="schedule-title">Schedule a session</h2>
      <label>
        Session title
        <input className="input" required maxLength={255} value={title} onChange={(e) => setTitle(e.target.value)} />
      </label>
      <label>
        Description
        <textarea className="input" maxLength={10000} rows={2} value={description} onChange={(e) => setDescription(e.target.value)} />
      </label>
      <div className="form-row">
        <label>
          Starts
          <input className="input" type="datetime-local" required value={from} onChange={(e) => setFrom(e.target.value)} />
        </label>
        <label>
          Minutes
          <input className="input" type="number" min={5} max={1440} value={minutes} onChange={(e) => setMinutes(Number(e.target.value))} />
        </label>
      </div>
      <label className="check">
        <input type="checkbox" checked={anonymous} onChange={(e) => setAnonymous(e.target.checked)} /> Allow anonymous questions
      </label>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
      <button className="btn btn-primary" disabled={busy}>
        Schedule
      </button>
    </form>
  )
}

export default function SessionsList() {
  const user = useUser()
  const navigate = useNavigate()
  const client = useQueryClient()
  const [filter, setFilter] = useState<SessionFilter>('upcoming')
  const [scheduling, setScheduling] = useState(false)
  const list = useSessionList(filter)
  const me = useMe()
  useEffect(() => {
    document.title = 'Live sessions · Workbook'
  }, [])

  return (
    <main className="area-page sessions-page" id="main">
      <div className="sessions-inner">
        <header className="sessions-head">
          <h1>Live sessions</h1>
          {canHost(me.data?.role ?? user?.role) ? (
            <button type="button" className="btn btn-primary" aria-expanded={scheduling} onClick={() => setScheduling((v) => !v)}>
              Schedule a session
            </button>
          ) : null}
        </header>
        {scheduling ? (
          <ScheduleForm
            onDone={(id) => {
              void client.invalidateQueries({ queryKey: sessionKeys.all })
              navigate(`/sessions/${id}`)
            }}
          />
        ) : null}
        <div className="seg" role="group" aria-label="Show sessions">
          {FILTERS.map((f) => (
            <button key={f.id} type="button" className="seg-btn" aria-pressed={filter === f.id} onClick={() => setFilter(f.id)}>
              {f.label}
            </button>
          ))}
        </div>
        {list.isPending ? <p role="status">Loading…</p> : null}
        {list.isError ? <p role="alert">{describe(list.error)}</p> : null}
        {list.data && list.data.sessions.length === 0 ? <p className="muted">No sessions here yet.</p> : null}
        <ul className="session-list">
          {list.data?.sessions.map((s) => (
            <li key={s.id} className="session-item card">
              <div className="session-main">
                <h2>
                  <Link to={`/sessions/${s.id}`}>{s.title}</Link>
                </h2>
                <p className="muted">
                  {new Date(s.scheduledStart).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' })}
                  {s.hostId === user?.id ? ' · you host' : ''}
                </p>
                {s.description ? <p className="session-desc">{s.description}</p> : null}
              </div>
              <span className={`status-pill status-${s.status}`}>{STATUS[s.status] ?? s.status}</span>
              {s.status !== 'ended' && s.status !== 'cancelled' ? (
                <Link className="btn" to={`/sessions/${s.id}`} aria-label={`Join ${s.title}`}>
                  Join
                </Link>
              ) : (
                <Link className="btn btn-ghost" to={`/sessions/${s.id}`} aria-label={`Open ${s.title}`}>
                  Open
                </Link>
              )}
            </li>
          ))}
        </ul>
      </div>
    </main>
  )
}
