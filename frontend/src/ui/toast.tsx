/** Short-lived messages at the bottom of the screen, announced to screen readers. */
import { useSyncExternalStore } from 'react'

interface Toast {
  id: number
  message: string
  kind: 'info' | 'error'
}

let toasts: Toast[] = []
let counter = 0
const listeners = new Set<() => void>()

function emit(): void {
  for (const fn of listeners) fn()
}

export function toast(message: string, kind: 'info' | 'error' = 'info'): void {
  const item = { id: ++counter, message, kind }
  toasts = [...toasts, item]
  emit()
  setTimeout(() => {
    toasts = toasts.filter((t) => t !== item)
    emit()
  }, 3000)
}

function subscribe(fn: () => void): () => void {
  listeners.add(fn)
  return () => listeners.delete(fn)
}

export function Toasts() {
  const items = useSyncExternalStore(subscribe, () => toasts)
  return (
    <div id="toasts" className="toasts" role="status" aria-live="polite">
      {items.map((t) => (
        <div key={t.id} className={`toast toast-${t.kind}`}>
          {t.message}
        </div>
      ))}
    </div>
  )
}
