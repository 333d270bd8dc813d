// Reload a screen's data when the server reports a change (SSE from the outbox), debounced, and not
// while the operator is in the middle of something (a dialog, a bulk run): `paused()` says so.
import { onMounted, onUnmounted } from 'vue'
import { liveEvents } from './api'

export function useLiveReload(load, paused = () => false, delayMs = 400) {
  let stop = null
  let timer = null
  onMounted(() => {
    load()
    stop = liveEvents(() => {
      clearTimeout(timer)
      timer = setTimeout(() => { if (!paused()) load() }, delayMs)
    })
  })
  onUnmounted(() => { stop && stop(); clearTimeout(timer) })
}
