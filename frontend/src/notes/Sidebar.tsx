/** The sidebar: "New note", search (after a pause in typing), folders, tag filter, the list. */
import { useEffect, useMemo, useState, type ReactNode } from 'react'
import { Link, useNavigate, useParams, useSearchParams } from 'react-router'
import { useQueryClient } from '@tanstack/react-query'
import { describe, OfflineError } from '../api/client'
import { keys, localNote, patchLists, useNotesList, type ListResult, type Note } from '../api/notes'
import { enqueue, sendCreate } from '../collab/outbox'
import { plural, relativeTime } from '../lib/util'
import { clock, momentLink } from '../recordings/clock'
import { Icon } from '../ui/Icon'
import { toast } from '../ui/toast'

export const SEARCH_DEBOUNCE_MS = 300

function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value)
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms)
    return () => clearTimeout(timer)
  }, [value, ms])
  return settled
}

/** Keep only the server's highlight markup (<mark>, <b>, <em>, <strong>) from a snippet. */
function Snippet({ text }: { text: string }) {
  const parts: ReactNode[] = []
  let highlight = false
  text.split(/(<\/?(?:mark|b|em|strong)>)/i).forEach((part, i) => {
    if (/^<(mark|b|em|strong)>$/i.test(part)) highlight = true
    else if (/^<\/(mark|b|em|strong)>$/i.test(part)) highlight = false
    else if (part) parts.push(highlight ? <mark key={i}>{part}</mark> : part)
  })
  return <span className="note-snippet">{parts}</span>
}

function accessLabel(note: Note): string {
  if (note.access === 'read') return ' · shared with you, view only'
  if (note.access === 'write') return ' · shared with you'
  return note.isPrivate === false ? ' · shared' : ''
}

