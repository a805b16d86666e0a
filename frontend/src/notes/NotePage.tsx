/**
 * One open note: header (title, tags, folder, status, people, actions) and the collaborative
 * editor. Title, tags and folder are edited in the note's Y.Doc (collab/meta.ts), so they work
 * offline and merge like the text; the server mirrors them into the notes list.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react'
import { Link, useNavigate, useOutletContext, useParams } from 'react-router'
import { useQuery, useQueryClient } from '@tanstack/react-query'
import type { Editor } from '@tiptap/react'
import { api, ApiError, describe, must, OfflineError } from '../api/client'
import { fetchNote, keys, knownNote, patchLists, patchNote, type ListResult, type Note } from '../api/notes'
import { NoteConnection, type SyncState } from '../collab/connection'
import { observeMeta, readMeta, writeMeta, type NoteMeta } from '../collab/meta'
import { isQueued, onOutboxChange, updateQueued } from '../collab/outbox'
import { user as currentUser } from '../lib/session'
import { colorFor, serverColor } from '../lib/util'
import { Icon } from '../ui/Icon'
import { toast } from '../ui/toast'
import { ConfirmDialog } from './dialogs'
import { NoteEditor } from './Editor'
import { Avatars, ExportMenu, FolderField, SyncStatus, TagsField } from './NoteParts'
import { ShareDialog } from './ShareDialog'
import { VersionsDialog } from './VersionsDialog'

type Access = Note['access']

function useQueued(id: string): boolean {
  const [queued, setQueued] = useState(() => isQueued(id))
  useEffect(() => {
    setQueued(isQueued(id))
    return onOutboxChange(() => setQueued(isQueued(id)))
  }, [id])
  return queued
}

export default function NotePage() {
  const { noteId = '' } = useParams()
  return <OpenNote key={noteId} noteId={noteId} />
}

function OpenNote({ noteId }: { noteId: string }) {
  const client = useQueryClient()
  const queued = useQueued(noteId)
  const { signedOut } = useOutletContext<{ signedOut: (message: string) => void }>()
  const note = useQuery({
    queryKey: keys.note(noteId),
    enabled: !queued,
    queryFn: async ({ signal }) => {
      try {
        return await fetchNote(noteId, signal)
      } catch (err) {
        const known = knownNote(client, noteId)
        if (err instanceof OfflineError && known) return known
        if (err instanceof OfflineError) return { ...knownNote(client, noteId), id: noteId, title: 'Note', tags: [], access: 'write' } as Note
        throw err
      }
    },
    initialData: () => knownNote(client, noteId),
    initialDataUpdatedAt: 0,
    staleTime: 0,
    retry: false,
  })
  // a share changed while the note is open: pick the new access up when the window regains
  // focus (and when the change feed says so), never on a timer
  const { refetch } = note
  useEffect(() => {
    if (queued) return
    const onFocus = () => void refetch()
    window.addEventListener('focus', onFocus)
    return () => window.removeEventListener('focus', onFocus)
  }, [queued, refetch])

  useEffect(() => {
    document.body.classList.add('has-note')
    return () => document.body.classList.remove('has-note')
  }, [])

  if (note.isError && !note.data) {
    const err = note.error
    const message =
      err instanceof ApiError && err.status === 404
        ? 'This note does not exist or was deleted.'
        : err instanceof ApiError && err.status === 403
          ? 'You do not have access to this note.'
          : describe(err)
    return (
      <div className="empty-state">
        <h1 className="empty-title">Cannot open this note</h1>
        <p className="muted">{message}</p>
        <Link to="/notes" className="btn">
          Back to notes
        </Link>
      </div>
    )
  }
  if (!note.data) {
    return (
      <div className="loading" role="status">
        Opening note…
      </div>
    )
  }
  return <NoteView note={note.data} queued={queued} signedOut={signedOut} gone={note.isError ? describe(note.error) : null} />
}

interface NoteViewProps {
  note: Note
  queued: boolean
  signedOut: (message: string) => void
  /** Set when the note can no longer be read (deleted, access revoked): why. */
  gone: string | null
}

