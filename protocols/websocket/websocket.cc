#include "protocols/websocket/websocket.h"

namespace sockman {

const HttpRequest* WebSocketHandshake(Connection& connection) {
  WebSocketCodec* codec = connection.codec_as<WebSocketCodec>();
  return codec == nullptr ? nullptr : &codec->handshake();
}

}  // namespace sockman
