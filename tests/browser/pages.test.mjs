// The three pages in Debian's Chromium against a real server, processors and MinIO:
// upload ten corpus images and watch every badge clear without a reload; fake.jpg
// fails, shows its error, and Retry works; the gallery shows the right thumbnails and
// keeps up through a lost socket; the admin page's counts match the API.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { api, env, launch, signIn, uploadThroughApi, waitFor, watchErrors } from './support.mjs'

const TEN = [
  'orientation-landscape-1.jpg', 'orientation-landscape-2.jpg', 'orientation-landscape-3.jpg',
  'orientation-landscape-4.jpg', 'orientation-portrait-1.jpg', 'orientation-portrait-2.jpg',
  'pillow-rgb.webp', 'pillow-rgba.png', 'pillow-icc-srgb.jpg', 'pillow-progressive.jpg'
]
const PROCESSING_TIMEOUT = 120000

let browser
let context
const uploaded = new Map() // file name -> image id

before(async () => {
  browser = await launch()
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
})

after(async () => {
  await browser?.close()
})

async function dropFile (page, name) {
  const data = readFileSync(join(env.corpus, name)).toString('base64')
  await page.evaluate(({ name, data }) => {
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0))
    const transfer = new DataTransfer()
    transfer.items.add(new File([bytes], name, { type: 'image/jpeg' }))
    const zone = document.getElementById('drop')
    for (const type of ['dragenter', 'dragover', 'drop']) {
      zone.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }))
    }
  }, { name, data })
}

test('upload page: ten images, every processing badge clears live; duplicates; fake.jpg fails and retries', async () => {
  const page = await context.newPage()
  const errors = watchErrors(page)
  await page.goto(`${env.url}/upload`)
  await signIn(page, env.token)

  // Remember every file that ever showed the processing badge, and any reload.
  await page.evaluate(() => {
    window.sawProcessing = new Set()
    window.sameDocument = true
    new MutationObserver(() => {
      for (const node of document.querySelectorAll('.upload[data-state="processing"] .badge.processing')) {
        window.sawProcessing.add(node.closest('.upload').dataset.name)
      }
    }).observe(document.getElementById('uploads'), { subtree: true, childList: true, attributes: true })
  })
  let navigations = 0
  page.on('framenavigated', (frame) => { if (frame === page.mainFrame()) navigations += 1 })
  // Image id -> HTTP status of the page's POST /api/uploads/{id}/complete after its PUT.
  const completed = new Map()
  page.on('response', (response) => {
    const match = new URL(response.url()).pathname.match(/^\/api\/uploads\/(\d+)\/complete$/)
    if (match && response.request().method() === 'POST') completed.set(Number(match[1]), response.status())
  })

  await page.setInputFiles('#files', TEN.map((name) => join(env.corpus, name)))
  await page.locator('.upload progress, .upload .badge.processing').first().waitFor()
  await page.waitForFunction(
    (n) => document.querySelectorAll('.upload[data-state="complete"]').length === n,
    TEN.length, { timeout: PROCESSING_TIMEOUT }
  )
  await page.getByText('Batch finished: 10 files, 10 ready.').waitFor()
  assert.equal(await page.locator('.badge.processing').count(), 0)
  assert.equal(await page.locator('.upload .badge.ready').count(), TEN.length)
  assert.deepEqual(
    (await page.evaluate(() => [...window.sawProcessing])).sort(), [...TEN].sort(),
    'every file shows a processing badge before it clears'
  )
  assert.equal(await page.evaluate(() => window.sameDocument), true, 'no reload')
  assert.equal(navigations, 0, 'no navigation')
  for (const name of TEN) {
    const row = page.locator(`.upload[data-name="${name}"]`)
    uploaded.set(name, Number(await row.getAttribute('data-image-id')))
    await waitFor(() => row.locator('img.thumb').evaluate((img) => img.complete && img.naturalWidth > 0),
      { what: `thumbnail of ${name}` })
  }
  for (const [name, id] of uploaded) {
    const status = await api(`/api/images/${id}/processing-status`, env.token)
    assert.equal(status.processing_status, 'complete', name)
    // 202: the page's call queued the ingest; 200: storage's notification got there first.
    assert.ok([200, 202].includes(completed.get(id)), `${name}: complete answered ${completed.get(id)}`)
  }

  // The same bytes again: reported as a duplicate before anything is uploaded.
  await page.setInputFiles('#files', [join(env.corpus, TEN[0])])
  const duplicate = page.locator('.upload[data-state="duplicate"]')
  await duplicate.waitFor()
  assert.equal(await duplicate.locator('.badge').textContent(), `duplicate of #${uploaded.get(TEN[0])}`)
  await page.getByText('Batch finished: 1 file, 1 duplicate.').waitFor()

  // Not an image: dropped in, uploaded, then failed with the processor's reason.
  await dropFile(page, 'fake.jpg')
  const fake = page.locator('.upload[data-name="fake.jpg"]')
  await fake.and(page.locator('[data-state="failed"]')).waitFor({ timeout: PROCESSING_TIMEOUT })
  uploaded.set('fake.jpg', Number(await fake.getAttribute('data-image-id')))
  assert.match(await fake.locator('.error').textContent(), /not a recognised image/)
  await page.getByText('Batch finished: 1 file, 1 failed.').waitFor()
  await page.screenshot({ path: join(env.artifacts, 'upload.png'), fullPage: true })

  const retried = page.waitForResponse((r) => r.url().endsWith('/retry-processing') && r.request().method() === 'POST')
  await fake.getByRole('button', { name: 'Retry fake.jpg' }).click()
  assert.equal((await retried).status(), 202)
  await page.getByText('Retrying fake.jpg').waitFor()
  await fake.and(page.locator('[data-state="failed"]')).waitFor({ timeout: PROCESSING_TIMEOUT })
  const status = await api(`/api/images/${uploaded.get('fake.jpg')}/processing-status`, env.token)
  assert.equal(status.processing_status, 'failed')
  assert.equal(status.processing_attempts, 2, 'the retry ran once more')
  assert.deepEqual(errors, [])
  await page.close()
})

