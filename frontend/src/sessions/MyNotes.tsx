/**
 * "My notes for this session": the attendee's own notes linked to the session (ordinary notes
 * carrying `sessionId`, only theirs). Created here, opened in the notes area in a new tab so
 * the room stays open, and listed (filterable) there too.
 */
import { useState } from 'react'
import { useQuery, useQueryClient } from '@tanstack/react-query'
import { api, describe, must } from '../api/client'
import { keys } from '../api/notes'
import { relativeTime } from '../lib/util'

export function notesUrl(noteId: string, sessionId: string): string {
  return `/notes/${noteId}?session=${encodeURIComponent(sessionId)}`
}

export function MyNotes({ sessionId, title }: { sessionId: string; title: string }) {
  const client = useQueryClient()
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState('')
  const queryKey = ['session-notes', sessionId]
  const mine = useQuery({
    queryKey,
    queryFn: async ({ signal }) =>
      must(await api.GET('/api/workbook/notes', { params: { query: { sessionId, limit: 20 } }, signal })),
    staleTime: 0,
  })

  const create = async () => {
    setBusy(true)
    setError('')
    try {
      const body = { id: crypto.randomUUID(), title: `My notes: ${title}`.slice(0, 255), content: '', sessionId, isPrivate: true }
      const note = must(await api.POST('/api/workbook/notes', { body })).note
      await client.invalidateQueries({ queryKey })
      void client.invalidateQueries({ queryKey: keys.lists })
      window.open(notesUrl(note.id, sessionId), '_blank', 'noopener')
    } catch (err) {
      setError(describe(err))
    } finally {
      setBusy(false)
    }
  }

  const notes = mine.data?.notes ?? []
  return (
    <section className="panel panel-mynotes" aria-labelledby="my-notes-title">
      <div className="panel-head">
        <h2 id="my-notes-title">My notes for this session</h2>
        <button type="button" className="btn btn-sm" id="new-session-note" disabled={busy} onClick={() => void create()}>
          New private note
        </button>
      </div>
      <p className="muted small">Only you see these. They open in the notes area, in a new tab.</p>
      {error ? (
        <p className="form-error small" role="alert">
          {error}
        </p>
      ) : null}
      {notes.length ? (
        <ul className="my-notes">
          {notes.map((n) => (
            <li key={n.id}>
              <a href={notesUrl(n.id, sessionId)} target="_blank" rel="noopener" data-id={n.id}>
                {n.title}
              </a>{' '}
              <span className="muted small">{relativeTime(n.updatedAt)}</span>
            </li>
          ))}
        </ul>
      ) : mine.isLoading ? null : (
        <p className="muted small">No private notes for this session yet.</p>
      )}
      {notes.length ? (
        <a className="small" href={`/notes?session=${encodeURIComponent(sessionId)}`} target="_blank" rel="noopener">
          All my notes for this session
        </a>
      ) : null}
    </section>
  )
}
