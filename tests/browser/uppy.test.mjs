// The real Uppy (@uppy/core + @uppy/aws-s3 from npm, bundled by `npm run build`) in
// Chromium, pointed at the API's Companion routes: several corpus images go up as POST
// policy uploads, a 20 MB file goes multipart, and every one ends `complete`.
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { api, env, launch, waitFor, watchErrors } from './support.mjs'

const HERE = dirname(fileURLToPath(import.meta.url))
const IMAGES = ['orientation-landscape-7.jpg', 'orientation-portrait-7.jpg', 'pillow-rgb.webp', 'pillow-gray.jpg']
const BIG = 'uppy-20mb.jpg'
const MB = 1000 * 1000
// Uppy sends files larger than this as S3 multipart uploads (its own default is 100 MB).
const MULTIPART_OVER = 10 * MB

// The test page, served by the test at the API's own origin, as any page of the app
// would be: Uppy's Companion calls carry the session cookie that POST /api/session sets.
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Uppy against GlowWorm</title></head>
<body>
  <h1>Uppy AwsS3 → GlowWorm Companion routes</h1>
  <label for="files">Files</label> <input id="files" type="file" multiple>
  <pre id="log"></pre>
  <script type="module">
    import { Uppy, AwsS3 } from '/__uppy__/uppy.js'
    window.runUppy = async (token, multipartOver) => {
      const session = await fetch('/api/session', { method: 'POST', headers: { Authorization: 'Bearer ' + token } })
      if (!session.ok) throw new Error('sign-in failed: ' + session.status)
      const uppy = new Uppy({ autoProceed: false })
      uppy.use(AwsS3, {
        companionEndpoint: location.origin,
        shouldUseMultipart: (file) => file.size > multipartOver,
        limit: 4
      })
      // As the README says: the Companion routes sign each part with its length.
      uppy.on('file-added', (file) => uppy.setFileMeta(file.id, { size: file.size }))
      const parts = {}
      uppy.on('s3-multipart:part-uploaded', (file) => { parts[file.name] = (parts[file.name] || 0) + 1 })
      for (const file of document.getElementById('files').files) {
        uppy.addFile({ name: file.name, type: file.type, data: file, source: 'test' })
      }
      const result = await uppy.upload()
      return {
        successful: result.successful.map((f) => ({ name: f.name, key: f.response.body.key, location: f.response.body.location })),
        failed: result.failed.map((f) => ({ name: f.name, error: String(f.error) })),
        parts
      }
    }
    document.getElementById('log').textContent = 'ready'
  </script>
</body></html>`

let browser

before(async () => {
  browser = await launch()
})

after(async () => {
  await browser?.close()
})

test('Uppy AwsS3 uploads through the Companion routes, the 20 MB file in parts, all complete', async () => {
  // A real JPEG padded to 20 MB: decoders stop at its end marker, S3 sees 20 MB.
  const big = readFileSync(join(env.corpus, 'big-6000x4000-orientation-6.jpg'))
  const bigPath = join(mkdtempSync(join(tmpdir(), 'glowworm-uppy-')), BIG)
  writeFileSync(bigPath, Buffer.concat([big, Buffer.alloc(20 * MB - big.length)]))

  // The page comes from page.route(), not a loopback server, so Chromium treats it as
  // public and asks before it reaches MinIO on 127.0.0.1 (Local Network Access); the
  // app's own pages (pages.test.mjs) are served from loopback and need no grant.
  const context = await browser.newContext({ permissions: ['local-network-access'] })
  const page = await context.newPage()
  const errors = watchErrors(page)
  const companionCalls = []
  const network = []
  page.on('requestfailed', (request) => network.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText}`))
  page.on('response', (response) => {
    if (response.status() >= 400) network.push(`${response.request().method()} ${response.url()}: ${response.status()}`)
  })
  page.on('request', (request) => {
    const path = new URL(request.url()).pathname
    if (path.startsWith('/s3/')) companionCalls.push(`${request.method()} ${path.replace(/\/[^/]{20,}/, '/{uploadId}')}`)
  })
  await page.route(`${env.url}/__uppy__/**`, (route) => {
    const path = new URL(route.request().url()).pathname
    if (path === '/__uppy__/index.html') return route.fulfill({ contentType: 'text/html', body: PAGE })
    if (path === '/__uppy__/uppy.js') return route.fulfill({ contentType: 'text/javascript', path: join(HERE, 'build', 'uppy.js') })
    return route.fulfill({ status: 404 })
  })
  await page.goto(`${env.url}/__uppy__/index.html`)
  await page.locator('#log', { hasText: /^ready$/ }).waitFor()
  await page.setInputFiles('#files', [...IMAGES.map((name) => join(env.corpus, name)), bigPath])

  const result = await page.evaluate(([token, over]) => window.runUppy(token, over), [env.token, MULTIPART_OVER])
  assert.deepEqual(result.failed, [], `failed requests: ${network.join("\n")}\n${errors.join("\n")}`)
  assert.deepEqual(result.successful.map((f) => f.name).sort(), [...IMAGES, BIG].sort())
  assert.equal(result.parts[BIG], 4, 'the 20 MB file went up in four 5 MiB parts')
  assert.equal(Object.keys(result.parts).length, 1, 'only the big file went multipart')
  for (const call of ['GET /s3/params', 'POST /s3/multipart', 'GET /s3/multipart/{uploadId}/1', 'POST /s3/multipart/{uploadId}/complete']) {
    assert.ok(companionCalls.includes(call), `${call} in ${companionCalls}`)
  }

  for (const file of result.successful) {
    assert.match(file.key, /^uploads\/\d+\/[0-9a-f]{32}\//)
    assert.ok(file.key.endsWith(`/${file.name}`))
    const status = await waitFor(async () => {
      const listed = await api(`/api/images?key=${encodeURIComponent(file.key)}`, env.token)
      const image = listed.items[0]
      return image && ['complete', 'failed'].includes(image.processing_status) && image
    }, { timeout: 120000, what: `${file.name} to finish processing` })
    assert.equal(status.processing_status, 'complete', `${file.name}: ${status.processing_error}`)
    assert.equal(status.filename, file.name)
    assert.equal(status.etag.endsWith('-4'), file.name === BIG, `${file.name} etag ${status.etag}`)
  }
  assert.deepEqual(errors, [])
  await context.close()
})
