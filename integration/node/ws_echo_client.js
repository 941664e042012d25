// Drives sockman's WebSocket echo with Node's `ws` client: text, binary,
// empty and boundary-sized messages, a 16 MiB message and a fragmented one.
// Usage: node ws_echo_client.js ws://127.0.0.1:PORT/ [plain|deflate|deflate-nct]
//   plain        no extension offered (the default)
//   deflate      permessage-deflate with context takeover, every message compressed
//   deflate-nct  ...with no context takeover either way and a 10-bit server window
//   small        plain, without the 16 MiB messages (for the default 10 MiB limit)
// Prints "ok N" after N checks, or "FAIL ..." and exits 1.
const WebSocket = require('ws');

const url = process.argv[2];
const mode = process.argv[3] || 'plain';
const deflate = {
  plain: false,
  small: false,
  deflate: { threshold: 0 },
  'deflate-nct': {
    threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true,
    serverMaxWindowBits: 10,
  },
}[mode];
if (deflate === undefined) {
  console.log('FAIL unknown mode ' + mode);
  process.exit(1);
}
const ws = new WebSocket(url, { perMessageDeflate: deflate, maxPayload: 64 << 20 });
const sizes = [0, 1, 125, 126, 65535, 65536];
if (mode !== 'small') sizes.push(16 << 20);
const cases = [];
for (const n of sizes) {
  cases.push({ data: 'x'.repeat(n), binary: false });
  cases.push({ data: Buffer.alloc(n, 0xab), binary: true });
}
let index = 0;
let checks = 0;

function fail(why) {
  console.log('FAIL ' + why);
  process.exit(1);
}

function next() {
  if (index === cases.length) {
    // A fragmented message: ws sends fin=false pieces with `fin` option.
    ws.send('frag', { fin: false });
    ws.send('ment', { fin: false });
    ws.send('ed', { fin: true });
    return;
  }
  const c = cases[index];
  ws.send(c.data, { binary: c.binary });
}

ws.on('open', () => {
  const negotiated = ws.extensions.includes('permessage-deflate');
  if (negotiated !== (deflate !== false)) fail('extensions: "' + ws.extensions + '"');
  next();
});
ws.on('message', (data, isBinary) => {
  if (index === cases.length) {
    if (isBinary || data.toString() !== 'fragmented') fail('fragmented echo: ' + data);
    checks++;
    ws.close(1000, 'done');
    return;
  }
  const c = cases[index];
  const got = isBinary ? data : data.toString();
  const same = c.binary ? Buffer.compare(got, c.data) === 0 : got === c.data;
  if (isBinary !== c.binary || !same) {
    fail(`case ${index}: binary ${isBinary} vs ${c.binary}, length ${got.length} vs ${c.data.length}`);
  }
  checks++;
  index++;
  next();
});
ws.on('close', (code) => {
  if (code !== 1000) fail('close code ' + code);
  console.log('ok ' + checks);
  process.exit(0);
});
ws.on('error', (e) => fail('error ' + e.message));
setTimeout(() => fail('timeout'), 30000);
