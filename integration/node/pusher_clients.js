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
// 32 bytes: end-to-end encrypted channels' master key (never sent to sockman).
const encryptionMasterKeyBase64 = Buffer.alloc(32, 7).toString("base64");
const server = new PusherServer({
  appId,
  key,
  secret,
  host: "127.0.0.1",
  port,
  useTLS: false,
  encryptionMasterKeyBase64,
});
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
    userAuthentication: {
      customHandler: (params, callback) =>
        callback(null, server.authenticateUser(params.socketId, { id: user, name: "user " + user })),
    },
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

  // End-to-end encrypted channel: sockman relays what it cannot read.
  const [ea] = await subscribed(a, "private-encrypted-vault");
  got = next(ea, "secret");
  await server.trigger("private-encrypted-vault", "secret", { plain: "text" });
  if ((await got)[0].plain !== "text") fail("encrypted channel");
  console.log("ok private-encrypted channel");

  // User authentication: signin, an event to the user, then the app
  // terminates the user's connections (4009: no reconnect).
  const signedIn = new Promise((resolve) => d.user.bind("pusher:signin_success", resolve));
  const toUser = new Promise((resolve) => d.user.bind("note", resolve));
  d.signin();
  await d.user.signinDonePromise;
  await new Promise((resolve) => setTimeout(resolve, 300));  // its #server-to-user channel
  await server.sendToUser("4", "note", { for: "you" });
  if ((await toUser).for !== "you") fail("server-to-user event");
  const closed = new Promise((resolve) => d.connection.bind("state_change", (s) => {
    if (s.current === "failed" || s.current === "disconnected" || s.current === "unavailable") resolve(s);
  }));
  await server.terminateUserConnections("4");
  await closed;
  console.log("ok signin, server-to-user events, terminate_connections");
  void signedIn;

  // Laravel Echo on pusher-js: public and private channels.
  // laravel-echo 2 is an ES module (which NODE_PATH does not reach): by path.
  const path = require("path");
  const { pathToFileURL } = require("url");
  const echoPath = (process.env.NODE_PATH || "").split(":").map((d) => path.join(d, "laravel-echo/dist/echo.js"))
    .find((f) => require("fs").existsSync(f));
  if (!echoPath) fail("laravel-echo is not installed");
  const Echo = (await import(pathToFileURL(echoPath).href)).default;
  const echo = new Echo({ broadcaster: "pusher", client: client("7") });
  const shipped = new Promise((resolve) => echo.channel("orders").listen(".OrderShipped", resolve));
  await new Promise((resolve) => setTimeout(resolve, 500));
  await server.trigger("orders", "OrderShipped", { order: 42 });
  if ((await shipped).order !== 42) fail("laravel-echo");
  echo.disconnect();
  console.log("ok laravel-echo");

  for (const x of clients) x.disconnect();
  clearTimeout(timer);
  console.log("PASS");
  process.exit(0);
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
