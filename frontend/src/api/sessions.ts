/**
 * Sessions server state through TanStack Query. Nothing is polled: the list is refetched when
 * the page opens and after the page's own changes; the room itself is live over its socket.
 */
import { useQuery } from '@tanstack/react-query'
import { api, must, type Schemas } from './client'

export type Session = Schemas['SessionOut']
export type SessionCreate = Schemas['SessionCreate']
export type JoinResult = Schemas['JoinResult']
export type SessionFilter = 'upcoming' | 'live' | 'past' | 'mine'

export const sessionKeys = {
  all: ['sessions'] as const,
  list: (filter: SessionFilter) => ['sessions', 'list', filter] as const,
  one: (id: string) => ['sessions', 'one', id] as const,
}

export function useSessionList(filter: SessionFilter) {
  return useQuery({
    queryKey: sessionKeys.list(filter),
    queryFn: async ({ signal }) =>
      must(await api.GET('/api/workbook/sessions', { params: { query: { filter, limit: 100 } }, signal })),
    staleTime: 0,
  })
}

export async function createSession(body: SessionCreate): Promise<Schemas['SessionCreated']> {
  return must(await api.POST('/api/workbook/sessions', { body }))
}

let skewMs = 0

/**
 * How far the server's clock is ahead of this device's (ms), from the `Date` header of the last
 * join: a room's times (the timer's `startedAt`) are server times. The header has whole
 * seconds, so only a skew over 2 s is corrected.
 */
export function serverSkew(): number {
  return skewMs
}

export async function joinSession(id: string): Promise<JoinResult> {
  const sent = Date.now()
  const result = await api.POST('/api/workbook/sessions/{sessionId}/join', { params: { path: { sessionId: id } } })
  const date = Date.parse(result.response.headers.get('date') ?? '')
  if (!Number.isNaN(date)) {
    const skew = date + 500 - (sent + Date.now()) / 2
    skewMs = Math.abs(skew) > 2000 ? skew : 0
  }
  return must(result)
}

export async function startSession(id: string): Promise<Session> {
  return must(await api.POST('/api/workbook/sessions/{sessionId}/start', { params: { path: { sessionId: id } } })).session
}

/** Record leaving the session (the room's socket closing records it too, but only on a node's
 * last connection of this user: an explicit leave is exact). */
export async function leaveSession(id: string): Promise<void> {
  must(await api.POST('/api/workbook/sessions/{sessionId}/leave', { params: { path: { sessionId: id } } }))
}

/** Download the export (json or md) through the signed-in client, as a file. */
export async function downloadExport(id: string, format: 'json' | 'md', title: string): Promise<void> {
  const result = await api.GET('/api/workbook/sessions/{sessionId}/export', {
    params: { path: { sessionId: id }, query: { format } },
    parseAs: 'blob',
  })
  const blob = must(result) as Blob
  const url = URL.createObjectURL(blob)
  const link = document.createElement('a')
  link.href = url
  link.download = `${title.replace(/[^\w -]+/g, '').trim() || 'session'}.${format}`
  link.click()
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}

/** The signed-in account as the server sees it now (the role may have changed since sign-in). */
export function useMe() {
  return useQuery({
    queryKey: ['auth', 'me'],
    queryFn: async ({ signal }) => must(await api.GET('/api/workbook/auth/me', { signal })).user,
    staleTime: 60_000,
  })
}

/** May this account schedule sessions (the server's `sessions.host` permission)? */
export function canHost(role: string | undefined): boolean {
  return role === 'premium' || role === 'host' || role === 'admin'
}
