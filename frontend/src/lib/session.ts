/**
 * The signed-in user: the access token lives in memory only; the refresh token is kept in
 * localStorage so a reload (or a page opened offline) can resume the session. Refreshes are
 * serialised across tabs with the Web Locks API, because the server rotates refresh tokens and
 * treats a reused one as theft (it revokes the whole family).
 */

import { OfflineError, publicApi, type Schemas } from '../api/http'

export type User = Schemas['UserOut']
export type AuthResponse = Schemas['Session']
export { OfflineError }

const REFRESH_KEY = 'collab.refreshToken'
const USER_KEY = 'collab.user'

/** The server refused the credentials: the user must sign in again. */
export class SignedOutError extends Error {}

/** Said on the sign-in page when the server ended this device's session (not the user). */
export const SESSION_ENDED =
  'You were signed out on this device: the password was changed, “sign out everywhere” was used, or the account was deleted. Sign in again.'

let accessToken: string | null = null
let signOutNotice: string | null = null
let currentUser: User | null = readCachedUser()
const listeners = new Set<() => void>()

function readCachedUser(): User | null {
  try {
    const raw = localStorage.getItem(USER_KEY)
    return raw ? (JSON.parse(raw) as User) : null
  } catch {
    return null
  }
}

export function user(): User | null {
  return currentUser
}

export function token(): string | null {
  return accessToken
}

export function hasStoredSession(): boolean {
  return localStorage.getItem(REFRESH_KEY) !== null && currentUser !== null
}

export function onSessionChange(fn: () => void): () => void {
  listeners.add(fn)
  return () => listeners.delete(fn)
}

function notify(): void {
  for (const fn of listeners) fn()
}

function claims(): { exp?: number; iat?: number } {
  try {
    const payload = (accessToken ?? '').split('.')[1] ?? ''
    return JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { exp?: number; iat?: number }
  } catch {
    return {}
  }
}

/** Seconds until the access token expires (negative when expired, -Infinity without one). */
export function tokenSecondsLeft(): number {
  if (!accessToken) return -Infinity
  const { exp } = claims()
  return typeof exp === 'number' ? exp - Date.now() / 1000 : Infinity
}

/** How early to refresh: 30 s, or a quarter of the token's lifetime when that is shorter. */
function refreshMargin(requested: number): number {
  const { exp, iat } = claims()
  return typeof exp === 'number' && typeof iat === 'number' ? Math.min(requested, (exp - iat) / 4) : requested
}

export function accept(response: AuthResponse): void {
  accessToken = response.token
  currentUser = response.user
  localStorage.setItem(USER_KEY, JSON.stringify(response.user))
  localStorage.setItem('collab.lastUserId', response.user.id)
  if (response.refreshToken) localStorage.setItem(REFRESH_KEY, response.refreshToken)
  notify()
}

/**
 * Forget the session. `notice` (kept until the sign-in page takes it) says why, when it was not
 * the user's own doing; a later clear without one keeps it, so the first reason wins.
 */
export function clear(notice?: string): void {
  if (notice) signOutNotice = notice
  accessToken = null
  currentUser = null
  localStorage.removeItem(REFRESH_KEY)
  localStorage.removeItem(USER_KEY)
  notify()
}

/** Why the session ended, once: the sign-in page shows it. */
export function takeSignOutNotice(): string | null {
  const notice = signOutNotice
  signOutNotice = null
  return notice
}

let inflight: Promise<string> | null = null

/**
 * Exchange the stored refresh token for a new access token (and a rotated refresh token).
 * Concurrent callers share one request; other tabs wait on a lock and then use the token the
 * first tab stored.
 */
export function refresh(): Promise<string> {
  if (!inflight) {
    inflight = withLock(doRefresh).finally(() => {
      inflight = null
    })
  }
  return inflight
}

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  const locks = (navigator as Navigator & { locks?: LockManager }).locks
  if (!locks) return fn()
  return locks.request('collab-refresh', () => fn()) as Promise<T>
}

async function doRefresh(): Promise<string> {
  const stored = localStorage.getItem(REFRESH_KEY)
  const { data, response } = await publicApi.POST('/api/workbook/auth/refresh', {
    body: stored ? { refreshToken: stored } : {},
  })
  if (response.status === 401 || response.status === 403 || response.status === 400) {
    clear(SESSION_ENDED)
    throw new SignedOutError(SESSION_ENDED)
  }
  if (!response.ok || !data) throw new OfflineError(`Refresh failed (${response.status})`)
  accessToken = data.token
  localStorage.setItem(REFRESH_KEY, data.refreshToken)
  notify()
  return data.token
}

/** A valid access token, refreshed first when it expires within `margin` seconds. */
export async function freshToken(margin = 30): Promise<string> {
  if (accessToken && tokenSecondsLeft() > refreshMargin(margin)) return accessToken
  return refresh()
}

export function login(email: string, password: string) {
  return publicApi.POST('/api/workbook/auth/login', { body: { email, password } })
}

export function register(name: string, email: string, password: string) {
  return publicApi.POST('/api/workbook/auth/register', { body: { name, email, password } })
}

export async function logout(): Promise<void> {
  const stored = localStorage.getItem(REFRESH_KEY)
  try {
    await publicApi.POST('/api/workbook/auth/logout', {
      body: stored ? { refreshToken: stored } : {},
      headers: accessToken ? { Authorization: `Bearer ${accessToken}` } : {},
    })
  } catch {
    // Signing out locally still works offline; the refresh token expires on its own.
  }
  clear()
  signOutNotice = null // the user's own doing: nothing to explain
}
