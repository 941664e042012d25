// Binary-safe delivery, as a real client sees it (Node's `ws`): binary
// messages arrive as binary with their exact bytes, text as text, and no
// client is disconnected on the way.
//
// Usage:
//   node binary_delivery.js broadcast SEND_URL RECV_URL PUSH_URL|-
//     One client sends on SEND_URL, two listen on RECV_URL (another node of a
//     cluster, or the same service): a binary message, then a text one; with
//     a push API, an application/octet-stream push, a non-UTF-8 text push
//     (which must get 400 and reach nobody) and a text push.
//   node binary_delivery.js webhook URL
//     A webhook backend (integration/testdata/webhook_backend.py) answers
//     "hex:HEX" with those bytes as a binary message.
// Prints "ok N" after N checks, or "FAIL ..." and exits 1.
const WebSocket = require('ws');
const http = require('http');

let checks = 0;
function fail(why) {
  console.log('FAIL ' + why);
  process.exit(1);
}
setTimeout(() => fail('timed out after ' + checks + ' checks'), 20000);

function open(url) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.inbox = [];
    ws.waiters = [];
    ws.on('message', (data, isBinary) => {
      const message = { data: Buffer.from(data), isBinary };
      const waiter = ws.waiters.shift();
      if (waiter) waiter(message); else ws.inbox.push(message);
    });
    ws.on('close', (code) => { if (!ws.expectClose) fail(url + ' closed with ' + code); });
    ws.on('error', (e) => fail(url + ': ' + e.message));
    ws.on('open', () => resolve(ws));
  });
}

function next(ws) {
  if (ws.inbox.length) return Promise.resolve(ws.inbox.shift());
  return new Promise((resolve) => ws.waiters.push(resolve));
}

async function expect(ws, bytes, isBinary, what) {
  const m = await next(ws);
  if (m.isBinary !== isBinary) fail(`${what}: arrived as ${m.isBinary ? 'binary' : 'text'}`);
  if (!m.data.equals(bytes)) fail(`${what}: got ${m.data.toString('hex')}, want ${bytes.toString('hex')}`);
  checks++;
}

function post(url, body, contentType) {
  return new Promise((resolve) => {
    const request = http.request(url, { method: 'POST', headers: { 'Content-Type': contentType } },
                                 (response) => {
      let text = '';
      response.on('data', (d) => { text += d; });
      response.on('end', () => resolve({ status: response.statusCode, text }));
    });
    request.on('error', (e) => fail('push: ' + e.message));
    request.end(body);
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function broadcast(sendUrl, recvUrl, pushUrl) {
  const sender = await open(sendUrl);
  const receivers = [await open(recvUrl), await open(recvUrl)];
  await sleep(300);  // a cluster relays presence and subscriptions asynchronously
  const binary = Buffer.from([0xff, 0x00, 0x80, 0xfe, 0xc0]);
  sender.send(binary, { binary: true });
  for (const r of receivers) await expect(r, binary, true, 'broadcast binary');
  const text = Buffer.from('h\u00e9llo \u2713');
  sender.send(text.toString());
  for (const r of receivers) await expect(r, text, false, 'broadcast text');
  if (pushUrl !== '-') {
    const bytes = Buffer.from([0xc3, 0x28, 0xa0, 0xa1]);
    let reply = await post(pushUrl, bytes, 'application/octet-stream');
    if (reply.status !== 200) fail('octet-stream push: ' + reply.status + ' ' + reply.text);
    for (const r of receivers) await expect(r, bytes, true, 'push binary');
    reply = await post(pushUrl, bytes, 'text/plain');
    if (reply.status !== 400) fail('non-UTF-8 text push: ' + reply.status + ' ' + reply.text);
    checks++;
    const pushed = Buffer.from('pushed \u2713');
    reply = await post(pushUrl, pushed, 'text/plain; charset=utf-8');
    if (reply.status !== 200) fail('text push: ' + reply.status + ' ' + reply.text);
    // The refused push reached nobody: the next message is the text one.
    for (const r of receivers) await expect(r, pushed, false, 'push text');
  }
  for (const ws of [sender, ...receivers]) { ws.expectClose = true; ws.close(1000); }
}

async function webhook(url) {
  const ws = await open(url);
  await next(ws);  // "welcome ID"
  ws.send('hex:ff00c328a0');
  await expect(ws, Buffer.from([0xff, 0x00, 0xc3, 0x28, 0xa0]), true, 'webhook binary reply');
  ws.send('plain \u2713');
  await expect(ws, Buffer.from('echo: plain \u2713'), false, 'webhook text reply');
  ws.expectClose = true;
  ws.close(1000);
}

const [mode, ...args] = process.argv.slice(2);
(mode === 'broadcast' ? broadcast(args[0], args[1], args[2]) : webhook(args[0]))
    .then(() => { console.log('ok ' + checks); process.exit(0); })
    .catch((e) => fail(e.stack));
