// App-shell cache so the notes page opens with the network down. API and collaboration
// traffic is never cached here: documents live in IndexedDB (y-indexeddb).
const CACHE = 'workbook-shell-v2'

// Cache the shell and every hashed asset of this build (precache.json, written by the build:
// each area of the app is its own chunk), so a reload with the network down works anywhere.
async function cacheShell() {
  const cache = await caches.open(CACHE)
  const response = await fetch('/', { cache: 'no-store' })
  const assets = await fetch('/precache.json', { cache: 'no-store' })
    .then((r) => (r.ok ? r.json() : []))
    .catch(() => [])
  await cache.put('/', response)
  await cache.addAll(['/favicon.svg', ...assets])
}

self.addEventListener('install', (event) => {
  event.waitUntil(cacheShell().then(() => self.skipWaiting()))
})

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  )
})

self.addEventListener('fetch', (event) => {
  const request = event.request
  const url = new URL(request.url)
  if (request.method !== 'GET' || url.origin !== self.location.origin) return
  if (url.pathname.startsWith('/api/') || url.pathname.startsWith('/collab/')) return
  if (request.mode === 'navigate') {
    // network first, so a new build is picked up at once; the cached shell when offline
    event.respondWith(
      fetch(request)
        .then((response) => {
          const copy = response.clone()
          caches.open(CACHE).then((cache) => cache.put('/', copy))
          return response
        })
        .catch(() => caches.match('/').then((cached) => cached || Response.error())),
    )
    return
  }
  if (url.pathname.startsWith('/assets/') || url.pathname === '/favicon.svg') {
    // hashed file names: cache first is safe
    event.respondWith(
      caches.match(request).then((cached) => cached || fetch(request).then((response) => {
        if (response.ok) {
          const copy = response.clone()
          caches.open(CACHE).then((cache) => cache.put(request, copy))
        }
        return response
      })),
    )
  }
})