function NoteView({ note, queued, signedOut, gone }: NoteViewProps) {
  const noteId = note.id
  const client = useQueryClient()
  const navigate = useNavigate()
  const me = currentUser()
  // the colour the server stamps on our awareness for others; ours shows the same
  const [selfColor, setSelfColor] = useState(() => colorFor(me?.id ?? 'me'))
  useEffect(() => {
    if (me?.id) void serverColor(me.id).then(setSelfColor)
  }, [me?.id])
  const localUser = useMemo(() => ({ id: me?.id, name: me?.name || me?.email || 'Me', color: selfColor }), [me, selfColor])
  const userRef = useRef(localUser)
  userRef.current = localUser
  const [connection, setConnection] = useState<NoteConnection | null>(null)
  const [ready, setReady] = useState(false)
  const focusEditor = useRef(false)
  const [sync, setSync] = useState<SyncState>({ kind: 'loading', pending: 0, queued })
  const [meta, setMeta] = useState<NoteMeta>({})
  const [dialog, setDialog] = useState<'share' | 'versions' | 'delete' | null>(null)
  const editorRef = useRef<Editor | null>(null)
  const access: Access = note.access
  const [accessShown, setAccessShown] = useState(access)
  const metaRef = useRef(meta)
  metaRef.current = meta

  const title = meta.title ?? note.title
  const tags = meta.tags ?? note.tags
  const folder = meta.folder !== undefined ? meta.folder : note.folder
  const locked = Boolean(sync.locked) || gone !== null
  const canEdit = access !== 'read' && !locked

  useEffect(() => {
    const conn = new NoteConnection(noteId, signedOut)
    conn.awareness.setLocalStateField('user', userRef.current)
    const unsubscribe = conn.subscribe(setSync)
    const stopMeta = observeMeta(conn.doc, (next) => {
      setMeta(next)
      const change: Partial<Note> = {}
      if (next.title !== undefined) change.title = next.title
      if (next.tags !== undefined) change.tags = next.tags
      if (next.folder !== undefined) change.folder = next.folder
      patchNote(client, noteId, change)
    })
    let cancelled = false
    setConnection(conn)
    setReady(false)
    void conn.start().then(() => {
      if (cancelled) return
      setMeta(readMeta(conn.doc))
      setReady(true)
    })
    return () => {
      cancelled = true
      setConnection(null)
      unsubscribe()
      stopMeta()
      conn.destroy()
    }
  }, [noteId, signedOut, client])
  useEffect(() => {
    connection?.awareness.setLocalStateField('user', localUser)
  }, [connection, localUser])

  useEffect(() => {
    document.title = `${title} · Workbook`
  }, [title])

  // the server changed our access while the note is open (noticed on focus or by the feed)
  useEffect(() => {
    if (access === accessShown) return
    setAccessShown(access)
    toast(access === 'read' ? 'You can now only view this note.' : 'You can edit this note now.')
  }, [access, accessShown])

  const saveTitle = (value: string) => {
    if (!connection) return
    const conn = connection
    conn.afterMetaKnown('title', () => writeMeta(conn.doc, { title: value }))
    updateQueued(noteId, { title: value })
  }
  const saveTags = (next: string[]) => {
    if (!connection) return
    const conn = connection
    conn.afterMetaKnown('tags', () => writeMeta(conn.doc, { tags: next }))
    updateQueued(noteId, { tags: next })
  }
  const saveFolder = (next: string | null) => {
    if (!connection) return
    const conn = connection
    conn.afterMetaKnown('folder', () => writeMeta(conn.doc, { folder: next }))
    updateQueued(noteId, { folder: next })
  }

  const onReady = useCallback((editor: Editor) => {
    editorRef.current = editor
    if (focusEditor.current) {
      focusEditor.current = false
      editor.commands.focus('start')
      editor.view.focus()
    }
  }, [])

  const remove = async () => {
    try {
      must(await api.DELETE('/api/workbook/notes/{id}', { params: { path: { id: noteId } } }))
      toast('Note deleted')
      patchLists(client, (notes) => notes.filter((n) => n.id !== noteId))
      client.removeQueries({ queryKey: keys.note(noteId) })
      navigate('/notes')
    } catch (err) {
      toast(describe(err), 'error')
    }
  }

  const folders = [
    ...new Set(
      client
        .getQueriesData<ListResult>({ queryKey: keys.lists })
        .flatMap(([, data]) => data?.notes.map((n) => n.folder) ?? [])
        .filter((f): f is string => Boolean(f)),
    ),
  ].sort()
  const banner = gone ?? (sync.locked ? sync.message : null) ?? (access === 'read' ? 'You can view this note. Only people with edit access can change it.' : null)

  return (
    <article className="note" aria-labelledby="note-title">
      <header className="note-header">
        <div className="note-header-row">
          <Link to="/notes" className="icon-btn back-btn" aria-label="Back to notes">
            <Icon name="back" />
          </Link>
          <TitleField
            title={title}
            editable={canEdit}
            onSave={saveTitle}
            onEnter={() => {
              const editor = editorRef.current
              if (!editor) {
                focusEditor.current = true // the editor is still opening: focus it when it is
                return
              }
              // TipTap's focus command focuses on the next frame; focus now so no keystroke is lost
              editor.commands.focus('start')
              editor.view.focus()
            }}
          />
          <div className="note-actions">
            {access === 'owner' && !queued ? (
              <button type="button" className="btn btn-ghost" id="share-button" aria-label="Share" onClick={() => setDialog('share')}>
                <Icon name="share" />
                <span className="btn-label">Share</span>
              </button>
            ) : null}
            {!queued ? (
              <button type="button" className="btn btn-ghost" id="history-button" aria-label="History" onClick={() => setDialog('versions')}>
                <Icon name="history" />
                <span className="btn-label">History</span>
              </button>
            ) : null}
            {!queued ? <ExportMenu noteId={noteId} title={title} /> : null}
            {access === 'owner' && !queued ? (
              <button type="button" className="icon-btn icon-btn-danger" aria-label="Delete note" title="Delete note" id="delete-button" onClick={() => setDialog('delete')}>
                <Icon name="trash" />
              </button>
            ) : null}
          </div>
        </div>
        <div className="note-header-row note-subrow">
          <div className="meta-fields">
            <FolderField folder={folder} folders={folders} editable={access === 'owner' && canEdit} onChange={saveFolder} />
            <TagsField tags={tags} editable={canEdit} onChange={saveTags} />
            {note.sessionId ? (
              <Link className="chip chip-xs session-link" to={`/sessions/${note.sessionId}`} id="note-session-link">
                Live session
              </Link>
            ) : null}
          </div>
          <div className="presence">
            <SyncStatus state={sync} />
            {connection ? <Avatars awareness={connection.awareness} /> : null}
          </div>
        </div>
      </header>
      {banner ? (
        <div className="banner" role="note">
          <Icon name="lock" />
          {banner}
        </div>
      ) : null}
      {connection && ready ? (
        <NoteEditor connection={connection} user={localUser} editable={canEdit} onReady={onReady} />
      ) : (
        <div className="loading" role="status">
          Opening note…
        </div>
      )}
      {dialog === 'share' ? <ShareDialog noteId={noteId} title={title} onClose={() => setDialog(null)} /> : null}
      {dialog === 'versions' ? <VersionsDialog noteId={noteId} canRestore={canEdit} onClose={() => setDialog(null)} /> : null}
      {dialog === 'delete' ? (
        <ConfirmDialog
          title="Delete this note?"
          message={`“${title}” will be deleted for everyone it is shared with.`}
          confirmLabel="Delete note"
          danger
          onDone={(ok) => {
            setDialog(null)
            if (ok) void remove()
          }}
        />
      ) : null}
    </article>
  )
}

