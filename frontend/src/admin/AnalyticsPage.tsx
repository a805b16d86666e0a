/**
 * `/admin/analytics` (role `admin`; the server checks `admin.access`): active users, module
 * completion and time spent, lesson watch time and drop-off, session attendance and engagement,
 * recordings transcribed, over a date range kept in the URL; each dataset downloads as CSV.
 */
import { useState, type ReactNode } from 'react'
import { useSearchParams } from 'react-router'
import {
  downloadCsv,
  useLessonStats,
  useModuleStats,
  useOverview,
  useRecordingStats,
  useSessionStats,
  type Dataset,
  type DateRange,
} from '../api/analytics'
import { describe } from '../api/client'
import { useUser } from '../lib/useSession'
import { Icon } from '../ui/Icon'
import { toast } from '../ui/toast'
import { BarList, ColumnChart, DataTable } from './charts'
import './analytics.css'

const DAY_MS = 86_400_000
const MAX_FILLED_DAYS = 400

function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10)
}

function lastDays(n: number): DateRange {
  const now = Date.now()
  return { from: isoDay(now - (n - 1) * DAY_MS), to: isoDay(now) }
}

/** Every day of the range with its value (0 where nothing happened); sparse when very long. */
function fillDays<T extends { day: string }>(range: DateRange, rows: T[], pick: (row: T) => number): [string[], number[]] {
  const start = Date.parse(`${range.from}T00:00:00Z`)
  const end = Date.parse(`${range.to}T00:00:00Z`)
  const span = Math.round((end - start) / DAY_MS) + 1
  if (!(span > 0) || span > MAX_FILLED_DAYS) return [rows.map((r) => r.day), rows.map(pick)]
  const byDay = new Map(rows.map((r) => [r.day, pick(r)]))
  const days = Array.from({ length: span }, (_, i) => isoDay(start + i * DAY_MS))
  return [days, days.map((d) => byDay.get(d) ?? 0)]
}

const ISO_DAY = /^\d{4}-\d{2}-\d{2}$/

/** Why a range (from the URL or the date fields) cannot be shown; '' when it can. */
function rangeProblem(range: DateRange): string {
  const bad = [range.from, range.to].some((d) => !ISO_DAY.test(d) || Number.isNaN(Date.parse(`${d}T00:00:00Z`)))
  if (bad) return 'Choose both dates (the address holds a date the page cannot read).'
  if (range.from > range.to) return 'The start date is after the end date: choose a start on or before the end.'
  return ''
}

/** Minutes under an hour (a few minutes is not "0.0 h"), whole hours from 100 (fits a tile). */
const hours = (seconds: number) =>
  seconds < 3600
    ? `${Math.round(seconds / 60)} min`
    : seconds < 360_000
      ? `${(seconds / 3600).toFixed(1)} h`
      : `${Math.round(seconds / 3600).toLocaleString('en')} h`
const minutes = (seconds: number) => Math.round(seconds / 6) / 10

function Section({
  id,
  title,
  range,
  children,
  state,
}: {
  id: Dataset
  title: string
  range: DateRange
  children: ReactNode
  state: { isPending: boolean; error: unknown; fetchStatus: string; isPlaceholderData: boolean }
}) {
  const [busy, setBusy] = useState(false)
  const download = async () => {
    setBusy(true)
    try {
      await downloadCsv(id, range)
    } catch (err) {
      toast(describe(err), 'error')
    } finally {
      setBusy(false)
    }
  }
  return (
    <section className="analytics-section" aria-labelledby={`h-${id}`}>
      <div className="analytics-section-head">
        <h2 id={`h-${id}`}>{title}</h2>
        <button type="button" className="btn" disabled={busy} onClick={() => void download()} aria-label={`Download ${title} as CSV`}>
          <Icon name="download" /> CSV
        </button>
      </div>
      <p className="muted analytics-status" role="status">
        {status(state)}
      </p>
      {state.error ? (
        <p role="alert" className="analytics-error">
          {describe(state.error)}
        </p>
      ) : state.isPending ? null : (
        <div className={state.isPlaceholderData ? 'analytics-stale' : undefined}>{children}</div>
      )}
    </section>
  )
}

/** What a section is waiting for: a first answer, a new range's answer, or the network. */
function status(state: { isPending: boolean; fetchStatus: string; isPlaceholderData: boolean }): string {
  if (state.fetchStatus === 'paused') {
    if (state.isPending) return 'You are offline: the figures load when you are back online.'
    if (state.isPlaceholderData) return 'You are offline: the figures below are still those of the previous range.'
    return ''
  }
  if (state.isPending) return 'Loading…'
  if (state.isPlaceholderData) return 'Updating for the new range…'
  return ''
}

