// The grid worker's reports wait here (IndexedDB, photos included) until the server has them.
// Each report carries an id made on the phone; resending it returns the same case, so a report
// sent twice (network dropped after the server saved it) is still one case.
const DB = 'fengqiao-grid'
const STORE = 'outbox'

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1)
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'report_id' })
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
}
async function tx(mode, fn) {
  const db = await open()
  return new Promise((resolve, reject) => {
    const t = db.transaction(STORE, mode)
    const result = fn(t.objectStore(STORE))
    t.oncomplete = () => { db.close(); resolve(result?.result ?? result) }
    t.onerror = () => { db.close(); reject(t.error) }
  })
}
export const queued = () => tx('readonly', (s) => s.getAll())
export const enqueue = (item) => tx('readwrite', (s) => s.put(item))
export const remove = (id) => tx('readwrite', (s) => s.delete(id))
