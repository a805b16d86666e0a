/** Boot: restore the session, then render the app (router + query cache). */
import './styles.css'
import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { App } from './App'
import { hasStoredSession, OfflineError, refresh, SignedOutError, token } from './lib/session'
import { toast } from './ui/toast'

async function boot(): Promise<void> {
  if (hasStoredSession() && !token()) {
    try {
      await refresh()
    } catch (err) {
      if (err instanceof OfflineError && !(err instanceof SignedOutError)) {
        toast('You are offline. Your notes open from this device and sync when you reconnect.')
      }
    }
  }
  const root = document.getElementById('root')
  if (!root) throw new Error('index.html has no #root')
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  )
}

if ('serviceWorker' in navigator && import.meta.env.PROD) {
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('/sw.js').catch(() => undefined)
  })
}

void boot()
