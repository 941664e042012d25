// The WebSocket API for handlers beyond Connection::Send(message, kind): the
// upgrade request the connection was opened with.
//
//   void OnOpen(Connection& c) override {
//     if (const HttpRequest* upgrade = WebSocketHandshake(c)) Log(upgrade->path);
//   }
#ifndef SOCKMAN_PROTOCOLS_WEBSOCKET_WEBSOCKET_H_
#define SOCKMAN_PROTOCOLS_WEBSOCKET_WEBSOCKET_H_

#include "protocols/connection.h"
#include "protocols/websocket/websocket_codec.h"

namespace sockman {

// The upgrade request (path, headers, Origin...), or nullptr when
// `connection` is not a WebSocket.
const HttpRequest* WebSocketHandshake(Connection& connection);

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_WEBSOCKET_WEBSOCKET_H_
