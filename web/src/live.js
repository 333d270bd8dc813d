// What the case screens share: loading a screen's data with a busy flag, the one action dialog of a
// screen, and reloading when the server reports a change.
import { onMounted, onUnmounted, ref } from 'vue'
import { ElMessage } from 'element-plus'
import { liveEvents } from './api'

// `fetch` loads and stores the data; failures are shown to the user, `loading` drives the spinner.
export function useLoader(fetch) {
  const loading = ref(false)
  async function load(...args) {
    loading.value = true
    try { await fetch(...args) } catch (e) { ElMessage.error(e.message) } finally { loading.value = false }
  }
  return { loading, load }
}

// The screen's dialog: open or not, for which case row, for which action.
export function useActionDialog() {
  const dialog = ref(false)
  const current = ref({})
  const action = ref('')
  function open(row, a = '') { current.value = row; action.value = a; dialog.value = true }
  return { dialog, current, action, open }
}

// Reload a screen's data when the server reports a change (SSE from the outbox), debounced, and not
// while the operator is in the middle of something (a dialog, a bulk run): `paused()` says so.
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
