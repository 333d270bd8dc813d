import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

// The pages that must open without a network (the grid worker's phone), and the sign-in page in case
// its session has ended. Their scripts and styles, with everything they import, are written into the
// service worker (src/sw.js → /sw.js) for it to keep; a new build is a new worker.
const OFFLINE_PAGES = ['/src/views/GridWorker.vue', '/src/views/Login.vue']

function serviceWorker() {
  return {
    name: 'fengqiao-service-worker',
    apply: 'build',
    generateBundle(_options, bundle) {
      const chunks = Object.values(bundle).filter((c) => c.type === 'chunk')
      const byName = new Map(chunks.map((c) => [c.fileName, c]))
      const wanted = chunks.filter((c) => c.isEntry || OFFLINE_PAGES.some((p) => c.facadeModuleId?.endsWith(p)))
      const files = new Set()
      const visit = (chunk) => {
        if (!chunk || files.has(chunk.fileName)) return
        files.add(chunk.fileName)
        for (const css of chunk.viteMetadata?.importedCss || []) files.add(css)
        for (const asset of chunk.viteMetadata?.importedAssets || []) files.add(asset)
        for (const dep of chunk.imports) visit(byName.get(dep))
      }
      wanted.forEach(visit)
      const list = [...files].sort().map((f) => '/' + f)
      const worker = readFileSync(fileURLToPath(new URL('./src/sw.js', import.meta.url)), 'utf8')
      const version = createHash('sha256').update(list.join('\n') + worker).digest('hex').slice(0, 12)
      this.emitFile({ type: 'asset', fileName: 'sw.js', source:
        `const SHELL_VERSION = ${JSON.stringify(version)}\nconst SHELL_FILES = ${JSON.stringify(list)}\n${worker}` })
    },
  }
}

// The build goes into the Python package, which serves it (src/fengqiao/web/dist).
export default defineConfig({
  plugins: [vue(), serviceWorker()],
  base: '/',
  build: {
    outDir: fileURLToPath(new URL('../src/fengqiao/web/dist', import.meta.url)),
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      output: {
        manualChunks: { echarts: ['echarts/core', 'echarts/charts', 'echarts/components', 'echarts/renderers'],
                        element: ['element-plus'] },
      },
    },
  },
  server: { proxy: { '/api': 'http://127.0.0.1:8000' } },
})
