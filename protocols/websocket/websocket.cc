#include "protocols/websocket/websocket.h"

#include <typeinfo>

namespace sockman {

namespace {

// The connection's WebSocket codec, or null. Per message on echo paths: a
// type check (the class is final) instead of a dynamic_cast.
WebSocketCodec* WebSocketCodecOf(Connection& connection) {
  Codec& codec = connection.codec();
  return typeid(codec) == typeid(WebSocketCodec) ? static_cast<WebSocketCodec*>(&codec) : nullptr;
}

}  // namespace

bool IsBinaryWebSocketMessage(Connection& connection) {
  WebSocketCodec* codec = WebSocketCodecOf(connection);
  return codec != nullptr && codec->last_message_binary();
}

bool SendWebSocket(Connection& connection, absl::string_view message, bool binary) {
  WebSocketCodec* codec = WebSocketCodecOf(connection);
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
  WebSocketCodec* codec = WebSocketCodecOf(connection);
  return codec == nullptr ? nullptr : &codec->handshake();
}

}  // namespace sockman
