/**
 * Agenda and timer (docs/rooms.md, "Agenda and timer"): everyone sees the agenda, the item being
 * worked on and the countdown; hosts edit the agenda (`agenda.set`), mark the current item
 * (`agenda.current`) and start or stop the countdown (`timer.start`, `timer.stop`). The
 * countdown is computed here from the server's `startedAt + seconds` against the server's
 * clock (this device's, corrected by the skew seen at join); nothing ticks in the document.
 */
import { useEffect, useState, type FormEvent } from 'react'
import { serverSkew } from '../api/sessions'
import type { RoomCtx } from './RoomPage'
import type { AgendaItem, RoomView, Timer } from './model'

const MAX_ITEMS = 50

/** The server's clock as this device best knows it (the timer's times are the server's). */
function serverNow(): number {
  return Date.now() + serverSkew()
}

/** Seconds left on the timer (0 once it ran out), re-rendering every second while it runs. */
export function useRemaining(timer: Timer | null): number | null {
  const [now, setNow] = useState(serverNow)
  useEffect(() => {
    if (!timer) return
    setNow(serverNow())
    const id = setInterval(() => setNow(serverNow()), 1000)
    return () => clearInterval(id)
  }, [timer])
  if (!timer) return null
  return Math.max(0, Math.ceil((timer.startedAt + timer.seconds * 1000 - now) / 1000))
}

export function clock(seconds: number): string {
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  const mm = String(m).padStart(h ? 2 : 1, '0')
  return `${h ? `${h}:` : ''}${mm}:${String(s).padStart(2, '0')}`
}

/** The countdown pill shown in the room's header (every tab, every width). */
export function TimerPill({ timer }: { timer: Timer | null }) {
  const left = useRemaining(timer)
  if (!timer || left === null) return null
  return (
    <span className={`timer-pill${left === 0 ? ' timer-done' : ''}`} id="room-timer" role="timer" aria-live="off">
      ⏱ {left === 0 ? "Time's up" : clock(left)}
      {timer.label ? <span className="timer-label"> · {timer.label}</span> : null}
    </span>
  )
}

function AgendaEditor({ ctx, items, done }: { ctx: RoomCtx; items: AgendaItem[]; done: () => void }) {
  const [rows, setRows] = useState<{ title: string; minutes: string }[]>(() =>
    items.length ? items.map((i) => ({ title: i.title, minutes: String(i.minutes) })) : [{ title: '', minutes: '10' }],
  )
  const [error, setError] = useState('')
  const update = (index: number, field: 'title' | 'minutes', value: string) =>
    setRows((prev) => prev.map((r, i) => (i === index ? { ...r, [field]: value } : r)))
  const save = async (event: FormEvent) => {
    event.preventDefault()
    const clean = rows
      .filter((r) => r.title.trim())
      .map((r) => ({ title: r.title.trim(), minutes: Math.max(0, Math.min(600, Math.round(Number(r.minutes) || 0))) }))
    const reply = await ctx.act('agenda.set', { items: clean })
    if (reply.ok) done()
    else setError('The agenda was not saved.')
  }
  return (
    <form className="agenda-edit" onSubmit={(e) => void save(e)} aria-label="Edit the agenda">
      {rows.map((row, index) => (
        <div className="agenda-row" key={index}>
          <label className="visually-hidden" htmlFor={`agenda-title-${index}`}>
            Item {index + 1} title
          </label>
          <input id={`agenda-title-${index}`} className="input" maxLength={200} value={row.title} placeholder="Item title" onChange={(e) => update(index, 'title', e.target.value)} />
          <label className="visually-hidden" htmlFor={`agenda-min-${index}`}>
            Item {index + 1} minutes
          </label>
          <input id={`agenda-min-${index}`} className="input agenda-min" type="number" min={0} max={600} value={row.minutes} onChange={(e) => update(index, 'minutes', e.target.value)} />
          <span className="muted small">min</span>
          <button type="button" className="link-btn danger" aria-label={`Remove item ${index + 1}`} onClick={() => setRows((prev) => prev.filter((_, i) => i !== index))}>
            Remove
          </button>
        </div>
      ))}
      {error ? <p className="form-error small">{error}</p> : null}
      <div className="chat-form-row">
        <button type="button" className="btn btn-sm" disabled={rows.length >= MAX_ITEMS} onClick={() => setRows((prev) => [...prev, { title: '', minutes: '10' }])}>
          Add item
        </button>
        <span>
          <button type="button" className="btn btn-ghost btn-sm" onClick={done}>
            Cancel
          </button>{' '}
          <button className="btn btn-primary btn-sm">Save agenda</button>
        </span>
      </div>
    </form>
  )
}

