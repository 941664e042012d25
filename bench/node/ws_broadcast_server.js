// The peer for bench/broadcast.sh: a Node `ws` server that sends every
// message to every client (one process), port 0. Prints "port N".
const WebSocket = require('ws');

const server = new WebSocket.Server({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
server.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    for (const client of server.clients) client.send(data, { binary: isBinary });
  });
});
server.on('listening', () => console.log('port ' + server.address().port));
