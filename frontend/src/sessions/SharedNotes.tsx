/**
 * The session's shared notes (`sessions-notes/<id>`, docs/rooms.md "Shared notes"): the notes
 * editor on a document the participants write together. The server decides who writes (hosts,
 * co-hosts and participants while the session is open; viewers and everyone after the end
 * read) and drops a read-only connection's edits; the page mirrors that so nobody types into
 * a document that will not keep it.
 */
import { useCallback, useEffect, useMemo, useState } from 'react'
import { useNavigate } from 'react-router'
import { NoteConnection, type SyncState } from '../collab/connection'
import { clear, user as currentUser } from '../lib/session'
import { colorFor, serverColor } from '../lib/util'
import { NoteEditor } from '../notes/Editor'
import { toast } from '../ui/toast'
import type { RoomCtx } from './RoomPage'
import type { RoomView } from './model'

const EDITORS = new Set(['host', 'co-host', 'presenter', 'participant'])

function syncText(sync: SyncState): string {
  if (sync.message) return sync.message
  if (sync.kind === 'saved') return 'Saved'
  if (sync.kind === 'offline') return sync.pending ? 'Offline: changes kept on this device' : 'Offline'
  if (sync.kind === 'loading') return 'Opening…'
  return 'Saving…'
}

export function SharedNotes({ ctx, view, sessionId }: { ctx: RoomCtx; view: RoomView; sessionId: string }) {
  const navigate = useNavigate()
  const me = currentUser()
  const [color, setColor] = useState(() => colorFor(me?.id ?? 'me'))
  useEffect(() => {
    if (me?.id) void serverColor(me.id).then(setColor)
  }, [me?.id])
  const user = useMemo(() => ({ id: me?.id, name: me?.name || me?.email || 'Me', color }), [me, color])
  const [connection, setConnection] = useState<NoteConnection | null>(null)
  const [sync, setSync] = useState<SyncState>({ kind: 'loading', pending: 0, queued: false })
  const signedOut = useCallback(
    (message: string) => {
      toast(message, 'error')
      clear()
      navigate('/login', { replace: true })
    },
    [navigate],
  )

  useEffect(() => {
    const conn = new NoteConnection(sessionId, signedOut, `sessions-notes/${sessionId}`)
    const unsubscribe = conn.subscribe(setSync)
    let cancelled = false
    void conn.start().then(() => {
      if (!cancelled) setConnection(conn)
    })
    return () => {
      cancelled = true
      setConnection(null)
      unsubscribe()
      conn.destroy()
    }
  }, [sessionId, signedOut])
  useEffect(() => {
    connection?.awareness.setLocalStateField('user', user)
  }, [connection, user])

  const ended = view.status === 'ended' || view.status === 'cancelled'
  const canEdit = EDITORS.has(ctx.role) && !ended && !sync.locked
  const why = ended ? 'The session has ended: the notes are read-only.' : !EDITORS.has(ctx.role) ? 'Viewers read the shared notes; participants write them.' : null
  const onReady = useCallback(() => undefined, [])

  return (
    <section className="panel panel-notes" aria-labelledby="shared-notes-title">
      <div className="panel-head">
        <h2 id="shared-notes-title">Shared notes</h2>
        <span className={`muted small sync-${sync.kind}`} id="shared-notes-sync" role="status">
          {syncText(sync)}
        </span>
      </div>
      {why ? <p className="muted small">{why}</p> : null}
      {connection ? (
        <div className="shared-editor" data-editable={canEdit ? 'true' : 'false'}>
          <NoteEditor
            connection={connection}
            user={user}
            editable={canEdit}
            onReady={onReady}
            label="Shared notes"
            placeholder={canEdit ? 'Notes everyone in the session writes together…' : ''}
          />
        </div>
      ) : (
        <p className="muted small">Opening the notes…</p>
      )}
    </section>
  )
}
