// Gallery: the user's images (an admin's: everyone's), newest first. A card shows the
// 300 px thumbnail once it is ready; while processing, the original scaled down as a
// placeholder; the original when the thumbnail failed, with the error and a Retry.
import { api, el, formatBytes, LiveFeed, mediaUrl, startPage, toast } from '/static/common.js'

// Images per "Show more".
const PAGE = 48
// Events for images not on the page reload the list, at most this often.
const RELOAD_DEBOUNCE_MS = 400

const cards = new Map()
let limit = PAGE
let reloadTimer = null

function picture (image) {
  if (image.thumbnail_status === 'complete') return { src: mediaUrl(image.id, 'medium'), kind: 'thumbnail' }
  if (image.thumbnail_status === 'failed') return { src: mediaUrl(image.id, 'original'), kind: 'original' }
  return { src: mediaUrl(image.id, 'original'), kind: 'placeholder' }
}

class Card {
  constructor (image) {
    this.image = image
    this.shownSrc = null
    this.frame = el('div', { class: 'frame' })
    this.caption = el('figcaption')
    this.node = el('li', { class: 'card' }, el('figure', {}, this.frame, this.caption))
    this.render()
  }

  update (fields) {
    Object.assign(this.image, fields)
    this.render()
  }

  renderFrame () {
    const image = this.image
    const { src, kind } = picture(image)
    if (src !== this.shownSrc) {
      this.shownSrc = src
      const img = el('img', {
        src,
        alt: image.filename,
        loading: 'lazy',
        class: kind === 'placeholder' ? 'placeholder' : null,
        'data-kind': kind
      })
      img.addEventListener('error', () => {
        img.replaceWith(el('div', { class: 'nopreview', 'data-kind': 'none', text: 'No preview for this file' }))
      })
      this.frame.replaceChildren(img)
    }
    this.frame.querySelector('.overlay')?.remove()
    if (image.processing_status === 'pending' || image.processing_status === 'processing') {
      this.frame.append(el('span', { class: 'badge processing overlay', text: 'processing' }))
    }
  }

  render () {
    const image = this.image
    this.node.dataset.imageId = image.id
    this.node.dataset.state = image.processing_status
    this.node.dataset.thumbnail = image.thumbnail_status
    this.renderFrame()
    const size = image.width ? `${image.width}×${image.height} · ` : ''
    const parts = [
      el('span', { class: 'name', text: image.filename }),
      el('span', { class: 'meta', text: `#${image.id} · ${size}${formatBytes(image.size_bytes)}` })
    ]
    if (image.processing_status === 'failed') {
      parts.push(
        el('p', { class: 'error', role: 'alert' },
          el('span', { class: 'icon', 'aria-hidden': 'true', text: '⚠' }),
          el('span', { class: 'visually-hidden', text: 'Processing failed: ' }),
          el('span', { class: 'message', text: image.processing_error || 'processing failed' })
        ),
        el('button', { type: 'button', class: 'secondary retry', onclick: () => this.retry(), 'aria-label': `Retry ${image.filename}` }, 'Retry')
      )
    }
    this.caption.replaceChildren(...parts)
  }

  async retry () {
    try {
      const { data } = await api(`/api/images/${this.image.id}/retry-processing`, { method: 'POST' })
      const status = data.status
      this.update({
        processing_status: status.processing_status,
        thumbnail_status: status.thumbnail_status,
        variant_status: status.variant_status,
        processing_error: status.processing_error
      })
    } catch (e) {
      toast(`Could not retry ${this.image.filename}: ${e.message}`)
    }
  }
}

async function reload () {
  let page
  try {
    page = (await api(`/api/images?limit=${limit}&offset=0`)).data
  } catch {
    return // the next poll, event or reconnect tries again
  }
  const grid = document.getElementById('grid')
  const seen = new Set()
  const nodes = page.items.map((image) => {
    seen.add(image.id)
    let card = cards.get(image.id)
    if (card) card.update(image)
    else {
      card = new Card(image)
      cards.set(image.id, card)
    }
    return card.node
  })
  for (const id of [...cards.keys()]) if (!seen.has(id)) cards.delete(id)
  grid.replaceChildren(...nodes)
  document.getElementById('empty').hidden = page.total > 0
  document.getElementById('more').hidden = page.items.length >= page.total
  document.getElementById('summary').textContent =
    page.total ? `Showing ${page.items.length} of ${page.total} images` : ''
}

function scheduleReload () {
  clearTimeout(reloadTimer)
  reloadTimer = setTimeout(reload, RELOAD_DEBOUNCE_MS)
}

function onEvent (event) {
  const card = cards.get(event.image_id)
  if (!card) {
    scheduleReload()
    return
  }
  card.update({
    processing_status: event.processing_status,
    thumbnail_status: event.thumbnail_status,
    variant_status: event.variant_status,
    processing_error: event.error
  })
  // Dimensions and size arrive with the thumbnail job; fetch them once.
  if (event.type === 'image:processing:thumbnail_complete' || event.type === 'image:processing:complete') {
    if (!card.image.width) scheduleReload()
  }
}

startPage(() => {
  document.getElementById('more').addEventListener('click', () => {
    limit += PAGE
    reload()
  })
  new LiveFeed({ onEvent, onResync: reload }).start()
})
