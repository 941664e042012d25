// The three protocols of Workerman's manual chapter on custom protocols, as
// sockman codecs (each registered under its scheme in protocols.cc):
//
//   jsonnl://   one JSON value per line ("\n"-terminated, "\r\n" accepted);
//               with options (JsonNlOptions), over TCP, TLS or UDP
//   xml://      a 10-digit ASCII decimal total length (header included),
//               then an XML body: "0000000025<a>hello</a>" ...
//   jsonint://  a 4-byte network-order total length (header included), then
//               a JSON body
//
// Each is incremental (bytes may arrive split anywhere), bounded by
// max_package_size before anything is buffered, and rejects malformed input
// (bad JSON, a length that is not digits, a body that is not XML-shaped).
#ifndef SOCKMAN_EXAMPLES_EXTENDING_PROTOCOLS_H_
#define SOCKMAN_EXAMPLES_EXTENDING_PROTOCOLS_H_

#include "handlers/api.h"

namespace example {

// What the binding of jsonnl:// builds from `protocol_options`.
struct JsonNlSettings final : sockman::ProtocolOptions {
  bool objects_only = false;
};

class JsonNlCodec : public sockman::Codec {
 public:
  explicit JsonNlCodec(const sockman::CodecOptions& options);
  sockman::DecodeResult Decode(absl::string_view input) override;
  void Encode(absl::string_view message, sockman::MessageKind kind, std::string& out) override;

 private:
  size_t max_;
  bool objects_only_ = false;
  size_t scanned_ = 0;  // bytes already searched for "\n"
};

class XmlCodec : public sockman::Codec {
 public:
  static constexpr size_t kHeader = 10;
  explicit XmlCodec(const sockman::CodecOptions& options) : max_(options.max_package_size) {}
  sockman::DecodeResult Decode(absl::string_view input) override;
  void Encode(absl::string_view message, sockman::MessageKind kind, std::string& out) override;

 private:
  size_t max_;
};

class JsonIntCodec : public sockman::Codec {
 public:
  static constexpr size_t kHeader = 4;
  explicit JsonIntCodec(const sockman::CodecOptions& options) : max_(options.max_package_size) {}
  sockman::DecodeResult Decode(absl::string_view input) override;
  void Encode(absl::string_view message, sockman::MessageKind kind, std::string& out) override;

 private:
  size_t max_;
};

}  // namespace example

#endif  // SOCKMAN_EXAMPLES_EXTENDING_PROTOCOLS_H_
