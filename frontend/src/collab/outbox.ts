/**
 * Notes created while offline. The page picks the id itself (crypto.randomUUID()), keeps the
 * document in IndexedDB and queues `POST /api/workbook/notes {id, title, ...}` here (in
 * localStorage, so a reload keeps it). The create is idempotent on the server (200 when this
 * user already created that id, 201 when new, 409 when the id belongs to someone else), so
 * sending a queued create twice is harmless. Flushed when the browser comes online; resolves to
 * the number of entries that left the queue.
 */
import { api, ApiError, OfflineError, apiError } from '../api/client'
import type { Schemas } from '../api/http'

export interface QueuedCreate {
  id: string
  title: string
  tags: string[]
  folder: string | null
  createdAt: string
}

const KEY = 'collab.outbox'
const listeners = new Set<() => void>()

export function queuedCreates(): QueuedCreate[] {
  try {
    return JSON.parse(localStorage.getItem(KEY) ?? '[]') as QueuedCreate[]
  } catch {
    return []
  }
}

function store(items: QueuedCreate[]): void {
  if (items.length) localStorage.setItem(KEY, JSON.stringify(items))
  else localStorage.removeItem(KEY)
  for (const fn of listeners) fn()
}

export function isQueued(id: string): boolean {
  return queuedCreates().some((q) => q.id === id)
}

export function enqueue(item: QueuedCreate): void {
  store([...queuedCreates().filter((q) => q.id !== item.id), item])
}

/** A note still queued was renamed, tagged or filed: its create carries the latest values. */
export function updateQueued(id: string, change: Partial<Pick<QueuedCreate, 'title' | 'tags' | 'folder'>>): void {
  const items = queuedCreates()
  if (!items.some((q) => q.id === id)) return
  store(items.map((q) => (q.id === id ? { ...q, ...change } : q)))
}

export function onOutboxChange(fn: () => void): () => void {
  listeners.add(fn)
  return () => listeners.delete(fn)
}

/** The create request; the body carries the page's own id (the server's idempotency key). */
export async function sendCreate(item: Omit<QueuedCreate, 'createdAt'>): Promise<Schemas['NoteOut']> {
  const body = {
    id: item.id,
    title: item.title,
    content: '',
    tags: item.tags,
    isPrivate: true,
    ...(item.folder ? { folder: item.folder } : {}),
  }
  const { data, error, response } = await api.POST('/api/workbook/notes', { body })
  if (!response.ok || !data) throw apiError(response, error)
  return data.note
}

let flushing: Promise<number> | null = null

/**
 * Send every queued create, oldest first; stop at the first network failure. A refusal other
 * than "offline" (409: the id is taken, 4xx: invalid) drops the entry and reports it.
 */
export function flushOutbox(onRefused: (item: QueuedCreate, err: ApiError) => void): Promise<number> {
  flushing ??= (async () => {
    let sent = 0
    try {
      for (const item of queuedCreates()) {
        try {
          await sendCreate(item)
        } catch (err) {
          if (err instanceof OfflineError) return sent
          if (err instanceof ApiError && err.status >= 400 && err.status < 500 && err.status !== 429) {
            onRefused(item, err)
          } else {
            return sent // 5xx or 429: keep it for the next attempt
          }
        }
        store(queuedCreates().filter((q) => q.id !== item.id))
        sent += 1
      }
      return sent
    } finally {
      flushing = null
    }
  })()
  return flushing
}
