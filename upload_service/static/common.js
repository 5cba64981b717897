// Shared by every page: the token, API calls, the live connection and small UI helpers.
//
// The token is asked for once and kept in localStorage; every API call sends it as a
// bearer header. POST /api/session also copies it into an HttpOnly cookie, which the
// browser sends for <img> links (/media/...) that cannot carry a header.
//
// Live updates come over the WebSocket /api/ws (the token goes in the first frame).
// While the socket is down the page polls the REST API instead, and every (re)connect
// starts with a resync from the REST API, since events sent meanwhile were missed.

const TOKEN_KEY = 'glowworm.token'
// Seconds between polls while the socket is down, and the reconnect delays.
const POLL_MS = 3000
const RECONNECT_MIN_MS = 1000
const RECONNECT_MAX_MS = 15000

export class ApiError extends Error {
  constructor (status, detail) {
    super(detail)
    this.status = status
  }
}

export function token () {
  return localStorage.getItem(TOKEN_KEY)
}

export async function api (path, { method = 'GET', body } = {}) {
  const headers = { Authorization: `Bearer ${token()}` }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  let data = null
  if (response.status !== 204) {
    try { data = await response.json() } catch { data = null }
  }
  if (!response.ok) {
    const detail = typeof data?.detail === 'string' ? data.detail : response.statusText
    throw new ApiError(response.status, detail)
  }
  return { status: response.status, data }
}

/** Link for an <img>: one size of an image, or its original until that size is ready. */
export function mediaUrl (imageId, size) {
  return `/media/${imageId}/${size}`
}

export function el (tag, attributes = {}, ...children) {
  const node = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value == null) continue
    if (name === 'class') node.className = value
    else if (name === 'text') node.textContent = value
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value)
    else node.setAttribute(name, value === true ? '' : value)
  }
  for (const child of children) if (child != null) node.append(child)
  return node
}

export function toast (message) {
  const region = document.getElementById('toasts')
  const item = el('div', { class: 'toast', text: message })
  region.append(item)
  setTimeout(() => item.remove(), 8000)
}

export function formatBytes (n) {
  if (n == null) return ''
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`
  return `${(n / 1024 / 1024).toFixed(1)} MB`
}

function setConnection (state, text) {
  const node = document.getElementById('conn')
  if (!node) return
  node.dataset.state = state
  node.textContent = text
}

/**
 * The live feed: calls onEvent for each status event, and onResync after every
 * (re)connect, on a server's resync message and, while the socket is down, every few
 * seconds as the polling fallback.
 */
export class LiveFeed {
  constructor ({ onEvent, onResync }) {
    this.onEvent = onEvent
    this.onResync = onResync
    this.delay = RECONNECT_MIN_MS
    this.socket = null
    this.pollTimer = null
    this.stopped = false
  }

  start () {
    this.connect()
  }

  connect () {
    setConnection('connecting', 'Connecting…')
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws'
    const socket = new WebSocket(`${scheme}://${location.host}/api/ws`)
    this.socket = socket
    socket.addEventListener('open', () => {
      socket.send(JSON.stringify({ type: 'auth', token: token() }))
    })
    socket.addEventListener('message', (message) => {
      let frame
      try { frame = JSON.parse(message.data) } catch { return }
      if (frame.type === 'ready') {
        this.delay = RECONNECT_MIN_MS
        this.stopPolling()
        setConnection('live', 'Live')
        this.onResync()
      } else if (frame.type === 'resync') {
        this.onResync()
      } else if (frame.type?.startsWith('image:')) {
        this.onEvent(frame)
      }
    })
    socket.addEventListener('close', (closed) => {
      if (this.socket !== socket) return
      this.socket = null
      if (closed.code === 4401) {
        signOut('Your token is no longer accepted; sign in again.')
        return
      }
      this.startPolling()
      if (!this.stopped) {
        setTimeout(() => this.connect(), this.delay)
        this.delay = Math.min(this.delay * 2, RECONNECT_MAX_MS)
      }
    })
  }

  startPolling () {
    setConnection('polling', `Offline: checking every ${POLL_MS / 1000} s, reconnecting`)
    if (this.pollTimer) return
    this.onResync()
    this.pollTimer = setInterval(() => this.onResync(), POLL_MS)
  }

  stopPolling () {
    clearInterval(this.pollTimer)
    this.pollTimer = null
  }
}

function signOut (message) {
  localStorage.removeItem(TOKEN_KEY)
  fetch('/api/session', { method: 'DELETE' }).finally(() => {
    const url = new URL(location.href)
    if (message) url.searchParams.set('signed_out', message)
    location.replace(url)
  })
}

function renderHeader (me) {
  const who = document.getElementById('who')
  who.replaceChildren(
    el('span', { id: 'conn', class: 'conn', role: 'status', 'data-state': 'connecting', text: 'Connecting…' }),
    el('span', { text: `Signed in as ${me.user}${me.admin ? ' (admin)' : ''}` }),
    el('button', { class: 'link-button', type: 'button', onclick: () => signOut() }, 'Sign out')
  )
  if (!me.admin) document.querySelector('a[href="/admin"]')?.closest('li')?.remove()
}

function showSignIn (onSignedIn, message) {
  const main = document.querySelector('main')
  const content = document.getElementById('content')
  content.hidden = true
  const error = el('p', { class: 'form-error', role: 'alert', id: 'signin-error', text: message || '' })
  const input = el('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', required: true, 'aria-describedby': 'token-help' })
  const form = el('form', { class: 'signin', id: 'signin' },
    el('label', { for: 'token', text: 'API token' }),
    input,
    el('p', { id: 'token-help', class: 'detail', text: 'Make one with: glowworm token create --name YOU' }),
    el('button', { type: 'submit' }, 'Sign in'),
    error
  )
  form.addEventListener('submit', async (submitted) => {
    submitted.preventDefault()
    localStorage.setItem(TOKEN_KEY, input.value.trim())
    try {
      const { data } = await api('/api/session', { method: 'POST' })
      form.remove()
      content.hidden = false
      renderHeader(data)
      onSignedIn(data)
    } catch (e) {
      localStorage.removeItem(TOKEN_KEY)
      error.textContent = e.status === 401 ? 'That token is not known.' : `Sign-in failed: ${e.message}`
    }
  })
  main.append(form)
  input.focus()
}

/** Sign in if needed, then run the page with who the user is. */
export async function startPage (run) {
  const params = new URLSearchParams(location.search)
  const message = params.get('signed_out')
  if (message) history.replaceState(null, '', location.pathname)
  if (!token()) {
    showSignIn(run, message)
    return
  }
  try {
    const { data } = await api('/api/session', { method: 'POST' })
    renderHeader(data)
    run(data)
  } catch (e) {
    if (e.status === 401) {
      localStorage.removeItem(TOKEN_KEY)
      showSignIn(run, 'That token is not known.')
    } else {
      showSignIn(run, `The server did not answer: ${e.message}`)
    }
  }
}
