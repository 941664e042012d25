#include "protocols/websocket/websocket.h"

namespace sockman {

bool IsBinaryWebSocketMessage(Connection& connection) {
  auto* codec = dynamic_cast<WebSocketCodec*>(&connection.codec());
  return codec != nullptr && codec->last_message_binary();
}

bool SendWebSocket(Connection& connection, absl::string_view message, bool binary) {
  auto* codec = dynamic_cast<WebSocketCodec*>(&connection.codec());
  if (codec == nullptr || !codec->open()) return false;
  thread_local std::string frame;
  frame.clear();
  bool sent;
  if (codec->EncodeMessageHeader(binary, message, frame)) {
    absl::string_view parts[] = {frame, message};
    sent = connection.SendRaw(parts);
  } else {
    codec->EncodeMessage(binary, message, frame);
    sent = connection.SendRaw(frame);
  }
  if (frame.capacity() > (1u << 20)) std::string().swap(frame);
  return sent;
}

const HttpRequest* WebSocketHandshake(Connection& connection) {
  auto* codec = dynamic_cast<WebSocketCodec*>(&connection.codec());
  return codec == nullptr ? nullptr : &codec->handshake();
}

}  // namespace sockman
