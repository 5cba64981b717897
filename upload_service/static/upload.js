// Upload page: pick or drop many files; each goes straight to storage through a
// presigned PUT (POST /api/uploads), with its own progress bar, then shows a
// "processing" badge that clears when the live feed (or polling) says it is done.
// After each PUT the page tells the API (POST /api/uploads/{id}/complete), so
// processing starts at once rather than when storage's own notification arrives.
import { api, el, formatBytes, LiveFeed, mediaUrl, startPage, toast } from '/static/common.js'

// Content types by extension, for files the browser reports without one (HEIC, MPO).
const TYPES = {
  jpg: 'image/jpeg', jpeg: 'image/jpeg', jpe: 'image/jpeg', png: 'image/png', webp: 'image/webp',
  gif: 'image/gif', tif: 'image/tiff', tiff: 'image/tiff', bmp: 'image/bmp', heic: 'image/heic',
  heif: 'image/heif', avif: 'image/avif', mpo: 'image/mpo'
}
// Files uploading at once.
const PARALLEL = 4
const FINAL = new Set(['complete', 'failed', 'duplicate', 'error'])

const byId = new Map()
const waiting = []
let running = 0

function contentType (file) {
  const extension = file.name.split('.').pop().toLowerCase()
  return file.type || TYPES[extension] || 'application/octet-stream'
}

async function sha256 (file) {
  // crypto.subtle exists only in secure contexts (https, localhost); without it the
  // processor still finds duplicates, just after the upload.
  if (!crypto.subtle) return undefined
  const digest = await crypto.subtle.digest('SHA-256', await file.arrayBuffer())
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('')
}

class Upload {
  constructor (file, batch) {
    this.file = file
    this.batch = batch
    this.id = null
    this.phase = 'waiting' // waiting, uploading, uploaded, duplicate, error
    this.progress = 0
    this.status = null // processing_status, thumbnail_status, error from the server
    this.message = ''
    this.duplicateOf = null
    this.node = el('li', { class: 'upload', 'data-name': file.name })
    this.render()
  }

  get state () {
    if (this.phase === 'duplicate' || this.phase === 'error') return this.phase
    if (this.phase !== 'uploaded') return this.phase
    const overall = this.status?.processing_status
    if (overall === 'complete' || overall === 'failed') return overall
    return 'processing'
  }

  apply (status) {
    this.status = {
      processing_status: status.processing_status,
      thumbnail_status: status.thumbnail_status,
      error: status.error ?? status.processing_error ?? null
    }
    this.render()
  }

