// sockman's public API: everything a protocol or handler of your own needs,
// the same API the built-in ones use. docs/extending.md walks through it.
//
//   Protocols        protocols/protocol.h    Codec (Decode/Encode, bounded,
//                                             incremental), Protocol,
//                                             SOCKMAN_REGISTER_PROTOCOL
//   Handlers         handlers/handler.h      Handler (OnWorkerStart/Stop/Reload
//                                             + the ConnectionEvents below),
//                                             HandlerFactory, WorkerContext,
//                                             SOCKMAN_REGISTER_HANDLER
//   Module config    handlers/module.h       ParseModuleConfig (`module {}`)
//   Connections      protocols/connection.h  ConnectionEvents (OnConnect,
//                                             OnOpen, OnMessage, OnClose,
//                                             OnBufferFull, OnBufferDrain,
//                                             OnError); Connection (Send,
//                                             Close, Destroy, PauseRecv,
//                                             ResumeRecv, remote_address, id,
//                                             user_data, timers)
//   Timers           engine/reactor.h        Reactor::AddTimer (one-shot),
//                                             AddRepeatingTimer, CancelTimer:
//                                             Workerman's Timer::add / del, in ms
//   Outbound         protocols/outbound.h    AsyncTcpConnection (by host name,
//                                             c-ares; Reconnect)
//   Pipe             protocols/pipe.h        forward both ways with backpressure
//   HTTP             protocols/http/http.h   requests, responses, cookies, streams
//                    protocols/http/http_client.h  outbound HTTP/1.1, keep-alive pool
//   WebSocket        protocols/websocket/websocket.h  text/binary, the handshake
//   Errors           engine/base/status_macros.h  SOCKMAN_RETURN_IF_ERROR, ...
//   Logging          engine/base/logging.h   LogInfo/LogWarning/LogError,
//                                             RateLimitedLog
//
// Everything runs on the worker's one loop: callbacks must not block.
#ifndef SOCKMAN_HANDLERS_API_H_
#define SOCKMAN_HANDLERS_API_H_

#include "engine/base/logging.h"
#include "engine/base/status_macros.h"
#include "engine/reactor.h"
#include "handlers/handler.h"
#include "handlers/module.h"
#include "protocols/connection.h"
#include "protocols/http/http.h"
#include "protocols/http/http_client.h"
#include "protocols/outbound.h"
#include "protocols/pipe.h"
#include "protocols/protocol.h"
#include "protocols/websocket/websocket.h"

#endif  // SOCKMAN_HANDLERS_API_H_
