// The one way the screens talk to the server: bearer token, JSON, Chinese error messages.
import { reactive } from 'vue'

export const session = reactive({
  token: localStorage.getItem('fq_token'),
  user: JSON.parse(localStorage.getItem('fq_user') || 'null'),
})

let onUnauthorized = () => {}
export function setUnauthorizedHandler(fn) { onUnauthorized = fn }

export function saveSession(token, user) {
  session.token = token
  session.user = user
  localStorage.setItem('fq_token', token)
  localStorage.setItem('fq_user', JSON.stringify(user))
}

export function clearSession() {
  session.token = null
  session.user = null
  localStorage.removeItem('fq_token')
  localStorage.removeItem('fq_user')
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `请求失败（${status}）`)
    this.status = status
    this.body = body
    this.field = body?.field
  }
}

function authHeaders() {
  return session.token ? { Authorization: 'Bearer ' + session.token } : {}
}

export function query(params) {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === '') continue
    if (Array.isArray(v)) v.forEach((x) => q.append(k, x))
    else q.append(k, v)
  }
  const s = q.toString()
  return s ? '?' + s : ''
}

export async function api(method, url, body, { auth = true } = {}) {
  const headers = auth ? authHeaders() : {}
  let payload
  if (body instanceof FormData) payload = body
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json'
    payload = JSON.stringify(body)
  }
  let res
  try {
    res = await fetch(url, { method, headers, body: payload })
  } catch {
    throw new ApiError(0, { code: 'offline', message: '网络连接失败，请检查网络后重试' })
  }
  if (res.status === 204) return null
  const isJson = (res.headers.get('content-type') || '').includes('json')
  const data = isJson ? await res.json() : await res.text()
  if (!res.ok) {
    if (res.status === 401 && auth) onUnauthorized()
    const body = typeof data === 'object' && data ? data : { message: `服务器错误（${res.status}）` }
    if (body.detail && !body.message) body.message = res.status === 404 ? '不存在或不在您的管辖范围内' : '请求有误'
    throw new ApiError(res.status, body)
  }
  return data
}

export const get = (url, params, opts) => api('GET', url + query(params), undefined, opts)
export const post = (url, body, opts) => api('POST', url, body, opts)
export const put = (url, body, opts) => api('PUT', url, body, opts)

// Upload with progress (fetch cannot report upload progress).
export function upload(url, file, fields = {}, onProgress = () => {}) {
  return new Promise((resolve, reject) => {
    const form = new FormData()
    form.append('file', file)
    for (const [k, v] of Object.entries(fields)) form.append(k, v)
    const xhr = new XMLHttpRequest()
    xhr.open('POST', url)
    if (session.token) xhr.setRequestHeader('Authorization', 'Bearer ' + session.token)
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(Math.round((100 * e.loaded) / e.total))
    xhr.onload = () => {
      let data = null
      try { data = JSON.parse(xhr.responseText) } catch { data = { message: xhr.responseText } }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data)
      else reject(new ApiError(xhr.status, data))
    }
    xhr.onerror = () => reject(new ApiError(0, { message: '网络连接失败，上传未完成' }))
    xhr.send(form)
  })
}

// An attachment as a local object URL (the download needs the token, so <img src> cannot fetch it).
export async function blobUrl(url) {
  const res = await fetch(url, { headers: authHeaders() })
  if (!res.ok) throw new ApiError(res.status, { message: '附件无法打开' })
  return URL.createObjectURL(await res.blob())
}

// Server-Sent Events over fetch, so the token goes in a header and never into a URL or a log.
// Reconnects by itself and asks for what it missed (after=last id).
export function liveEvents(onEvent, onState = () => {}) {
  let stopped = false
  let lastId = null
  let controller = null
  async function loop() {
    while (!stopped) {
      controller = new AbortController()
      try {
        const res = await fetch('/api/screens/events' + query({ after: lastId }), {
          headers: { ...authHeaders(), Accept: 'text/event-stream' }, signal: controller.signal,
        })
        if (!res.ok) throw new Error('stream ' + res.status)
        onState(true)
        const reader = res.body.getReader()
        const decoder = new TextDecoder()
        let buffer = ''
        for (;;) {
          const { value, done } = await reader.read()
          if (done) break
          buffer += decoder.decode(value, { stream: true })
          let cut
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, cut)
            buffer = buffer.slice(cut + 2)
            let id = null
            let data = ''
            for (const line of block.split('\n')) {
              if (line.startsWith('id: ')) id = Number(line.slice(4))
              else if (line.startsWith('data: ')) data += line.slice(6)
            }
            if (id !== null) lastId = id
            if (data) {
              try { onEvent(JSON.parse(data)) } catch { /* a malformed event is skipped */ }
            }
          }
        }
      } catch {
        if (stopped) return
        onState(false)
        await new Promise((r) => setTimeout(r, 1000))
      }
    }
  }
  loop()
  return () => { stopped = true; controller?.abort() }
}

// Download with progress: the bytes received so far (and the total when the server sends it), then the
// file is handed to the browser under the server's file name.
export async function download(url, onProgress = () => {}, { signal } = {}) {
  let res
  try {
    res = await fetch(url, { headers: authHeaders(), signal })
  } catch (e) {
    if (e?.name === 'AbortError') throw e
    throw new ApiError(0, { code: 'offline', message: '网络连接失败，下载未完成' })
  }
  if (!res.ok) {
    let body = null
    try { body = await res.json() } catch { body = { message: `下载失败（${res.status}）` } }
    if (res.status === 401) onUnauthorized()
    throw new ApiError(res.status, body)
  }
  const total = Number(res.headers.get('content-length')) || null
  const chunks = []
  let received = 0
  onProgress({ received, total })
  if (res.body?.getReader) {
    const reader = res.body.getReader()
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      chunks.push(value)
      received += value.length
      onProgress({ received, total })
    }
  } else {
    const buf = new Uint8Array(await res.arrayBuffer())
    chunks.push(buf)
    received = buf.length
    onProgress({ received, total })
  }
  const type = res.headers.get('content-type') || 'application/octet-stream'
  return { blob: new Blob(chunks, { type }), filename: filenameOf(res.headers.get('content-disposition')), size: received }
}

function filenameOf(disposition) {
  if (!disposition) return null
  const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition)
  if (star) { try { return decodeURIComponent(star[1].trim()) } catch { /* fall through */ } }
  const plain = /filename="?([^";]+)"?/i.exec(disposition)
  return plain ? plain[1] : null
}

export function saveBlob(blob, filename) {
  const href = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = href
  a.download = filename || '下载'
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(href), 60_000)
}

export function fmtBytes(n) {
  if (n == null) return '—'
  if (n < 1024) return `${n} 字节`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`
  return `${(n / 1024 / 1024).toFixed(1)} MB`
}
