// The grid worker's page keeps working without a network: this service worker keeps the app shell
// (index.html and the built scripts and styles the page needs) in the browser's cache, so /grid opens
// offline; the reports themselves wait in IndexedDB (src/outbox.js) until the network returns.
//
// Registered by the grid page with scope /grid, so it serves only that page's navigations; the
// scripts it loads are served from the cache whatever their path. API requests always go to the
// network. The build (vite.config.js) writes this file to /sw.js with SHELL_VERSION and SHELL_FILES
// in front, so every new build is a new worker that fetches the new files and drops the old ones.
/* global SHELL_VERSION, SHELL_FILES */
const PREFIX = 'fengqiao-shell-'
const CACHE = PREFIX + SHELL_VERSION
const SHELL = '/index.html'

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE)
    // index.html is fetched fresh (no-cache) so an old copy never points at missing scripts.
    await cache.put(SHELL, await fetch(SHELL, { cache: 'no-cache' }))
    await cache.addAll(SHELL_FILES)
    await self.skipWaiting()
  })())
})

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name)
    }
    await self.clients.claim()
  })())
})

self.addEventListener('fetch', (event) => {
  const req = event.request
  if (req.method !== 'GET') return
  const url = new URL(req.url)
  if (url.origin !== self.location.origin || url.pathname.startsWith('/api/')) return
  if (req.mode === 'navigate') {
    // The page itself: the network first (a new build shows at once), the cached shell offline.
    event.respondWith((async () => {
      try {
        const res = await fetch(req)
        if (res.ok) {
          const cache = await caches.open(CACHE)
          await cache.put(SHELL, res.clone())
        }
        return res
      } catch {
        const cached = await caches.match(SHELL, { cacheName: CACHE })
        return cached || Response.error()
      }
    })())
    return
  }
  if (url.pathname.startsWith('/assets/') || url.pathname === '/favicon.svg') {
    // Built files carry a content hash in their name: the cached copy is always right.
    event.respondWith((async () => {
      const cache = await caches.open(CACHE)
      const cached = await cache.match(req)
      if (cached) return cached
      const res = await fetch(req)
      if (res.ok) await cache.put(req, res.clone())
      return res
    })())
  }
})

// The page asks whether everything it needs offline is in the cache.
self.addEventListener('message', (event) => {
  if (event.data?.type !== 'offline-ready?') return
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE)
    const ready = (await Promise.all([SHELL, ...SHELL_FILES].map((f) => cache.match(f)))).every(Boolean)
    event.source?.postMessage({ type: 'offline-ready', ready })
  })())
})