/**
 * The title: saved on Enter or when leaving the field. An empty title is refused on the spot,
 * saying why, and the previous title stays.
 */
function TitleField({ title, editable, onSave, onEnter }: { title: string; editable: boolean; onSave: (t: string) => void; onEnter: () => void }) {
  const [draft, setDraft] = useState(title)
  const [error, setError] = useState('')
  const focused = useRef(false)
  const saved = useRef(title)
  useEffect(() => {
    saved.current = title
    if (!focused.current) setDraft(title)
  }, [title])
  const commit = () => {
    const value = draft.trim()
    if (!value) {
      setError('A note needs a title, so the previous one was kept.')
      setDraft(saved.current)
      return
    }
    setError('')
    if (value !== title && value !== saved.current) {
      saved.current = value
      onSave(value)
    }
  }
  return (
    <div className="title-field">
      <input
        id="note-title"
        className="title-input"
        value={draft}
        maxLength={255}
        aria-label="Note title"
        aria-describedby="title-error"
        aria-invalid={error ? true : undefined}
        readOnly={!editable}
        placeholder="Untitled"
        onFocus={() => {
          focused.current = true
        }}
        onChange={(ev) => {
          setDraft(ev.target.value)
          if (ev.target.value.trim()) setError('')
        }}
        onBlur={() => {
          focused.current = false
          commit()
        }}
        onKeyDown={(ev) => {
          if (ev.key === 'Enter') {
            ev.preventDefault()
            commit()
            onEnter()
          }
        }}
      />
      <p className="field-error title-error" id="title-error" role="alert">
        {error}
      </p>
    </div>
  )
}