test('gallery: the right thumbnails, the failure with Retry, and live updates through a lost socket', async () => {
  assert.equal(uploaded.size, TEN.length + 1, 'needs the upload test')
  const page = await context.newPage()
  const errors = watchErrors(page)
  // Route the socket through the test, so the test can cut it like a network would.
  let blocked = false
  const sockets = []
  await page.routeWebSocket(/\/api\/ws$/, (ws) => {
    if (blocked) {
      ws.close({ code: 1011, reason: 'test: network down' })
      return
    }
    sockets.push({ ws, server: ws.connectToServer() })
  })
  // While processing is paused, one more image lands: the gallery must show its original.
  const slowName = 'pillow-icc-adobergb.jpg'
  await api('/api/admin/processing-queue/pause', env.adminToken, { method: 'POST' })
  let slowId
  try {
    slowId = await uploadThroughApi(env.token, slowName, readFileSync(join(env.corpus, slowName)))
    await page.goto(`${env.url}/gallery`)
    await page.locator('#conn[data-state="live"]').waitFor()
    await page.waitForFunction((n) => document.querySelectorAll('.card').length === n, uploaded.size + 1)
    const slow = page.locator(`.card[data-image-id="${slowId}"]`)
    const placeholder = slow.locator('img[data-kind="placeholder"]')
    assert.equal(await placeholder.getAttribute('src'), `/media/${slowId}/original`)
    await waitFor(() => placeholder.evaluate((i) => i.complete && i.naturalWidth > 0), { what: 'the placeholder' })
    assert.equal(await slow.locator('.badge.processing').count(), 1)
    await page.screenshot({ path: join(env.artifacts, 'gallery-processing.png'), fullPage: true })
  } finally {
    await api('/api/admin/processing-queue/resume', env.adminToken, { method: 'POST' })
  }
  // Resumed: its thumbnail replaces the placeholder without a reload (at
  // thumbnail_complete), and the badge clears when the variants are done too.
  const slow = page.locator(`.card[data-image-id="${slowId}"]`)
  await slow.locator('img[data-kind="thumbnail"]').waitFor({ timeout: PROCESSING_TIMEOUT })
  await waitFor(async () => (await slow.locator('.badge.processing').count()) === 0, {
    timeout: PROCESSING_TIMEOUT, what: 'the processing badge to clear'
  })
  uploaded.set(slowName, slowId)

  for (const name of [...TEN, slowName]) {
    const id = uploaded.get(name)
    const detail = await api(`/api/images/${id}`, env.token)
    const medium = detail.derivatives.find((d) => d.size === 'medium')
    const img = page.locator(`.card[data-image-id="${id}"] img`)
    assert.equal(await img.getAttribute('data-kind'), 'thumbnail', name)
    assert.equal(await img.getAttribute('src'), `/media/${id}/medium`)
    assert.equal(await img.getAttribute('alt'), name)
    const size = await waitFor(() => img.evaluate((i) => i.complete && i.naturalWidth > 0 && [i.naturalWidth, i.naturalHeight]),
      { what: `thumbnail of ${name}` })
    assert.deepEqual(size, [medium.width, medium.height], `${name} shows its 300 px thumbnail`)
  }
  const fake = page.locator(`.card[data-image-id="${uploaded.get('fake.jpg')}"]`)
  assert.equal(await fake.getAttribute('data-state'), 'failed')
  assert.match(await fake.locator('.error .message').textContent(), /not a recognised image/)
  await fake.locator('.nopreview').waitFor() // its original is no picture either
  assert.equal(await fake.getByRole('button', { name: 'Retry fake.jpg' }).count(), 1)
  assert.equal(await page.locator('#more').isVisible(), false)
  await page.screenshot({ path: join(env.artifacts, 'gallery.png'), fullPage: true })

  // Live: an image uploaded elsewhere appears by itself, then shows its thumbnail.
  const liveName = 'orientation-portrait-3.jpg'
  const liveId = await uploadThroughApi(env.token, liveName, readFileSync(join(env.corpus, liveName)))
  const live = page.locator(`.card[data-image-id="${liveId}"]`)
  await live.locator('img[data-kind="thumbnail"]').waitFor({ timeout: PROCESSING_TIMEOUT })
  uploaded.set(liveName, liveId)

  // The socket drops and stays down: the page says so and keeps up by polling.
  blocked = true
  for (const { ws, server } of sockets) {
    await ws.close({ code: 1012, reason: 'test: connection lost' })
    await server.close()
  }
  await page.locator('#conn[data-state="polling"]').waitFor({ timeout: 10000 })
  const polledName = 'orientation-portrait-4.jpg'
  const polledId = await uploadThroughApi(env.token, polledName, readFileSync(join(env.corpus, polledName)))
  const polled = page.locator(`.card[data-image-id="${polledId}"]`)
  await polled.locator('img[data-kind="thumbnail"]').waitFor({ timeout: PROCESSING_TIMEOUT })
  assert.equal(await page.locator('#conn').getAttribute('data-state'), 'polling')

  // The network comes back: the page reconnects by itself and is live again.
  blocked = false
  await page.locator('#conn[data-state="live"]').waitFor({ timeout: 40000 })
  uploaded.set(polledName, polledId)
  assert.deepEqual(errors, [])
  await page.close()
})

