// Real Pusher libraries against sockman's pusher handler: pusher-js (its
// Node build) as the clients and the official `pusher` server SDK for
// triggers, channel authorization and HTTP API queries.
//
//   node pusher_clients.js PORT APP_ID KEY SECRET
//
// Prints "ok ..." per check and "PASS" at the end; exits non-zero at the
// first failure.
const Pusher = require("pusher-js");
const PusherServer = require("pusher");

const [port, appId, key, secret] = process.argv.slice(2);
const server = new PusherServer({ appId, key, secret, host: "127.0.0.1", port, useTLS: false });
const forged = new PusherServer({
  appId,
  key,
  secret: "not-the-secret",
  host: "127.0.0.1",
  port,
  useTLS: false,
});

function fail(what) {
  console.log("FAIL " + what);
  process.exit(1);
}
const timer = setTimeout(() => fail("timed out"), 30000);

function client(user, appKey = key) {
  return new Pusher(appKey, {
    wsHost: "127.0.0.1",
    wsPort: Number(port),
    forceTLS: false,
    enabledTransports: ["ws"],
    cluster: "mt1",
    channelAuthorization: {
      customHandler: (params, callback) => {
        const presence = params.channelName.startsWith("presence-")
          ? { user_id: user, user_info: { name: "user " + user } }
          : undefined;
        if (params.channelName.includes("forbidden")) {
          // A signature made with the wrong secret.
          return callback(null, forged.authorizeChannel(params.socketId, params.channelName, presence));
        }
        callback(null, server.authorizeChannel(params.socketId, params.channelName, presence));
      },
    },
  });
}

function connected(c) {
  return new Promise((resolve, reject) => {
    c.connection.bind("connected", () => resolve(c));
    c.connection.bind("failed", () => reject(new Error("failed")));
  });
}
function subscribed(c, name) {
  return new Promise((resolve, reject) => {
    const channel = c.subscribe(name);
    channel.bind("pusher:subscription_succeeded", (data) => resolve([channel, data]));
    channel.bind("pusher:subscription_error", (e) => reject(new Error(JSON.stringify(e))));
  });
}
function next(channel, event) {
  return new Promise((resolve) => channel.bind(event, (data, meta) => resolve([data, meta])));
}
function silent(channel, event, ms) {
  return new Promise((resolve) => {
    let got = false;
    channel.bind(event, () => (got = true));
    setTimeout(() => resolve(!got), ms);
  });
}

async function main() {
  // Several clients, so that with two workers some share none.
  const clients = [];
  for (let i = 1; i <= 4; ++i) clients.push(await connected(client(String(i))));
  const [a, b, c, d] = clients;
  for (const x of clients) {
    if (!/^\d+\.\d+$/.test(x.connection.socket_id)) fail("socket id " + x.connection.socket_id);
  }
  if (new Set(clients.map((x) => x.connection.socket_id)).size !== 4) fail("socket ids repeat");
  console.log("ok connected, socket ids " + clients.map((x) => x.connection.socket_id).join(" "));

  // Public channel: a server event reaches every subscriber; socket_id excludes one.
  const news = [];
  for (const x of clients) news.push((await subscribed(x, "news"))[0]);
  let got = Promise.all(news.map((ch) => next(ch, "update")));
  await server.trigger("news", "update", { n: 1 });
  for (const [data] of await got) if (data.n !== 1) fail("public event " + JSON.stringify(data));
  const quiet = silent(news[0], "update2", 700);
  got = Promise.all(news.slice(1).map((ch) => next(ch, "update2")));
  await server.trigger("news", "update2", { n: 2 }, { socket_id: a.connection.socket_id });
  await got;
  if (!(await quiet)) fail("socket_id exclusion");
  console.log("ok public channel, server events, socket_id exclusion");

  // Batch events.
  got = next(news[1], "batched");
  await server.triggerBatch([{ channel: "news", name: "batched", data: { b: true } }]);
  if (!(await got)[0].b) fail("batch event");
  console.log("ok batch events");

  // Private channel: client events reach the others, never the sender.
  const [pa] = await subscribed(a, "private-room");
  const [pb] = await subscribed(b, "private-room");
  const [pc] = await subscribed(c, "private-room");
  const notEcho = silent(pa, "client-typing", 700);
  got = Promise.all([next(pb, "client-typing"), next(pc, "client-typing")]);
  if (!pa.trigger("client-typing", { who: "a" })) fail("trigger refused locally");
  for (const [data] of await got) if (data.who !== "a") fail("client event " + JSON.stringify(data));
  if (!(await notEcho)) fail("client event echoed to its sender");
  console.log("ok private channel, client events");

  // A signature by the wrong secret is refused.
  try {
    await subscribed(a, "private-forbidden");
    fail("forged signature accepted");
  } catch (e) {
    if (!String(e).includes("AuthError")) fail("forged signature: " + e);
  }
  console.log("ok forged channel signature refused");

  // Presence: members, member_added, member_removed.
  const [la, membersA] = await subscribed(a, "presence-lobby");
  if (membersA.count !== 1 || membersA.me.id !== "1") fail("first member " + JSON.stringify(membersA));
  const added = next(la, "pusher:member_added");
  const [lb, membersB] = await subscribed(b, "presence-lobby");
  if (membersB.count !== 2 || !membersB.get("1")) fail("members seen by b " + membersB.count);
  const [member] = await added;
  if (member.id !== "2" || member.info.name !== "user 2") fail("member_added " + JSON.stringify(member));
  console.log("ok presence: members and member_added");

  // The HTTP API: channels, one channel, its users.
  const list = await (await server.get({ path: "/channels", params: { filter_by_prefix: "presence-", info: "user_count" } })).json();
  if (!list.channels["presence-lobby"] || list.channels["presence-lobby"].user_count !== 2) {
    fail("GET /channels " + JSON.stringify(list));
  }
  const one = await (await server.get({ path: "/channels/news", params: { info: "subscription_count" } })).json();
  if (!one.occupied || one.subscription_count !== 4) fail("GET /channels/news " + JSON.stringify(one));
  const users = await (await server.get({ path: "/channels/presence-lobby/users" })).json();
  if (users.users.map((u) => u.id).sort().join() !== "1,2") fail("users " + JSON.stringify(users));
  console.log("ok HTTP API: channels, channel info, users");

  // A request signed with the wrong secret: 401.
  try {
    await forged.trigger("news", "x", {});
    fail("forged API request accepted");
  } catch (e) {
    if (e.status !== 401) fail("forged API request: " + e.status);
  }
  console.log("ok forged API request refused");

  const removed = next(la, "pusher:member_removed");
  b.unsubscribe("presence-lobby");
  const [gone] = await removed;
  if (gone.id !== "2") fail("member_removed " + JSON.stringify(gone));
  console.log("ok presence: member_removed");

  // An unknown app key: error 4001, and pusher-js gives up.
  const stranger = client("9", "no-such-key");
  const error = await new Promise((resolve) => stranger.connection.bind("error", resolve));
  // pusher-js wraps the server's pusher:error in a WebSocketError.
  const inner = error.error || error;
  const code = inner.data && inner.data.code;
  if (code !== 4001) fail("unknown key: " + JSON.stringify(error));
  stranger.disconnect();
  console.log("ok unknown app key: 4001");

  for (const x of clients) x.disconnect();
  clearTimeout(timer);
  console.log("PASS");
  process.exit(0);
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
