/**
 * The typed REST clients (openapi-fetch over the generated `schema.d.ts`) without the session:
 * `publicApi` for sign-in/up/refresh, and the error shapes every call shares.
 */
import createClient from 'openapi-fetch'
import type { components, paths } from './schema'

export type Schemas = components['schemas']

/** The network is unreachable (as opposed to the server refusing us). */
export class OfflineError extends Error {}

export interface FieldError {
  field: string
  message: string
}

/** A non-2xx answer: `{error: {code, message, fields?}}` (ErrorBody in the spec). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: FieldError[] = [],
    /** Seconds to wait, from `Retry-After` (429 and 503 answers). */
    readonly retryAfter: number | null = null,
  ) {
    super(message)
  }
}

/** fetch, with "cannot reach the server" turned into OfflineError (aborts stay AbortError). */
export async function netFetch(request: Request): Promise<Response> {
  try {
    return await fetch(request)
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err
    throw new OfflineError('You are offline')
  }
}

export const publicApi = createClient<paths>({ fetch: netFetch, credentials: 'same-origin' })

function retryAfter(response: Response): number | null {
  const raw = response.headers.get('Retry-After')
  if (!raw) return null
  const seconds = Number(raw)
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds))
  const at = Date.parse(raw)
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000))
}

/** The ApiError for a failed answer, from its ErrorBody when it has one. */
export function apiError(response: Response, body: unknown): ApiError {
  const err = (body as Partial<Schemas['ErrorBody']> | undefined)?.error
  const fields = (err?.fields ?? []).map((f) => ({ field: f.field ?? '', message: f.message ?? '' }))
  return new ApiError(
    response.status,
    err?.code ?? 'http_error',
    err?.message ?? `Request failed (${response.status})`,
    fields,
    retryAfter(response),
  )
}

/** The body of a 2xx answer, or throw the ApiError of any other. */
export function must<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (!result.response.ok) throw apiError(result.response, result.error)
  return result.data as T
}

/** What to tell the user about a failed call, in one sentence. */
export function describe(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 429) {
      return err.retryAfter !== null
        ? `Too many requests, retry in ${err.retryAfter} s.`
        : 'Too many requests, retry in a moment.'
    }
    return err.fields[0]?.message ?? err.message
  }
  if (err instanceof OfflineError) return 'You are offline.'
  return err instanceof Error ? err.message : String(err)
}
