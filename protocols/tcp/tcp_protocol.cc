#include "protocols/tcp/tcp_protocol.h"

namespace sockman {

SOCKMAN_REGISTER_PROTOCOL(TcpProtocol);

}  // namespace sockman
