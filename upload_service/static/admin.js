// Admin dashboard: job counts, queue depths and failed jobs from
// GET /api/admin/processing-queue, refreshed on every status event (an admin's socket
// hears all of them) and every few seconds for the queue depths, which have no events.
import { api, el, LiveFeed, startPage, toast } from '/static/common.js'

// Seconds between refreshes when nothing happens, and the shortest gap between two.
const REFRESH_MS = 5000
const DEBOUNCE_MS = 500
// Failed jobs listed at once.
const FAILED_LIMIT = 100

let timer = null

function age (seconds) {
  if (seconds == null) return '–'
  if (seconds < 90) return `${Math.round(seconds)} s`
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`
  return `${(seconds / 3600).toFixed(1)} h`
}

function setStat (name, value, text) {
  const node = document.querySelector(`[data-stat="${name}"]`)
  node.dataset.value = value == null ? '' : String(value)
  node.textContent = text ?? String(value)
}

async function act (path, done) {
  try {
    const { data } = await api(path, { method: 'POST' })
    if (done) done(data)
  } catch (e) {
    toast(`Failed: ${e.message}`)
  }
  refresh()
}

function render (queue) {
  setStat('queue_size', queue.queue_size)
  setStat('processing_count', queue.processing_count)
  setStat('failed_count', queue.failed_count)
  setStat('oldest_job_age_seconds', queue.oldest_job_age_seconds, age(queue.oldest_job_age_seconds))

  const paused = document.getElementById('paused')
  paused.textContent = queue.paused === undefined ? 'unknown' : queue.paused ? 'paused' : 'running'
  paused.dataset.value = String(queue.paused)
  document.getElementById('pause').disabled = queue.paused !== false
  document.getElementById('resume').disabled = queue.paused !== true
  document.getElementById('retry-all').disabled = queue.failed_count === 0

  document.querySelector('#queues tbody').replaceChildren(...queue.queues.map((q) =>
    el('tr', { 'data-queue': q.name },
      el('th', { scope: 'row', text: q.name }),
      el('td', { class: 'num', text: q.messages == null ? 'missing' : String(q.messages) }),
      el('td', { class: 'num', text: q.consumers == null ? '–' : String(q.consumers) })
    )
  ))

  document.querySelector('#failed tbody').replaceChildren(...queue.jobs.map((job) =>
    el('tr', { 'data-job-id': job.id, 'data-image-id': job.image_id },
      el('td', { text: `#${job.id}` }),
      el('td', { text: `#${job.image_id}` }),
      el('td', { text: job.job_type }),
      el('td', { class: 'num', text: `${job.attempts} / ${job.max_attempts}` }),
      el('td', { class: 'error', text: job.error_message || job.error_kind || '' }),
      el('td', {}, el('button', {
        type: 'button',
        class: 'secondary retry',
        'aria-label': `Retry image ${job.image_id} (job ${job.id})`,
        onclick: () => act(`/api/images/${job.image_id}/retry-processing`)
      }, 'Retry'))
    )
  ))
  document.getElementById('no-failed').hidden = queue.jobs.length > 0
  document.getElementById('updated').textContent = `Updated ${new Date().toLocaleTimeString()}`
}

async function refresh () {
  clearTimeout(timer)
  timer = setTimeout(refresh, REFRESH_MS)
  try {
    const { data } = await api(`/api/admin/processing-queue?status=failed&limit=${FAILED_LIMIT}`)
    render(data)
  } catch (e) {
    if (e.status === 403) document.getElementById('forbidden').hidden = false
  }
}

let soonTimer = null
// Many events in a burst (a batch finishing) make one refresh, within DEBOUNCE_MS.
function soon () {
  if (soonTimer) return
  soonTimer = setTimeout(() => {
    soonTimer = null
    refresh()
  }, DEBOUNCE_MS)
}

startPage((me) => {
  if (!me.admin) {
    document.getElementById('forbidden').hidden = false
    return
  }
  document.getElementById('pause').addEventListener('click', () => act('/api/admin/processing-queue/pause'))
  document.getElementById('resume').addEventListener('click', () => act('/api/admin/processing-queue/resume'))
  document.getElementById('retry-all').addEventListener('click', () =>
    act('/api/admin/processing-queue/retry-failed', (data) => toast(`Retrying ${data.images} images`))
  )
  new LiveFeed({ onEvent: soon, onResync: refresh }).start()
})
