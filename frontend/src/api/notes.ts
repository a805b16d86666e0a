/**
 * Notes server state through TanStack Query. The list is never polled: it is invalidated by the
 * user's change feed (collab/userFeed.ts) and after the page's own changes. Searches wait for a
 * pause in typing (the caller debounces) and a superseded search is aborted (the query's
 * AbortSignal goes to fetch).
 */
import { keepPreviousData, useQuery, type QueryClient } from '@tanstack/react-query'
import { api, ApiError, must, OfflineError, type Schemas } from './client'
import { queuedCreates, type QueuedCreate } from '../collab/outbox'

export type Note = Schemas['NoteOut']
export type NoteList = Schemas['NoteList']
export type Share = Schemas['ShareOut']
export type Version = Schemas['VersionOut']

export interface ListFilter {
  search: string
  tags: string[]
  /** Only the notes linked to this live session (the caller's notes for it). */
  sessionId?: string | null
}

export const PAGE = 50
const CACHE_KEY = 'collab.notesCache'

export const keys = {
  lists: ['notes', 'list'] as const,
  list: (filter: ListFilter) => ['notes', 'list', filter.search, filter.tags.join(','), filter.sessionId ?? ''] as const,
  note: (id: string) => ['notes', 'one', id] as const,
  shares: (id: string) => ['notes', 'shares', id] as const,
  versions: (id: string) => ['notes', 'versions', id] as const,
}

/** A note that exists only on this device yet, shaped like the server's. */
export function localNote(item: QueuedCreate): Note {
  return {
    id: item.id,
    title: item.title,
    tags: item.tags,
    folder: item.folder,
    access: 'owner',
    isPrivate: true,
    moduleId: null,
    ownerId: '',
    document: `notes/${item.id}`,
    version: 0,
    snippet: null,
    content: null,
    createdAt: item.createdAt,
    updatedAt: item.createdAt,
  }
}

function cachedNotes(): Note[] {
  try {
    return JSON.parse(localStorage.getItem(CACHE_KEY) ?? '[]') as Note[]
  } catch {
    return []
  }
}

export interface ListResult extends NoteList {
  offline: boolean
}

/** Notes created offline and not yet on the server come first in the unfiltered list. */
function withQueued(notes: Note[], filter: ListFilter): Note[] {
  if (filter.search || filter.tags.length || filter.sessionId) return notes
  const queued = queuedCreates().map(localNote).filter((q) => !notes.some((n) => n.id === q.id))
  return [...queued.reverse(), ...notes]
}

async function fetchList(filter: ListFilter, pages: number, signal: AbortSignal): Promise<ListResult> {
  try {
    const body = must(
      await api.GET('/api/workbook/notes', {
        params: {
          query: {
            ...(filter.search ? { search: filter.search } : {}),
            ...(filter.tags.length ? { tags: filter.tags } : {}),
            ...(filter.sessionId ? { sessionId: filter.sessionId } : {}),
            limit: PAGE * pages,
          },
        },
        signal,
      }),
    )
    if (!filter.search && !filter.tags.length && !filter.sessionId) {
      localStorage.setItem(CACHE_KEY, JSON.stringify(body.notes.map((n) => ({ ...n, snippet: null }))))
    }
    const notes = withQueued(body.notes, filter)
    return { ...body, notes, total: body.total + notes.length - body.notes.length, offline: false }
  } catch (err) {
    if (!(err instanceof OfflineError)) throw err
    const q = filter.search.toLowerCase()
    const notes = withQueued(cachedNotes(), { search: '', tags: [] }).filter(
      (n) =>
        (!q || n.title.toLowerCase().includes(q)) &&
        filter.tags.every((t) => n.tags.includes(t)) &&
        (!filter.sessionId || n.sessionId === filter.sessionId),
    )
    return { notes, total: notes.length, hasMore: false, offline: true, success: true } as ListResult
  }
}

export function useNotesList(filter: ListFilter, pages: number) {
  return useQuery({
    queryKey: [...keys.list(filter), pages],
    queryFn: ({ signal }) => fetchList(filter, pages, signal),
    placeholderData: keepPreviousData,
    staleTime: 30_000,
    // a 429 is shown as such; retrying it would only make the wait longer
    retry: (count, err) => !(err instanceof ApiError && err.status < 500) && count < 2,
  })
}

/** The note from the list cache (or the offline copy), to show while its own read runs. */
export function knownNote(client: QueryClient, id: string): Note | undefined {
  for (const [, data] of client.getQueriesData<ListResult>({ queryKey: keys.lists })) {
    const hit = data?.notes.find((n) => n.id === id)
    if (hit) return hit
  }
  const queued = queuedCreates().find((q) => q.id === id)
  return queued ? localNote(queued) : cachedNotes().find((n) => n.id === id)
}

/** Apply `fn` to the note in every cached list (a rename, tags, a new note). */
export function patchLists(client: QueryClient, fn: (notes: Note[]) => Note[]): void {
  client.setQueriesData<ListResult>({ queryKey: keys.lists }, (data) => {
    if (!data) return data
    const notes = fn(data.notes)
    return { ...data, notes, total: data.total + notes.length - data.notes.length }
  })
}

export function patchNote(client: QueryClient, id: string, change: Partial<Note>): void {
  patchLists(client, (notes) => notes.map((n) => (n.id === id ? { ...n, ...change } : n)))
  client.setQueryData<Note>(keys.note(id), (note) => (note ? { ...note, ...change } : note))
}

export async function fetchNote(id: string, signal?: AbortSignal): Promise<Note> {
  return must(await api.GET('/api/workbook/notes/{id}', { params: { path: { id } }, signal })).note
}
