// The intake channels (grid-worker reports, citizen self-reports) are served by the intake module;
// their paths are found from the server's own OpenAPI document by the request schema they take,
// so the screens follow the server instead of hard-coding its routes.
import { get } from './api'

let found = null
export function intakeRoutes() {
  found ||= get('/openapi.json', null, { auth: false }).then((doc) => {
    const out = {}
    for (const [path, ops] of Object.entries(doc.paths || {})) {
      for (const [method, op] of Object.entries(ops)) {
        const ref = JSON.stringify(op.requestBody || {})
        if (method === 'post' && ref.includes('GridReportIn')) out.gridReport = path
        if (method === 'post' && ref.includes('CitizenReportIn')) out.citizenReport = path
        if (method === 'post' && path.includes('{report_id}') && /photo/i.test(path)) out.gridPhoto = path
        const params = (op.parameters || []).map((p) => p.name)
        if (method === 'get' && path.includes('{number}') && params.includes('phone') && !path.startsWith('/api/cases'))
          out.citizenStatus = path
        if (method === 'post' && path.includes('{number}') && /(rat|evaluat|satisf)/i.test(path)) out.citizenRate = path
      }
    }
    return out
  }).catch(() => {
    found = null  // offline: ask again next time rather than keep an empty answer
    return {}
  })
  return found
}

export function newId() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID()
  const rnd = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('')
  return `${Date.now().toString(36)}-${rnd}`
}