test('admin dashboard: counts, queues and failed jobs match the API; retry, pause and resume', async () => {
  const adminContext = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  const page = await adminContext.newPage()
  const errors = watchErrors(page)
  await page.goto(`${env.url}/admin`)
  await signIn(page, env.adminToken)
  const fakeId = uploaded.get('fake.jpg')
  // Both of its jobs failed (the variant job gives up with the thumbnail job).
  const failedRow = page.locator(`#failed tr[data-image-id="${fakeId}"]`).last()
  await failedRow.waitFor()

  const shown = async () => Object.fromEntries(await page.locator('[data-stat]').evaluateAll(
    (nodes) => nodes.map((node) => [node.dataset.stat, node.dataset.value])
  ))
  // Compare when both are at rest: the page refreshes itself, the API is read fresh.
  const match = await waitFor(async () => {
    const queue = await api('/api/admin/processing-queue?status=failed&limit=100', env.adminToken)
    const page_ = await shown()
    const same = ['queue_size', 'processing_count', 'failed_count'].every((k) => page_[k] === String(queue[k]))
    return same && { queue, page: page_ }
  }, { timeout: 20000, what: 'the page to match the API' })
  assert.ok(match.queue.failed_count >= 1)
  assert.equal(await page.locator('#failed tbody tr').count(), match.queue.jobs.length)
  assert.match(await failedRow.locator('td.error').textContent(), /not a recognised image/)
  const queueNames = await page.locator('#queues tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.queue))
  assert.deepEqual(queueNames, match.queue.queues.map((q) => q.name))
  await page.screenshot({ path: join(env.artifacts, 'admin.png'), fullPage: true })

  // Retry one failed job from its row: it runs again and fails again (a permanent failure).
  const before = (await api(`/api/images/${fakeId}/processing-status`, env.token)).processing_attempts
  const retried = page.waitForResponse((r) => r.url().endsWith(`/api/images/${fakeId}/retry-processing`))
  await failedRow.getByRole('button', { name: new RegExp(`^Retry image ${fakeId} \\(job \\d+\\)$`) }).click()
  assert.equal((await retried).status(), 202)
  await waitFor(async () => {
    const status = await api(`/api/images/${fakeId}/processing-status`, env.token)
    return status.processing_status === 'failed' && status.processing_attempts === before + 1
  }, { timeout: PROCESSING_TIMEOUT, what: 'the retried job to fail again' })
  await failedRow.waitFor({ timeout: 15000 })

  // Pause and resume: the page and the API agree on each step.
  const paused = page.locator('#paused')
  if ((await paused.getAttribute('data-value')) !== 'undefined') {
    await page.getByRole('button', { name: 'Pause' }).click()
    await page.locator('#paused[data-value="true"]').waitFor()
    assert.equal((await api('/api/admin/processing-queue', env.adminToken)).paused, true)
    await page.getByRole('button', { name: 'Resume' }).click()
    await page.locator('#paused[data-value="false"]').waitFor()
    assert.equal((await api('/api/admin/processing-queue', env.adminToken)).paused, false)
  }
  // Retry all: every failed image is queued again.
  const all = page.waitForResponse((r) => r.url().endsWith('/api/admin/processing-queue/retry-failed'))
  await page.getByRole('button', { name: 'Retry all failed' }).click()
  assert.equal((await all).status(), 202)
  await page.getByText(/Retrying \d+ images/).waitFor()
  assert.deepEqual(errors, [])
  await adminContext.close()
})
