/**
 * `/sessions/:id`: the live room. Joins over REST, then reads everything from the room's Y.Doc
 * (read-only socket) and awareness; every change is an action (room.ts). No polling.
 */
import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react'
import { Link, useNavigate, useParams } from 'react-router'
import { downloadExport, joinSession, leaveSession, startSession, type JoinResult } from '../api/sessions'
import { ApiError, describe } from '../api/client'
import { useUser } from '../lib/useSession'
import { HOSTS, mediaModeOf, readRoom, type Role } from './model'
import { reasonText, Room, type Reply } from './room'
import { ChatPanel } from './ChatPanel'
import { PollsPanel } from './PollsPanel'
import { QaPanel } from './QaPanel'
import { PeoplePanel } from './PeoplePanel'
import { AgendaPanel, TimerPill } from './AgendaPanel'
import { MyNotes } from './MyNotes'
import { RoomMediaClient } from './media'
import { MediaStage } from './MediaStage'
import './sessions.css'

// the notes editor (TipTap, ProseMirror: the notes' Editor chunk) loads after the room shows
const SharedNotes = lazy(() => import('./SharedNotes').then((m) => ({ default: m.SharedNotes })))

type Tab = 'chat' | 'polls' | 'qa' | 'people' | 'agenda' | 'notes'
const TABS: { id: Tab; label: string }[] = [
  { id: 'people', label: 'People' },
  { id: 'chat', label: 'Chat' },
  { id: 'polls', label: 'Polls' },
  { id: 'qa', label: 'Q&A' },
  { id: 'agenda', label: 'Agenda' },
  { id: 'notes', label: 'Notes' },
]

export interface RoomCtx {
  room: Room
  me: string
  role: Role
  isHost: boolean
  readOnly: boolean
  act: (action: string, fields?: Record<string, unknown>) => Promise<Reply>
}

export default function RoomPage() {
  const { sessionId = '' } = useParams()
  const user = useUser()
  const [join, setJoin] = useState<JoinResult | null>(null)
  const [joinError, setJoinError] = useState('')
  const [room, setRoom] = useState<Room | null>(null)
  const [notice, setNotice] = useState('')
  const [tab, setTab] = useState<Tab>('chat')

  useEffect(() => {
    let current: Room | null = null
    let cancelled = false
    const open = () => {
      current = new Room(sessionId, (reply) => setNotice(reasonText(reply.reason)))
      setRoom(current)
      void current.connect()
    }
    joinSession(sessionId).then(
      (result) => {
        if (cancelled) return
        setJoin(result)
        open()
      },
      (err: unknown) => {
        if (cancelled) return
        // an ended session refuses new joins, but someone who took part can still read the room
        if (err instanceof ApiError && err.status === 409 && err.fields[0]?.field === 'status') open()
        else setJoinError(describe(err))
      },
    )
    return () => {
      cancelled = true
      current?.destroy()
    }
  }, [sessionId])

  if (joinError) {
    return (
      <main className="area-page room-page" id="main">
        <div className="room-message">
          <h1>Cannot join this session</h1>
          <p role="alert">{joinError}</p>
          <Link className="btn" to="/sessions">
            Back to sessions
          </Link>
        </div>
      </main>
    )
  }
  if (!room) {
    return (
      <main className="area-page room-page" id="main">
        <p role="status" className="room-message">
          Joining…
        </p>
      </main>
    )
  }
  return (
    <RoomView
      room={room}
      join={join}
      sessionId={sessionId}
      me={user?.id ?? ''}
      notice={notice}
      clearNotice={() => setNotice('')}
      setNotice={setNotice}
      tab={tab}
      setTab={setTab}
    />
  )
}