  render () {
    const state = this.state
    const node = this.node
    node.dataset.state = state
    if (this.id) node.dataset.imageId = this.id
    const thumb = this.status?.thumbnail_status === 'complete'
      ? el('img', { class: 'thumb', src: mediaUrl(this.id, 'small'), alt: '' })
      : el('span', { class: 'thumb', 'aria-hidden': 'true' })
    const label = el('div', {},
      el('div', { class: 'name', text: this.file.name }),
      el('div', { class: 'detail', text: `${formatBytes(this.file.size)}${this.id ? ` · #${this.id}` : ''}` })
    )
    let status
    if (state === 'waiting') {
      status = el('span', { class: 'detail', text: 'waiting' })
    } else if (state === 'uploading') {
      const percent = Math.round(this.progress * 100)
      status = el('progress', { max: '100', value: String(percent), 'aria-label': `Uploading ${this.file.name}` }, `${percent}%`)
    } else if (state === 'processing') {
      status = el('span', { class: 'badge processing', text: 'processing' })
    } else if (state === 'complete') {
      status = el('span', { class: 'badge ready', text: 'ready' })
    } else if (state === 'duplicate') {
      status = el('span', { class: 'badge duplicate', text: `duplicate of #${this.duplicateOf}` })
    } else {
      status = el('div', {},
        el('span', { class: 'badge failed', text: state === 'error' ? 'not uploaded' : 'failed' }),
        el('div', { class: 'error', role: 'alert', text: this.status?.error || this.message })
      )
    }
    const actions = state === 'failed'
      ? el('button', { type: 'button', class: 'secondary retry', onclick: () => this.retry(), 'aria-label': `Retry ${this.file.name}` }, 'Retry')
      : el('span')
    node.replaceChildren(thumb, label, status, actions)
    this.batch.check()
  }

  async start () {
    this.phase = 'uploading'
    this.render()
    try {
      const type = contentType(this.file)
      const { status, data } = await api('/api/uploads', {
        method: 'POST',
        body: { filename: this.file.name, content_type: type, size: this.file.size, sha256: await sha256(this.file) }
      })
      if (status === 200) {
        this.id = data.data.id
        this.duplicateOf = data.duplicate_of
        this.phase = 'duplicate'
        this.render()
        return
      }
      this.id = data.id
      byId.set(this.id, this)
      await this.put(data.upload)
      this.phase = 'uploaded'
      this.render()
      await this.complete()
    } catch (e) {
      this.phase = 'error'
      this.message = e.message
      this.render()
    }
  }

  put (upload) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest()
      xhr.open(upload.method, upload.url)
      for (const [name, value] of Object.entries(upload.headers)) xhr.setRequestHeader(name, value)
      xhr.upload.addEventListener('progress', (progress) => {
        if (!progress.lengthComputable) return
        this.progress = progress.loaded / progress.total
        this.render()
      })
      xhr.addEventListener('load', () => {
        if (xhr.status >= 200 && xhr.status < 300) resolve()
        else reject(new Error(`storage refused the upload (HTTP ${xhr.status})`))
      })
      xhr.addEventListener('error', () => reject(new Error('storage could not be reached')))
      xhr.send(this.file)
    })
  }

  async complete () {
    try {
      await api(`/api/uploads/${this.id}/complete`, { method: 'POST' })
    } catch {
      // Not fatal: storage's own notification of the upload starts processing a
      // little later, and the badge clears just the same.
    }
  }

  async retry () {
    try {
      const { data } = await api(`/api/images/${this.id}/retry-processing`, { method: 'POST' })
      this.apply(data.status)
      toast(`Retrying ${this.file.name}`)
    } catch (e) {
      toast(`Could not retry ${this.file.name}: ${e.message}`)
    }
  }

  async refresh () {
    try {
      const { data } = await api(`/api/images/${this.id}/processing-status`)
      this.apply(data)
    } catch {
      // The next poll or event tries again.
    }
  }
}

class Batch {
  constructor () {
    this.uploads = []
    this.announced = false
  }

  check () {
    if (this.announced || this.uploads.length === 0) return
    if (!this.uploads.every((upload) => FINAL.has(upload.state))) return
    this.announced = true
    const count = (state) => this.uploads.filter((upload) => upload.state === state).length
    const parts = [
      [count('complete'), 'ready'], [count('failed'), 'failed'],
      [count('duplicate'), 'duplicate'], [count('error'), 'not uploaded']
    ].filter(([n]) => n > 0).map(([n, word]) => `${n} ${word}`)
    const files = this.uploads.length === 1 ? '1 file' : `${this.uploads.length} files`
    toast(`Batch finished: ${files}, ${parts.join(', ')}.`)
  }
}

function pump () {
  while (running < PARALLEL && waiting.length > 0) {
    const upload = waiting.shift()
    running += 1
    upload.start().finally(() => {
      running -= 1
      pump()
    })
  }
}

function add (files) {
  if (files.length === 0) return
  const list = document.getElementById('uploads')
  const batch = new Batch()
  for (const file of files) {
    const upload = new Upload(file, batch)
    batch.uploads.push(upload)
    list.prepend(upload.node)
    waiting.push(upload)
  }
  pump()
}

function resync () {
  for (const upload of byId.values()) {
    if (upload.phase === 'uploaded' && !FINAL.has(upload.state)) upload.refresh()
  }
}

startPage(() => {
  const drop = document.getElementById('drop')
  const input = document.getElementById('files')
  input.addEventListener('change', () => {
    add([...input.files])
    input.value = ''
  })
  drop.addEventListener('dragover', (over) => {
    over.preventDefault()
    drop.classList.add('over')
  })
  drop.addEventListener('dragleave', () => drop.classList.remove('over'))
  drop.addEventListener('drop', (dropped) => {
    dropped.preventDefault()
    drop.classList.remove('over')
    add([...dropped.dataTransfer.files])
  })
  new LiveFeed({
    onEvent: (event) => byId.get(event.image_id)?.apply(event),
    onResync: resync
  }).start()
})
