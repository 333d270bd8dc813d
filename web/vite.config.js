import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import { fileURLToPath } from 'node:url'

// The build goes into the Python package, which serves it (src/fengqiao/web/dist).
export default defineConfig({
  plugins: [vue()],
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
