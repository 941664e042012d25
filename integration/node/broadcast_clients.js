// Drives a broadcast service with Node's `ws`: CLIENTS clients connect to
// URL; once all are open, the first SENDERS each send MESSAGES messages
// ("s<sender>:<seq>"). Every client must receive every message exactly once,
// and each sender's in order. Prints "ok <deliveries>" or "FAIL ..." (exit 1).
// Usage: node broadcast_clients.js URL CLIENTS SENDERS MESSAGES
const WebSocket = require('ws');

const [url, clients, senders, messages] =
    [process.argv[2], +process.argv[3], +process.argv[4], +process.argv[5]];
const expected = senders * messages;
let open = 0;
let finished = 0;
let deliveries = 0;
const sockets = [];

function fail(why) {
  console.log('FAIL ' + why);
  process.exit(1);
}

for (let i = 0; i < clients; i++) {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const next = new Array(senders).fill(0);  // next expected seq per sender
  let received = 0;
  ws.on('open', () => {
    if (++open === clients) start();
  });
  ws.on('message', (data) => {
    const m = /^s(\d+):(\d+)$/.exec(data.toString());
    if (!m) fail(`client ${i}: unexpected ${data}`);
    const sender = +m[1], seq = +m[2];
    if (seq !== next[sender]) fail(`client ${i}: from ${sender} got ${seq}, expected ${next[sender]}`);
    next[sender]++;
    deliveries++;
    if (++received === expected && ++finished === clients) {
      console.log('ok ' + deliveries);
      process.exit(0);
    }
    if (received > expected) fail(`client ${i}: more than ${expected} messages`);
  });
  ws.on('error', (e) => fail(`client ${i}: ${e.message}`));
  ws.on('close', () => { if (finished < clients) fail(`client ${i} closed`); });
  sockets.push(ws);
}

function start() {
  for (let s = 0; s < senders; s++) {
    for (let k = 0; k < messages; k++) sockets[s].send(`s${s}:${k}`);
  }
}

setTimeout(() => fail(`timeout: ${finished}/${clients} clients complete, ${deliveries} deliveries`),
           60000);
