// The peer for bench/ws.sh: Node's `ws` echo server (no compression), one
// process, port 0. Prints "port N" once listening.
const WebSocket = require('ws');

const server = new WebSocket.Server({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
server.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
server.on('listening', () => console.log('port ' + server.address().port));
