import { defineConfig } from 'vite'

// The page is served by `collab serve` at `/`; during `npm run dev` the API and the
// collaboration socket are proxied to a local server (COLLAB_DEV_SERVER, default :8000).
const backend = process.env.COLLAB_DEV_SERVER ?? 'http://127.0.0.1:8000'

export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    sourcemap: true,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    proxy: {
      '/api': backend,
      '/collab': { target: backend, ws: true },
    },
  },
})
