// A chat user in Node's `ws` (examples/chat.textproto): picks a nickname,
// sends a private message and waits for the backend's confirmation.
// Usage: node chat_client.js ws://HOST:PORT/rooms/ROOM NICK TO TEXT
// Prints "ok" or "FAIL ..." (exit 1).
const WebSocket = require('ws');
const [url, nick, to, text] = process.argv.slice(2);
const ws = new WebSocket(url);
const fail = (why) => { console.log('FAIL ' + why); process.exit(1); };
setTimeout(() => fail('timed out'), 10000);
ws.on('error', (e) => fail(e.message));
ws.on('message', (data) => {
  const line = data.toString();
  if (line.startsWith('welcome')) ws.send('/nick ' + nick);
  if (line === 'you are ' + nick) ws.send('@' + to + ' ' + text);
  if (line === `(to ${to}) ${text}`) { console.log('ok'); process.exit(0); }
  if (line.startsWith('nobody is called')) fail(line);
});
