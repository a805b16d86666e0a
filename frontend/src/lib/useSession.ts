/** The signed-in user as React state (follows sign-in, refresh and sign-out in this tab). */
import { useSyncExternalStore } from 'react'
import { onSessionChange, user, type User } from './session'

export function useUser(): User | null {
  return useSyncExternalStore(onSessionChange, user)
}
