import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { defineConfig, type Plugin } from 'vite'
import react from '@vitejs/plugin-react'
import { compression } from 'vite-plugin-compression2'

// The page is served by `collab serve` at `/` (api/static.py: SPA fallback, precompressed
// .br/.gz, immutable caching of /assets/*); during `npm run dev` the API and the collaboration
// socket are proxied to a local server (COLLAB_DEV_SERVER, default :8000).
const backend = process.env.COLLAB_DEV_SERVER ?? 'http://127.0.0.1:8000'
const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as {
  bundleBudget: { firstLoadJsGzipKiB: number }
}

/**
 * Print the first-load JS (the entry chunk and every chunk it imports statically, i.e. what
 * index.html makes the browser fetch before the first paint) gzipped, against the budget in
 * package.json. tests/browser/test_app_shell.py checks the same number from dist/index.html.
 */
function firstLoadReport(): Plugin {
  return {
    name: 'first-load-report',
    apply: 'build',
    generateBundle(_options, bundle) {
      const entry = Object.values(bundle).find((c) => c.type === 'chunk' && c.isEntry)
      if (!entry || entry.type !== 'chunk') return
      const seen = new Set<string>()
      const visit = (name: string) => {
        if (seen.has(name)) return
        seen.add(name)
        const chunk = bundle[name]
        if (chunk?.type === 'chunk') chunk.imports.forEach(visit)
      }
      visit(entry.fileName)
      let bytes = 0
      for (const name of seen) {
        const chunk = bundle[name]
        if (chunk?.type === 'chunk') bytes += gzipSync(chunk.code, { level: 9 }).length
      }
      const kib = bytes / 1024
      const budget = pkg.bundleBudget.firstLoadJsGzipKiB
      this.info(`first-load JS: ${kib.toFixed(1)} KiB gzipped in ${seen.size} file(s) (budget ${budget} KiB)`)
      if (kib > budget) this.error(`first-load JS ${kib.toFixed(1)} KiB is over the budget of ${budget} KiB`)
    },
  }
}

/**
 * `precache.json`: every file under assets/ of this build, so the service worker can keep the
 * whole app (each area is its own chunk) for opening with the network down.
 */
function precacheList(): Plugin {
  return {
    name: 'precache-list',
    apply: 'build',
    generateBundle(_options, bundle) {
      const files = Object.keys(bundle)
        .filter((name) => name.startsWith('assets/') && !name.endsWith('.map'))
        .map((name) => `/${name}`)
        .sort()
      this.emitFile({ type: 'asset', fileName: 'precache.json', source: JSON.stringify(files) })
    },
  }
}

export default defineConfig({
  base: '/',
  plugins: [
    react(),
    firstLoadReport(),
    precacheList(),
    compression({ algorithms: ['gzip', 'brotliCompress'], threshold: 512, exclude: [/\.map$/] }),
  ],
  build: {
    outDir: 'dist',
    // no public source maps: the server never serves *.map and the build emits none
    sourcemap: false,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    proxy: {
      '/api': backend,
      '/openapi.json': backend,
      '/collab': { target: backend, ws: true },
    },
  },
})