function TimerControls({ ctx, view }: { ctx: RoomCtx; view: RoomView }) {
  const current = view.agendaIndex !== null ? view.agenda[view.agendaIndex] : undefined
  const [minutes, setMinutes] = useState('5')
  const [label, setLabel] = useState('')
  const start = async (event: FormEvent) => {
    event.preventDefault()
    const seconds = Math.round((Number(minutes) || 0) * 60)
    await ctx.act('timer.start', { seconds: Math.max(1, Math.min(86_400, seconds)), label: label.trim() || current?.title || '' })
  }
  return (
    <form className="timer-form" onSubmit={(e) => void start(e)} aria-label="Timer">
      <label htmlFor="timer-minutes" className="small">
        Timer (minutes)
      </label>
      <input id="timer-minutes" className="input agenda-min" type="number" min={1} max={1440} value={minutes} onChange={(e) => setMinutes(e.target.value)} />
      <label htmlFor="timer-label" className="visually-hidden">
        Timer label
      </label>
      <input id="timer-label" className="input" maxLength={100} placeholder={current?.title || 'Label (optional)'} value={label} onChange={(e) => setLabel(e.target.value)} />
      <button className="btn btn-sm btn-primary">{view.timer ? 'Restart timer' : 'Start timer'}</button>
      {view.timer ? (
        <button type="button" className="btn btn-sm" onClick={() => void ctx.act('timer.stop')}>
          Stop timer
        </button>
      ) : null}
    </form>
  )
}

export function AgendaPanel({ ctx, view }: { ctx: RoomCtx; view: RoomView }) {
  const [editing, setEditing] = useState(false)
  const left = useRemaining(view.timer)
  const host = ctx.isHost && !ctx.readOnly
  const live = view.status === 'live'
  return (
    <section className="panel panel-agenda" aria-labelledby="agenda-title">
      <div className="panel-head">
        <h2 id="agenda-title">Agenda</h2>
        {host && !editing ? (
          <button type="button" className="link-btn" onClick={() => setEditing(true)}>
            {view.agenda.length ? 'Edit agenda' : 'Add agenda'}
          </button>
        ) : null}
      </div>
      {view.timer && left !== null ? (
        <p className={`timer-big${left === 0 ? ' timer-done' : ''}`} id="agenda-timer">
          <span className="timer-digits">{left === 0 ? "Time's up" : clock(left)}</span>
          {view.timer.label ? <span className="muted small"> {view.timer.label}</span> : null}
        </p>
      ) : null}
      {editing ? (
        <AgendaEditor ctx={ctx} items={view.agenda} done={() => setEditing(false)} />
      ) : view.agenda.length ? (
        <ol className="agenda">
          {view.agenda.map((item, index) => {
            const now = view.agendaIndex === index
            return (
              <li key={index} className={now ? 'agenda-now' : undefined} aria-current={now ? 'step' : undefined}>
                <span className="agenda-title">{item.title}</span>
                <span className="muted small">{item.minutes ? `${item.minutes} min` : ''}</span>
                {now ? <span className="tag tag-open">Now</span> : null}
                {host && live && !now ? (
                  <button type="button" className="link-btn" aria-label={`Start: ${item.title}`} onClick={() => void ctx.act('agenda.current', { index })}>
                    Start
                  </button>
                ) : null}
                {host && live && now && item.minutes ? (
                  <button
                    type="button"
                    className="link-btn"
                    aria-label={`Time it: ${item.title}`}
                    onClick={() => void ctx.act('timer.start', { seconds: item.minutes * 60, label: item.title })}
                  >
                    Time it
                  </button>
                ) : null}
              </li>
            )
          })}
        </ol>
      ) : (
        <p className="muted small">{host ? 'No agenda yet: add the session’s items.' : 'The host has not set an agenda.'}</p>
      )}
      {host && live && !editing ? <TimerControls ctx={ctx} view={view} /> : null}
    </section>
  )
}