function Stat({ label, value }: { label: string; value: ReactNode }) {
  return (
    <div className="stat">
      <span className="stat-value">{value}</span>
      <span className="stat-label">{label}</span>
    </div>
  )
}

function OverviewSection({ range }: { range: DateRange }) {
  const q = useOverview(range)
  const o = q.data
  const [days, values] = o ? fillDays(range, o.dailyActive, (d) => d.count) : [[], []]
  return (
    <Section id="overview" title="Active users" range={range} state={q}>
      {o && (
        <>
          <div className="stats" data-testid="overview-stats">
            <Stat label="Active users" value={o.activeUsers} />
            <Stat label="New users" value={o.newUsers} />
            <Stat label="All users" value={o.totalUsers} />
            <Stat label="Lessons completed" value={o.lessonsCompleted} />
            <Stat label="Modules completed" value={o.modulesCompleted} />
            <Stat label="Watch time" value={hours(o.watchSeconds)} />
          </div>
          <ColumnChart
            title="Active users per day"
            labels={days}
            series={[{ name: 'active users', values, tone: 'a' }]}
            summary={`${o.activeUsers} active users over ${days.length} days, at most ${Math.max(0, ...values)} in a day`}
          />
        </>
      )}
    </Section>
  )
}

function ModulesSection({ range }: { range: DateRange }) {
  const q = useModuleStats(range)
  const rows = q.data ?? []
  const labels = rows.map((m) => m.title)
  return (
    <Section id="modules" title="Module completion" range={range} state={q}>
      <BarList
        title="Learners and completions per module"
        labels={labels}
        series={[
          { name: 'learners', values: rows.map((m) => m.learners), tone: 'a' },
          { name: 'completed', values: rows.map((m) => m.completed), tone: 'b' },
        ]}
        summary={`${rows.length} modules, ${rows.reduce((n, m) => n + m.completed, 0)} completions`}
      />
      <BarList
        title="Time spent per module (minutes)"
        labels={labels}
        series={[{ name: 'minutes', values: rows.map((m) => m.timeSpentMinutes), tone: 'c' }]}
        summary={`${rows.reduce((n, m) => n + m.timeSpentMinutes, 0)} minutes in all`}
      />
      <DataTable
        caption="modules"
        head={['Module', 'Learners', 'Completed', 'Average %', 'Minutes']}
        rows={rows.map((m) => [m.title, m.learners, m.completed, m.averagePercent, m.timeSpentMinutes])}
      />
    </Section>
  )
}

function LessonsSection({ range }: { range: DateRange }) {
  const q = useLessonStats(range)
  const rows = q.data ?? []
  const [picked, setPicked] = useState('')
  const chosen = rows.filter((l) => !picked || l.lessonId === picked)
  const drops = Array.from({ length: 10 }, (_, i) => chosen.reduce((n, l) => n + (l.dropOff[i] ?? 0), 0))
  const tenths = drops.map((_, i) => `${i * 10}–${i * 10 + 10}%`)
  const stopped = drops.reduce((a, b) => a + b, 0)
  const worst = drops.indexOf(Math.max(...drops))
  return (
    <Section id="lessons" title="Lesson watch time" range={range} state={q}>
      <BarList
        title="Watch time per lesson (minutes)"
        labels={rows.map((l) => `${l.moduleTitle} · ${l.title}`)}
        series={[{ name: 'minutes watched', values: rows.map((l) => minutes(l.watchSeconds)), tone: 'a' }]}
        format={(v) => v.toFixed(1)}
        summary={`${rows.length} lessons, ${minutes(rows.reduce((n, l) => n + l.watchSeconds, 0))} minutes watched`}
      />
      <div className="dropoff-pick">
        <label htmlFor="dropoff-lesson">Drop-off for</label>
        <select id="dropoff-lesson" className="input" value={picked} onChange={(e) => setPicked(e.target.value)}>
          <option value="">All lessons</option>
          {rows.map((l) => (
            <option key={l.lessonId} value={l.lessonId}>
              {l.moduleTitle} · {l.title}
            </option>
          ))}
        </select>
      </div>
      <ColumnChart
        title="Where viewers stopped (share of the video)"
        labels={tenths}
        series={[{ name: 'viewers stopped', values: drops, tone: 'd' }]}
        summary={stopped ? `${stopped} viewers stopped before the end, most at ${tenths[worst]}` : 'no viewer stopped before the end'}
      />
      <DataTable
        caption="lessons"
        head={['Lesson', 'Viewers', 'Completed', 'Minutes watched', 'Average minutes']}
        rows={rows.map((l) => [
          `${l.moduleTitle} · ${l.title}`,
          l.viewers,
          l.completed,
          minutes(l.watchSeconds),
          (l.averageWatchSeconds / 60).toFixed(1),
        ])}
      />
    </Section>
  )
}

