/**
 * The notes area: the sidebar (search, folders, tags, list, "New note") beside the open note.
 * Keeps the list live without polling: the user's change feed invalidates it, and queued
 * offline creates are sent when the browser comes back online.
 */
import { useEffect, useMemo, useRef } from 'react'
import { Outlet, useNavigate, useParams } from 'react-router'
import { useQueryClient } from '@tanstack/react-query'
import { keys } from '../api/notes'
import { notesWithPendingChanges, syncPendingNotes } from '../collab/background'
import { flushOutbox, queuedCreates } from '../collab/outbox'
import { UserFeed } from '../collab/userFeed'
import { clear } from '../lib/session'
import { useUser } from '../lib/useSession'
import { toast } from '../ui/toast'
import { Sidebar } from './Sidebar'

const FEED_DEBOUNCE_MS = 300

export default function NotesArea() {
  const user = useUser()
  const client = useQueryClient()
  const navigate = useNavigate()
  const changed = useRef(new Set<string>())
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined)

  const signedOut = useMemo(
    () => (message: string) => {
      clear(message)
      navigate('/login', { replace: true })
    },
    [navigate],
  )

  useEffect(() => {
    if (!user) return
    const feed = new UserFeed(user.id, {
      onChange: (event) => {
        changed.current.add(event.noteId)
        clearTimeout(timer.current)
        timer.current = setTimeout(() => {
          const ids = [...changed.current]
          changed.current.clear()
          void client.invalidateQueries({ queryKey: keys.lists })
          for (const id of ids) {
            void client.invalidateQueries({ queryKey: keys.note(id) })
            void client.invalidateQueries({ queryKey: keys.shares(id) })
          }
        }, FEED_DEBOUNCE_MS)
      },
      // a list request already under way answers for this moment too: do not abort it
      onConnect: () => void client.invalidateQueries({ queryKey: keys.lists }, { cancelRefetch: false }),
      onSignedOut: signedOut,
    })
    void feed.connect()
    return () => {
      clearTimeout(timer.current)
      feed.destroy()
    }
  }, [user, client, signedOut])

  // notes created offline: sent when the browser is online, retried (backed off) while the
  // server cannot be reached yet
  useEffect(() => {
    let retry: ReturnType<typeof setTimeout> | undefined
    let attempt = 0
    const flush = () => {
      clearTimeout(retry)
      void flushOutbox((item, err) => toast(`“${item.title}” could not be created: ${err.message}`, 'error')).then((sent) => {
        if (sent) void client.invalidateQueries({ queryKey: keys.lists }, { cancelRefetch: false })
        if (queuedCreates().length && navigator.onLine) {
          retry = setTimeout(flush, Math.min(60_000, 2000 * 2 ** attempt++))
        } else attempt = 0
      })
    }
    if (navigator.onLine && queuedCreates().length) flush()
    const online = () => {
      attempt = 0
      flush()
    }
    window.addEventListener('online', online)
    return () => {
      clearTimeout(retry)
      window.removeEventListener('online', online)
    }
  }, [client])

  // notes changed offline and closed since: synced in the background once online
  const { noteId } = useParams()
  const openNote = useRef(noteId)
  openNote.current = noteId
  useEffect(() => {
    const sync = () =>
      void syncPendingNotes((id) => id === openNote.current, signedOut)
    if (navigator.onLine && notesWithPendingChanges().length) sync()
    window.addEventListener('online', sync)
    return () => window.removeEventListener('online', sync)
  }, [client, signedOut])

  return (
    <div className="shell">
      <aside className="sidebar" aria-label="Your notes">
        <Sidebar />
      </aside>
      <main className="main" id="main">
        <Outlet context={{ signedOut }} />
      </main>
    </div>
  )
}
