/**
 * Notes changed offline and closed before the network came back still have their changes only
 * in IndexedDB (their pending parts are listed in localStorage). When the browser is online,
 * each is opened without an editor, synced, and closed again, one at a time.
 */
import { NoteConnection } from './connection'
import { isQueued } from './outbox'

const PENDING = 'collab.pending.'
const SYNC_TIMEOUT_MS = 20_000

export function notesWithPendingChanges(): string[] {
  return Object.keys(localStorage)
    .filter((key) => key.startsWith(PENDING))
    .map((key) => key.slice(PENDING.length))
}

let running: Promise<void> | null = null

export function syncPendingNotes(isOpen: (noteId: string) => boolean, onSignedOut: (message: string) => void): Promise<void> {
  running ??= (async () => {
    try {
      for (const noteId of notesWithPendingChanges()) {
        if (!navigator.onLine) return
        if (isOpen(noteId) || isQueued(noteId)) continue
        const connection = new NoteConnection(noteId, onSignedOut)
        try {
          await connection.start()
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, SYNC_TIMEOUT_MS)
            connection.subscribe((state) => {
              if ((state.kind === 'saved' && state.pending === 0) || state.kind === 'error') {
                clearTimeout(timer)
                resolve()
              }
            })
          })
        } finally {
          connection.destroy()
        }
      }
    } finally {
      running = null
    }
  })()
  return running
}