const ENGAGEMENT = [
  ['attended', 'a'],
  ['messages', 'b'],
  ['votes', 'c'],
  ['questions', 'd'],
  ['hands', 'e'],
] as const

function SessionsSection({ range }: { range: DateRange }) {
  const q = useSessionStats(range)
  const rows = q.data ?? []
  return (
    <Section id="sessions" title="Live sessions" range={range} state={q}>
      <BarList
        title="Attendance and engagement per session"
        labels={rows.map((s) => `${s.title} (${s.startedAt.slice(0, 10)})`)}
        series={ENGAGEMENT.map(([key, tone]) => ({ name: key, values: rows.map((s) => s[key]), tone }))}
        summary={`${rows.length} sessions, ${rows.reduce((n, s) => n + s.attended, 0)} attendees`}
      />
      <DataTable
        caption="sessions"
        head={['Session', 'Status', 'Registered', 'Attended', 'Messages', 'Votes', 'Questions', 'Hands', 'Avg. minutes present']}
        rows={rows.map((s) => [
          s.title,
          s.status,
          s.registered,
          s.attended,
          s.messages,
          s.votes,
          s.questions,
          s.hands,
          minutes(s.averageSecondsPresent),
        ])}
      />
    </Section>
  )
}

function RecordingsSection({ range }: { range: DateRange }) {
  const q = useRecordingStats(range)
  const r = q.data
  const [days, uploaded] = r ? fillDays(range, r.daily, (d) => d.uploaded) : [[], []]
  const transcribed = r ? fillDays(range, r.daily, (d) => d.transcribed)[1] : []
  return (
    <Section id="recordings" title="Recordings" range={range} state={q}>
      {r && (
        <>
          <div className="stats">
            <Stat label="Uploaded" value={r.uploaded} />
            <Stat label="Transcribed" value={r.transcriptions} />
            <Stat label="Failed" value={r.byStatus.failed ?? 0} />
            <Stat label="Audio transcribed" value={hours(r.transcribedSeconds)} />
          </div>
          <ColumnChart
            title="Recordings uploaded and transcribed per day"
            labels={days}
            series={[
              { name: 'uploaded', values: uploaded, tone: 'a' },
              { name: 'transcribed', values: transcribed, tone: 'b' },
            ]}
            summary={`${r.uploaded} uploaded, ${r.transcriptions} transcribed`}
          />
        </>
      )}
    </Section>
  )
}

export default function AnalyticsPage() {
  const user = useUser()
  const [params, setParams] = useSearchParams()
  const fallback = lastDays(30)
  const range: DateRange = { from: params.get('from') || fallback.from, to: params.get('to') || fallback.to }
  const problem = rangeProblem(range)
  const preset = [7, 30, 90, 365].find((n) => {
    const r = lastDays(n)
    return r.from === range.from && r.to === range.to
  })
  const setRange = (next: DateRange) => setParams({ from: next.from, to: next.to }, { replace: true })

  if (user?.role !== 'admin') {
    return (
      <main id="main" className="analytics-page">
        <h1>Analytics</h1>
        <p role="alert">Analytics are for admins only.</p>
      </main>
    )
  }
  return (
    <main id="main" className="analytics-page">
      <h1>Analytics</h1>
      <form className="range-form" aria-label="Date range" onSubmit={(e) => e.preventDefault()}>
        <label>
          From
          <input
            type="date"
            className="input"
            value={range.from}
            max={range.to}
            onChange={(e) => e.target.value && setRange({ ...range, from: e.target.value })}
          />
        </label>
        <label>
          To
          <input
            type="date"
            className="input"
            value={range.to}
            min={range.from}
            onChange={(e) => e.target.value && setRange({ ...range, to: e.target.value })}
          />
        </label>
        <div className="range-presets">
          {[7, 30, 90, 365].map((n) => (
            <button
              key={n}
              type="button"
              className="btn btn-ghost range-preset"
              aria-pressed={preset === n}
              onClick={() => setRange(lastDays(n))}
            >
              {n} days
            </button>
          ))}
        </div>
      </form>
      <p className="muted">Days are UTC; both ends are included.</p>
      {problem ? (
        <p role="alert" className="analytics-error">
          {problem}
        </p>
      ) : (
        <>
          <OverviewSection range={range} />
          <ModulesSection range={range} />
          <LessonsSection range={range} />
          <SessionsSection range={range} />
          <RecordingsSection range={range} />
        </>
      )}
    </main>
  )
}
