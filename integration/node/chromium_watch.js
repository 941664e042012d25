// Opens a page in headless Chromium over the DevTools protocol and waits,
// in real time, until its text contains a marker (for pages that keep
// updating: --dump-dom would dump them at load). Then prints the page's text
// and, given a path, saves a screenshot there.
// Usage: node chromium_watch.js URL MARKER TIMEOUT_MS [SCREENSHOT.png]
// Prints the page text; exits 1 (printing it anyway) if the marker never came.
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const WebSocket = require('ws');

const [url, marker, timeoutMs, screenshot] = process.argv.slice(2);
const profile = fs.mkdtempSync(path.join(process.env.TEST_TMPDIR || os.tmpdir(), 'chromium-'));
const chromium = spawn('chromium', [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
  '--disable-background-networking', '--disable-component-update', '--no-first-run',
  '--disable-sync', `--user-data-dir=${profile}`, '--window-size=1280,900',
  '--remote-debugging-port=0', 'about:blank',
], { env: { ...process.env, HOME: profile }, stdio: ['ignore', 'ignore', 'pipe'] });
const deadline = Date.now() + Number(timeoutMs);
const finish = (code, text) => {
  console.log(text);
  chromium.kill('SIGKILL');
  process.exit(code);
};
setTimeout(() => finish(1, 'timeout waiting for chromium'), Number(timeoutMs) + 20000);

let stderr = '';
chromium.stderr.on('data', (chunk) => {
  stderr += chunk;
  const m = stderr.match(/DevTools listening on (ws:\/\/\S+)/);
  if (m && !chromium.connected) {
    chromium.connected = true;
    drive(m[1]).catch((e) => finish(1, 'error: ' + e.message));
  }
});

async function drive(browserUrl) {
  const ws = new WebSocket(browserUrl, { perMessageDeflate: false });
  await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
  let next = 1;
  const waiting = new Map();
  ws.on('message', (data) => {
    const message = JSON.parse(data);
    if (message.id && waiting.has(message.id)) {
      waiting.get(message.id)(message);
      waiting.delete(message.id);
    }
  });
  const call = (method, params = {}, sessionId) => new Promise((resolve) => {
    const id = next++;
    waiting.set(id, resolve);
    ws.send(JSON.stringify({ id, method, params, sessionId }));
  });
  const { result: { targetId } } = await call('Target.createTarget', { url });
  const { result: { sessionId } } = await call('Target.attachToTarget', { targetId, flatten: true });
  let text = '';
  while (Date.now() < deadline) {
    const r = await call('Runtime.evaluate',
      { expression: 'document.body ? document.body.innerText : ""', returnByValue: true }, sessionId);
    text = (r.result && r.result.result && r.result.result.value) || '';
    if (text.includes(marker)) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  if (screenshot) {
    const shot = await call('Page.captureScreenshot', { format: 'png' }, sessionId);
    if (shot.result && shot.result.data) fs.writeFileSync(screenshot, Buffer.from(shot.result.data, 'base64'));
  }
  finish(text.includes(marker) ? 0 : 1, text);
}
