// The WebSocket API for handlers: message type, binary sends, the handshake.
//
//   void OnMessage(Connection& c, absl::string_view message) override {
//     SendWebSocket(c, message, /*binary=*/IsBinaryWebSocketMessage(c));
//   }
#ifndef SOCKMAN_PROTOCOLS_WEBSOCKET_WEBSOCKET_H_
#define SOCKMAN_PROTOCOLS_WEBSOCKET_WEBSOCKET_H_

#include "absl/strings/string_view.h"
#include "protocols/connection.h"
#include "protocols/websocket/websocket_codec.h"

namespace sockman {

// True if `connection` is a WebSocket and the message being handled is binary.
bool IsBinaryWebSocketMessage(Connection& connection);

// Sends one text or binary message. Returns false if `connection` is not a
// WebSocket or the message was dropped.
bool SendWebSocket(Connection& connection, absl::string_view message, bool binary);

// The upgrade request (path, headers, Origin...), or nullptr.
const HttpRequest* WebSocketHandshake(Connection& connection);

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_WEBSOCKET_WEBSOCKET_H_
