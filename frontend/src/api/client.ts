/**
 * The signed-in REST client: every call carries `Authorization: Bearer <access JWT>`, fetched
 * fresh when it is about to expire, and is retried once after a refresh when the server answers
 * 401. Response types come from `schema.d.ts` (generated from `/openapi.json`: `npm run gen:api`).
 */
import createClient from 'openapi-fetch'
import { freshToken, refresh } from '../lib/session'
import { netFetch } from './http'
import type { paths } from './schema'

function withToken(request: Request, token: string): Request {
  const headers = new Headers(request.headers)
  headers.set('Authorization', `Bearer ${token}`)
  return new Request(request, { headers })
}

/** fetch with the session's token; one retry with a refreshed token on 401. */
export async function authedFetch(request: Request): Promise<Response> {
  const retry = request.clone()
  const response = await netFetch(withToken(request, await freshToken()))
  if (response.status !== 401) return response
  return netFetch(withToken(retry, await refresh()))
}

export const api = createClient<paths>({ fetch: authedFetch, credentials: 'same-origin' })
export { ApiError, OfflineError, apiError, describe, must, type Schemas } from './http'