export function Sidebar() {
  const client = useQueryClient()
  const navigate = useNavigate()
  const { noteId } = useParams()
  // `?session=<id>`: only the notes linked to that live session (opened from its room)
  const [params, setParams] = useSearchParams()
  const sessionId = params.get('session')
  const keep = sessionId ? `?session=${encodeURIComponent(sessionId)}` : ''
  const [input, setInput] = useState('')
  const search = useDebounced(input.trim(), SEARCH_DEBOUNCE_MS)
  const [tags, setTags] = useState<string[]>([])
  const [folder, setFolder] = useState<string | null>(null)
  const [pages, setPages] = useState(1)
  const filter = useMemo(() => ({ search, tags, sessionId }), [search, tags, sessionId])
  const list = useNotesList(filter, pages)
  const [allTags, setAllTags] = useState<Set<string>>(new Set())
  const [folders, setFolders] = useState<Set<string>>(new Set())

  useEffect(() => setPages(1), [search, tags, sessionId])
  useEffect(() => {
    const notes = list.data?.notes ?? []
    setAllTags((prev) => {
      const next = new Set(prev)
      notes.forEach((n) => n.tags.forEach((t) => next.add(t)))
      return next.size === prev.size ? prev : next
    })
    setFolders((prev) => {
      const next = new Set(prev)
      notes.forEach((n) => n.folder && next.add(n.folder))
      return next.size === prev.size ? prev : next
    })
  }, [list.data])

  const createNote = async () => {
    const item = { id: crypto.randomUUID(), title: 'Untitled note', tags, folder }
    let note: Note
    try {
      if (!navigator.onLine) throw new OfflineError('offline')
      note = await sendCreate(item)
    } catch (err) {
      if (!(err instanceof OfflineError)) {
        toast(describe(err), 'error')
        return
      }
      const queued = { ...item, createdAt: new Date().toISOString() }
      enqueue(queued)
      note = localNote(queued)
    }
    // a list answer asked for before this create must not replace the list that has the note
    await client.cancelQueries({ queryKey: keys.lists })
    client.setQueryData<ListResult>([...keys.list(filter), pages], (data) =>
      data ?? { notes: [], total: 0, hasMore: false, offline: !navigator.onLine, success: true },
    )
    patchLists(client, (notes) => [note, ...notes.filter((n) => n.id !== note.id)])
    client.setQueryData(keys.note(note.id), note)
    navigate(`/notes/${note.id}`) // (a new note is not linked to the session: the filter goes)
  }

  const data = list.data
  const shown = (data?.notes ?? []).filter((n) => !folder || n.folder === folder)
  const filtered = Boolean(search || tags.length || sessionId)
  let summary: string
  if (list.isFetching) summary = 'Searching…'
  else if (list.isError) summary = describe(list.error)
  else if (data?.offline) summary = `Offline · ${plural(shown.length, 'saved note')}`
  else if (filtered) summary = plural(data?.total ?? 0, 'result')
  else summary = plural(data?.total ?? 0, 'note')

  return (
    <div className="sidebar-body">
      <div className="sidebar-top">
        <button type="button" className="btn btn-primary btn-block" id="new-note" onClick={() => void createNote()}>
          <Icon name="plus" />
          New note
        </button>
        <div className="search" role="search">
          <label htmlFor="note-search" className="visually-hidden">
            Search notes
          </label>
          <Icon name="search" />
          <input
            id="note-search"
            type="search"
            className="input search-input"
            placeholder="Search notes"
            autoComplete="off"
            aria-controls="notes-list"
            value={input}
            onChange={(ev) => setInput(ev.target.value)}
            // Enter searches again now: a word typed seconds ago may be indexed since the
            // last answer (a cached answer is otherwise kept for 30 s)
            onKeyDown={(ev) => {
              if (ev.key === 'Enter' && search) void list.refetch()
            }}
          />
        </div>
        <div className="filters">
          {sessionId ? (
            <div className="session-filter" role="group" aria-label="Live session filter">
              <span className="chip chip-toggle" aria-pressed="true" id="session-filter">
                Notes for a live session
              </span>
              <button
                type="button"
                className="link-btn"
                onClick={() => {
                  params.delete('session')
                  setParams(params)
                }}
              >
                Show all notes
              </button>
            </div>
          ) : null}
          {folders.size ? (
            <nav className="folders" aria-label="Folders">
              {[null, ...[...folders].sort()].map((f) => (
                <button key={f ?? ''} type="button" className="folder-btn" aria-pressed={folder === f} onClick={() => setFolder(f)}>
                  <Icon name={f ? 'folder' : 'note'} />
                  {f ?? 'All notes'}
                </button>
              ))}
            </nav>
          ) : null}
          {allTags.size ? (
            <div className="tag-filter" role="group" aria-label="Filter by tag">
              {[...allTags].sort().map((tag) => (
                <button
                  key={tag}
                  type="button"
                  className="chip chip-toggle"
                  aria-pressed={tags.includes(tag)}
                  onClick={() => setTags((prev) => (prev.includes(tag) ? prev.filter((t) => t !== tag) : [...prev, tag]))}
                >
                  #{tag}
                </button>
              ))}
            </div>
          ) : null}
        </div>
        <p className={`list-summary${list.isError ? ' list-summary-error' : ''}`} role="status" aria-live="polite">
          {summary}
        </p>
      </div>
      <ul id="notes-list" className="notes-list" aria-label="Notes">
        {!shown.length && !list.isFetching && !list.isError ? (
          <li className="empty-list">{filtered ? 'No notes match your search.' : 'No notes yet. Create your first one.'}</li>
        ) : null}
        {shown.map((note) => (
          <li key={note.id}>
            <Link
              to={`/notes/${note.id}${keep}`}
              className={`note-item${note.id === noteId ? ' active' : ''}`}
              aria-current={note.id === noteId ? 'page' : undefined}
              data-id={note.id}
            >
              <span className="note-title">{note.title || 'Untitled'}</span>
              {note.snippet ? <Snippet text={note.snippet} /> : null}
              <span className="note-meta">
                {relativeTime(note.updatedAt)}
                {accessLabel(note)}
                {note.sessionId ? ' · live session' : ''}
                {note.tags.slice(0, 3).map((t) => (
                  <span key={t} className="chip chip-xs">
                    {t}
                  </span>
                ))}
              </span>
            </Link>
          </li>
        ))}
        {data?.recordings?.length ? (
          <li className="moments">
            <p className="list-summary" id="moments-heading">
              Said in recordings · {plural(data.recordingsTotal ?? data.recordings.length, 'moment')}
            </p>
            <ul aria-labelledby="moments-heading">
              {data.recordings.map((hit) => (
                <li key={`${hit.transcriptionId}-${hit.position}`}>
                  <Link to={momentLink(hit.recordingId, hit.start)} className="moment-item" data-recording={hit.recordingId}>
                    <span className="note-title">
                      <Icon name="video" /> {hit.recordingTitle} <span className="moment-time">{clock(hit.start)}</span>
                    </span>
                    <Snippet text={hit.snippet ?? hit.text} />
                  </Link>
                </li>
              ))}
              {(data.recordingsTotal ?? 0) > data.recordings.length ? (
                <li>
                  <Link className="link-btn moments-more" to={`/recordings?q=${encodeURIComponent(search)}`}>
                    All {data.recordingsTotal} moments in recordings
                  </Link>
                </li>
              ) : null}
            </ul>
          </li>
        ) : null}
        {data?.hasMore ? (
          <li>
            <button type="button" className="btn btn-ghost btn-block" onClick={() => setPages((p) => p + 1)}>
              Load more
            </button>
          </li>
        ) : null}
      </ul>
    </div>
  )
}
