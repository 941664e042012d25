// Server is one service running in one worker, whatever carries it:
// StreamServer (TCP, TLS) or UdpServer (datagrams). The worker's status,
// connection listing and graceful stop go through this interface.
#ifndef SOCKMAN_PROTOCOLS_SERVER_H_
#define SOCKMAN_PROTOCOLS_SERVER_H_

#include <cstddef>
#include <functional>

#include "protocols/connection.h"

namespace sockman {

class Server {
 public:
  virtual ~Server() = default;
  // Open connections (datagram services have none between datagrams).
  virtual size_t connection_count() const = 0;
  virtual const ServiceCounters& counters() const = 0;
  virtual void ForEachConnection(const std::function<void(Connection&)>& visit) = 0;
  // Stops taking new peers and tells open connections to wind down.
  virtual void Drain() = 0;
};

}  // namespace sockman

#endif  // SOCKMAN_PROTOCOLS_SERVER_H_
