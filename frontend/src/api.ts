/** JSON calls to the REST layer with the Bearer access token, refreshing it once on a 401. */
import { freshToken, OfflineError, refresh } from './session'

export interface FieldError {
  field: string
  message: string
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: FieldError[] = [],
  ) {
    super(message)
  }
}

export interface Note {
  id: string
  title: string
  content?: string
  snippet?: string
  tags: string[]
  isPrivate?: boolean
  moduleId?: string | null
  folder?: string | null
  userId?: string
  ownerId?: string
  owner?: { id: string; name?: string; email?: string }
  /** The caller's access: the server sends `access`; `permission` is tolerated too. */
  access?: 'owner' | 'write' | 'read' | string
  permission?: 'owner' | 'write' | 'read' | string
  version?: number
  document?: string
  canEdit?: boolean
  shares?: Share[]
  createdAt?: string
  updatedAt?: string
}

export interface Share {
  userId: string
  email?: string
  name?: string
  permission: 'read' | 'write'
  createdAt?: string
}

export interface Version {
  id: string
  name?: string | null
  createdAt: string
  auto?: boolean
}

type Query = Record<string, string | number | undefined | null>

export interface RequestOptions {
  method?: string
  body?: unknown
  query?: Query
  raw?: boolean
}

export function buildUrl(path: string, query?: Query): string {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value))
  }
  const qs = params.toString()
  return qs ? `${path}?${qs}` : path
}

async function send(path: string, options: RequestOptions, token: string): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json', Authorization: `Bearer ${token}` }
  if (options.body !== undefined) headers['Content-Type'] = 'application/json'
  try {
    return await fetch(buildUrl(path, options.query), {
      method: options.method ?? 'GET',
      headers,
      credentials: 'same-origin',
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    })
  } catch {
    throw new OfflineError('You are offline')
  }
}

export async function errorFrom(response: Response): Promise<ApiError> {
  let code = 'http_error'
  let message = `Request failed (${response.status})`
  let fields: FieldError[] = []
  try {
    const body = await response.json()
    const err = body?.error ?? body
    if (typeof err?.code === 'string') code = err.code
    if (typeof err?.message === 'string') message = err.message
    else if (typeof body?.message === 'string') message = body.message
    if (Array.isArray(err?.fields)) fields = err.fields
  } catch {
    // not JSON: keep the generic message
  }
  return new ApiError(response.status, code, message, fields)
}

/** Call the API; returns the Response when `raw`, else the parsed JSON body. */
export async function api<T = unknown>(path: string, options: RequestOptions = {}): Promise<T> {
  let response = await send(path, options, await freshToken())
  if (response.status === 401) response = await send(path, options, await refresh())
  if (options.raw) {
    if (!response.ok) throw await errorFrom(response)
    return response as unknown as T
  }
  if (!response.ok) throw await errorFrom(response)
  if (response.status === 204) return undefined as T
  return (await response.json()) as T
}

export const notesApi = {
  list: (query: { search?: string; tags?: string; folder?: string; limit?: number; offset?: number }) =>
    api<{ notes: Note[]; total: number; hasMore: boolean }>('/api/workbook/notes', { query }),
  get: (id: string) => api<{ note?: Note } & Partial<Note>>(`/api/workbook/notes/${id}`),
  create: (body: { title: string; content: string; tags: string[]; isPrivate: boolean; moduleId?: string; folder?: string }) =>
    api<{ success?: boolean; note: Note }>('/api/workbook/notes', { method: 'POST', body }),
  update: (id: string, body: Partial<Pick<Note, 'title' | 'tags' | 'isPrivate' | 'folder'>>) =>
    api<{ note?: Note } & Partial<Note>>(`/api/workbook/notes/${id}`, { method: 'PATCH', body }),
  remove: (id: string) => api<void>(`/api/workbook/notes/${id}`, { method: 'DELETE' }),
  share: (id: string, email: string, permission: 'read' | 'write') =>
    api<{ share?: Share } & Partial<Share>>(`/api/workbook/notes/${id}/shares`, {
      method: 'POST',
      body: { email, permission },
    }),
  shares: (id: string) => api<{ shares: Share[] }>(`/api/workbook/notes/${id}/shares`),
  unshare: (id: string, userId: string) =>
    api<void>(`/api/workbook/notes/${id}/shares/${userId}`, { method: 'DELETE' }),
  versions: (id: string) => api<{ versions: Version[] }>(`/api/workbook/notes/${id}/versions`),
  createVersion: (id: string, name: string) =>
    api<{ version?: Version }>(`/api/workbook/notes/${id}/versions`, { method: 'POST', body: { name } }),
  version: (id: string, versionId: string) =>
    api<Record<string, unknown>>(`/api/workbook/notes/${id}/versions/${versionId}`),
  restore: (id: string, versionId: string) =>
    api<unknown>(`/api/workbook/notes/${id}/versions/${versionId}/restore`, { method: 'POST', body: {} }),
}

/** The note object whether the server wraps it (`{note}`) or not. */
export function unwrapNote(body: { note?: Note } & Partial<Note>): Note {
  return (body.note ?? body) as Note
}
