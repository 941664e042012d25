// The load for bench/pusher.sh: SUBSCRIBERS raw Pusher protocol clients (Node
// `ws`, one process) spread over CHANNELS public channels, and the official
// `pusher` server SDK triggering RATE events a second, round-robin over the
// channels, for SECONDS. Each event carries its send time; every delivery's
// latency is recorded (one process, one clock).
//
//   node pusher_load.js PORT APP_ID KEY SECRET SUBSCRIBERS CHANNELS RATE SECONDS
//
// Prints: "connections=N triggers=T deliveries=D p50_us=.. p99_us=.. p999_us=.. errors=E"
const WebSocket = require("ws");
const PusherServer = require("pusher");
const http = require("http");

const [port, appId, key, secret, subscribers, channels, rate, seconds] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
const server = new PusherServer({ appId, key, secret, host: "127.0.0.1", port, useTLS: false, agent });
const latencies = [];
let subscribed = 0, errors = 0, triggers = 0;
const sockets = [];

function now() { return Number(process.hrtime.bigint() / 1000n); }  // microseconds

function open(i) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/app/${key}?protocol=7&client=bench&version=1`,
                             { perMessageDeflate: false });
    ws.on("message", (raw) => {
      const m = JSON.parse(raw);
      if (m.event === "pusher:connection_established") {
        ws.send(JSON.stringify({ event: "pusher:subscribe", data: { channel: "bench-" + (i % channels) } }));
      } else if (m.event === "pusher_internal:subscription_succeeded") {
        ++subscribed;
        resolve();
      } else if (m.event === "tick") {
        latencies.push(now() - Number(m.data));
      }
    });
    ws.on("error", () => { ++errors; resolve(); });
    sockets.push(ws);
  });
}

async function main() {
  for (let i = 0; i < subscribers; i += 100) {
    const batch = [];
    for (let j = i; j < Math.min(i + 100, subscribers); ++j) batch.push(open(j));
    await Promise.all(batch);
  }
  const start = Date.now();
  let sent = 0;
  const inflight = new Set();
  await new Promise((resolve) => {
    const tick = setInterval(() => {
      const due = Math.floor(((Date.now() - start) / 1000) * rate);
      for (; sent < due; ++sent) {
        const p = server.trigger("bench-" + (sent % channels), "tick", String(now()))
          .then(() => ++triggers, () => ++errors);
        inflight.add(p);
        p.finally(() => inflight.delete(p));
      }
      if (Date.now() - start >= seconds * 1000) { clearInterval(tick); resolve(); }
    }, 2);
  });
  await Promise.all([...inflight]);
  await new Promise((r) => setTimeout(r, 500));  // the last deliveries
  latencies.sort((a, b) => a - b);
  const pct = (q) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] : 0);
  console.log(`connections=${subscribed} triggers=${triggers} deliveries=${latencies.length} ` +
              `p50_us=${pct(0.5)} p99_us=${pct(0.99)} p999_us=${pct(0.999)} errors=${errors}`);
  for (const ws of sockets) ws.terminate();
  process.exit(0);
}
main();
