// A strict RFC 8259 JSON syntax check for the example protocols (nesting
// bounded, so hostile input cannot exhaust the stack).
#ifndef SOCKMAN_EXAMPLES_EXTENDING_JSON_CHECK_H_
#define SOCKMAN_EXAMPLES_EXTENDING_JSON_CHECK_H_

#include "absl/strings/string_view.h"

namespace example {

// True if `text` is one JSON value (surrounding whitespace allowed).
bool IsValidJson(absl::string_view text);

}  // namespace example

#endif  // SOCKMAN_EXAMPLES_EXTENDING_JSON_CHECK_H_
