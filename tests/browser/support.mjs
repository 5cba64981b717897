// What every browser test needs: where the server is, the tokens, Chromium, the API.
import { mkdirSync } from 'node:fs'
import { chromium } from 'playwright-core'

function required (name) {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set; run the browser tests through pytest (tests/browser)`)
  return value
}

export const env = {
  url: required('GLOWWORM_TEST_URL'),
  token: required('GLOWWORM_TEST_TOKEN'),
  adminToken: required('GLOWWORM_TEST_ADMIN_TOKEN'),
  corpus: required('GLOWWORM_TEST_CORPUS'),
  artifacts: required('GLOWWORM_TEST_ARTIFACTS'),
  chromium: process.env.GLOWWORM_CHROMIUM || '/usr/bin/chromium'
}
mkdirSync(env.artifacts, { recursive: true })

// Debian's Chromium, headless, with nothing that reaches outside this machine.
export function launch () {
  return chromium.launch({
    executablePath: env.chromium,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'
    ]
  })
}

/** Call the API as a client would; returns the parsed JSON body (throws on an error status). */
export async function api (path, token, { method = 'GET', body } = {}) {
  const headers = { Authorization: `Bearer ${token}` }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  const response = await fetch(`${env.url}${path}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`)
  return text ? JSON.parse(text) : null
}

/** Upload bytes the way any API client does: presigned PUT straight to storage. */
export async function uploadThroughApi (token, name, data, contentType = 'image/jpeg') {
  const answer = await api('/api/uploads', token, {
    method: 'POST', body: { filename: name, content_type: contentType, size: data.length }
  })
  const put = await fetch(answer.upload.url, { method: 'PUT', headers: answer.upload.headers, body: data })
  if (!put.ok) throw new Error(`PUT ${name}: ${put.status} ${await put.text()}`)
  return answer.id
}

export async function waitFor (check, { timeout = 60000, interval = 250, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout
  let last
  while (Date.now() < deadline) {
    last = await check()
    if (last) return last
    await new Promise((resolve) => setTimeout(resolve, interval))
  }
  throw new Error(`timed out after ${timeout} ms waiting for ${what}; last: ${JSON.stringify(last)}`)
}

/** Sign in on whatever page shows the token form. */
export async function signIn (page, token) {
  await page.getByLabel('API token').fill(token)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.locator('#conn[data-state="live"]').waitFor({ timeout: 20000 })
}

/** Fail the test on any script error the page reports. */
export function watchErrors (page) {
  const errors = []
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`))
  page.on('console', (message) => {
    // A failed <img> (a placeholder for a file that is no image) is expected noise.
    if (message.type() === 'error' && !/Failed to load resource/.test(message.text())) {
      errors.push(`console: ${message.text()}`)
    }
  })
  return errors
}