function RoomView(props: {
  room: Room
  join: JoinResult | null
  sessionId: string
  me: string
  notice: string
  clearNotice: () => void
  setNotice: (text: string) => void
  tab: Tab
  setTab: (tab: Tab) => void
}) {
  const { room, join, sessionId, me, notice, tab } = props
  const version = useSyncExternalStore(room.subscribe, () => room.snapshotVersion)
  const view = useMemo(() => readRoom(room.doc, room.provider.awareness, me, room.conn.status === 'live'), [room, me, version])
  const conn = room.conn
  const mine = view.participants.find((p) => p.userId === me)
  const role: Role = mine?.role ?? join?.participant.role ?? 'viewer'
  const isHost = HOSTS.has(role)
  const ended = view.status === 'ended' || view.status === 'cancelled'
  const waiting = view.status === 'scheduled' || view.status === 'waiting'
  const title = view.title || join?.session.title || 'Live session'
  const [busy, setBusy] = useState(false)
  const [confirmEnd, setConfirmEnd] = useState(false)
  const navigate = useNavigate()
  // at phone width only one panel shows: the Chat tab marks messages that arrived elsewhere
  const [seenChat, setSeenChat] = useState(view.chat.length)
  useEffect(() => {
    if (tab === 'chat') setSeenChat(view.chat.length)
  }, [tab, view.chat.length])
  const unread = tab === 'chat' ? 0 : Math.max(0, view.chat.length - seenChat)
  const act = useCallback((action: string, fields?: Record<string, unknown>) => room.act(action, fields), [room])
  const ctx: RoomCtx = { room, me, role, isHost, readOnly: ended || conn.status === 'closed', act }
  // the media connections live as long as this view; unmounting (leaving) stops every track
  const [media, setMedia] = useState<RoomMediaClient | null>(null)
  useEffect(() => {
    const client = new RoomMediaClient((action, fields) => room.act(action, fields, true), me, {
      mode: () => mediaModeOf(room.doc),
      onPush: room.onPush,
    })
    setMedia(client)
    return () => client.destroy()
  }, [room, me])
  // the session ended, or the server closed the room for good (removed, cancelled): stop
  // every device (a removed participant's camera must not stay on)
  const closed = conn.status === 'closed'
  useEffect(() => {
    if (ended || closed) media?.destroy()
  }, [ended, closed, media])
  // a socket that dropped took this participant's media with it on the server: offer again
  const lastStatus = useRef(conn.status)
  const everLive = useRef(false)
  useEffect(() => {
    const before = lastStatus.current
    lastStatus.current = conn.status
    if (conn.status !== 'live' || before === 'live') return
    if (everLive.current) media?.resume()
    everLive.current = true
  }, [conn.status, media])

  useEffect(() => {
    document.title = `${title} · Live session · Workbook`
  }, [title])

  const start = async () => {
    setBusy(true)
    try {
      await startSession(sessionId)
    } catch (err) {
      props.setNotice(describe(err))
    } finally {
      setBusy(false)
    }
  }

  const leave = async () => {
    setBusy(true)
    media?.destroy()
    try {
      // (an ended session still records the leave; one the host removed us from has no row to
      // change: either way we go)
      await leaveSession(sessionId).catch(() => undefined)
    } finally {
      setBusy(false)
      navigate('/sessions')
    }
  }

  return (
    <main className="area-page room-page" id="main" data-status={view.status} data-conn={conn.status}>
      <div className="room">
        <header className="room-head">
          <div>
            <h1>{title}</h1>
            <p className="muted">
              <span className={`status-pill status-${view.status}`}>{ended ? 'Ended' : waiting ? 'Waiting to start' : 'Live'}</span>{' '}
              <span id="room-conn" role="status">
                {conn.status === 'live' ? 'Connected' : conn.status === 'offline' ? 'Offline, reconnecting…' : conn.status === 'closed' ? 'Disconnected' : 'Connecting…'}
              </span>{' '}
              · you are {role} <TimerPill timer={view.timer} />
            </p>
          </div>
          <div className="room-actions">
            {isHost && waiting && role === 'host' ? (
              <button type="button" className="btn btn-primary" disabled={busy} onClick={() => void start()}>
                Start session
              </button>
            ) : null}
            {role === 'host' && view.status === 'live' ? (
              <button
                type="button"
                className="btn btn-danger"
                aria-describedby="end-hint"
                onClick={() => {
                  if (confirmEnd) void act('session.end')
                  else setConfirmEnd(true)
                }}
              >
                {confirmEnd ? 'Confirm: end for everyone' : 'End session'}
              </button>
            ) : null}
            {confirmEnd && !ended ? (
              <span id="end-hint" className="visually-hidden">
                Ending makes the room read-only for everyone.
              </span>
            ) : null}
            <button type="button" className="btn btn-ghost" id="leave-room" disabled={busy} onClick={() => void leave()}>
              Leave
            </button>
          </div>
        </header>
        {conn.message && conn.status === 'closed' ? (
          <div className="room-banner banner-danger" role="alert">
            {conn.message}
          </div>
        ) : null}
        {waiting ? (
          <div className="room-banner" role="status">
            Waiting for the host to start the session. {isHost ? 'You can prepare polls now.' : 'Stay here: the room opens by itself.'}
          </div>
        ) : null}
        {ended ? (
          <div className="room-banner banner-ended" role="status" id="ended-banner">
            <strong>This session has ended.</strong> Everything is read-only.
            <span className="export-links">
              Export:{' '}
              <button type="button" className="link-btn" onClick={() => void downloadExport(sessionId, 'json', title).catch((e: unknown) => props.setNotice(describe(e)))}>
                JSON
              </button>{' '}
              <button type="button" className="link-btn" onClick={() => void downloadExport(sessionId, 'md', title).catch((e: unknown) => props.setNotice(describe(e)))}>
                Markdown
              </button>
            </span>
          </div>
        ) : null}
        {notice && !closed ? (
          // (closed for good, e.g. removed: the banner above says why; "not sent" adds nothing)
          <div className="room-banner banner-warn" role="alert" id="room-notice">
            <span>{notice}</span>
            <button type="button" className="link-btn" onClick={props.clearNotice}>
              Dismiss
            </button>
          </div>
        ) : null}
        {media ? <MediaStage ctx={ctx} view={view} client={media} /> : null}
        <div className="room-tabs" role="group" aria-label="Room panels">
          {TABS.map((t) => (
            <button key={t.id} type="button" className="seg-btn" aria-pressed={tab === t.id} onClick={() => props.setTab(t.id)}>
              {t.label}
              {t.id === 'chat' && unread ? (
                <span className="unread">
                  {' '}
                  {unread}
                  <span className="visually-hidden"> new</span>
                </span>
              ) : null}
            </button>
          ))}
        </div>
        <div className="room-body" data-tab={tab}>
          <div className="room-grid">
            <PeoplePanel ctx={ctx} view={view} />
            <ChatPanel ctx={ctx} view={view} />
            <PollsPanel ctx={ctx} view={view} />
            <QaPanel ctx={ctx} view={view} />
          </div>
          <div className="room-side">
            <AgendaPanel ctx={ctx} view={view} />
            <Suspense
              fallback={
                <section className="panel panel-notes" aria-label="Shared notes">
                  <p className="muted small">Opening the shared notes…</p>
                </section>
              }
            >
              <SharedNotes ctx={ctx} view={view} sessionId={sessionId} />
            </Suspense>
            <MyNotes sessionId={sessionId} title={title} />
          </div>
        </div>
      </div>
    </main>
  )
}

