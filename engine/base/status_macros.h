// Propagating absl::Status in one line. Our Abseil (20220623) has no
// ABSL_RETURN_IF_ERROR, so sockman defines the two macros once, here.
//
//   SOCKMAN_RETURN_IF_ERROR(listener.Bind(address));
//   SOCKMAN_ASSIGN_OR_RETURN(auto fd, OpenSocket(family));
#ifndef SOCKMAN_ENGINE_BASE_STATUS_MACROS_H_
#define SOCKMAN_ENGINE_BASE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define SOCKMAN_RETURN_IF_ERROR(expr)                                   \
  do {                                                                  \
    if (absl::Status sockman_status_ = (expr); !sockman_status_.ok()) { \
      return sockman_status_;                                           \
    }                                                                   \
  } while (0)

#define SOCKMAN_CONCAT_INNER_(a, b) a##b
#define SOCKMAN_CONCAT_(a, b) SOCKMAN_CONCAT_INNER_(a, b)

#define SOCKMAN_ASSIGN_OR_RETURN(lhs, expr) \
  SOCKMAN_ASSIGN_OR_RETURN_IMPL_(SOCKMAN_CONCAT_(sockman_statusor_, __LINE__), lhs, expr)

#define SOCKMAN_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                   \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = std::move(statusor).value()

#endif  // SOCKMAN_ENGINE_BASE_STATUS_MACROS_H_
