#include "handlers/pusher/pusher_wire.h"

#include <openssl/hmac.h>
#include <openssl/md5.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/base/json.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace sockman::pusher {
namespace {

std::string Hex(const unsigned char* bytes, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 15]);
  }
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool Decode(absl::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = HexDigit(in[i + 1]);
      int lo = HexDigit(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return true;
}

}  // namespace

std::string SocketId(absl::string_view client_id) {
  // [NODE-] then 8 hex digits of start time, 6 of pid, the rest the
  // connection number.
  absl::string_view node;
  size_t dash = client_id.rfind('-');
  if (dash != absl::string_view::npos) {
    node = client_id.substr(0, dash);
    client_id.remove_prefix(dash + 1);
  }
  uint64_t process = 0, connection = 0;
  if (client_id.size() < 15 || !absl::SimpleHexAtoi(client_id.substr(0, 14), &process) ||
      !absl::SimpleHexAtoi(client_id.substr(14), &connection)) {
    // Not a hub id: still a valid, stable socket id.
    uint64_t h = 1469598103934665603ULL;
    for (char c : client_id) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    return absl::StrCat(h >> 1, ".", h & 0xffffffff);
  }
  std::string second;
  if (!node.empty()) {
    uint32_t h = 2166136261u;  // FNV-1a of the node id, as ten digits
    for (char c : node) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
    second = absl::StrCat(absl::Dec(h, absl::kZeroPad10));
  }
  return absl::StrCat(process, ".", second, connection);
}

bool ValidSocketId(absl::string_view socket_id) {
  size_t dot = socket_id.find('.');
  if (dot == 0 || dot == absl::string_view::npos || dot + 1 == socket_id.size() ||
      socket_id.size() > 64) {
    return false;
  }
  for (size_t i = 0; i < socket_id.size(); ++i) {
    if (i != dot && !absl::ascii_isdigit(static_cast<unsigned char>(socket_id[i]))) return false;
  }
  return true;
}

bool ValidChannelName(absl::string_view channel) {
  if (channel.empty() || channel.size() > 200) return false;
  for (char c : channel) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
        std::strchr("_-=@,.;", c) == nullptr) {
      return false;
    }
  }
  return true;
}

bool ValidEventName(absl::string_view name) { return !name.empty() && name.size() <= 200; }

ChannelKind KindOf(absl::string_view channel) {
  if (absl::StartsWith(channel, "private-encrypted-")) return ChannelKind::kEncrypted;
  if (absl::StartsWith(channel, "private-")) return ChannelKind::kPrivate;
  if (absl::StartsWith(channel, "presence-")) return ChannelKind::kPresence;
  return ChannelKind::kPublic;
}

std::string Sign(absl::string_view secret, absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), secret.size(), reinterpret_cast<const uint8_t*>(data.data()),
       data.size(), digest, &length);
  return Hex(digest, length);
}

std::string Md5Hex(absl::string_view data) {
  unsigned char digest[MD5_DIGEST_LENGTH];
  MD5(reinterpret_cast<const uint8_t*>(data.data()), data.size(), digest);
  return Hex(digest, sizeof(digest));
}

bool SafeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

bool ChannelAuthValid(absl::string_view key, absl::string_view secret, absl::string_view socket_id,
                      absl::string_view channel, absl::string_view channel_data,
                      absl::string_view auth) {
  size_t colon = auth.find(':');
  if (colon == absl::string_view::npos || !SafeEquals(auth.substr(0, colon), key)) return false;
  std::string signed_data = absl::StrCat(socket_id, ":", channel);
  if (KindOf(channel) == ChannelKind::kPresence) absl::StrAppend(&signed_data, ":", channel_data);
  return SafeEquals(auth.substr(colon + 1), Sign(secret, signed_data));
}

bool ParseQuery(absl::string_view query, std::vector<std::pair<std::string, std::string>>& params) {
  params.clear();
  for (absl::string_view part : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(part, absl::MaxSplits('=', 1));
    std::string name, value;
    if (!Decode(kv.first, name) || !Decode(kv.second, value)) return false;
    params.emplace_back(std::move(name), std::move(value));
  }
  return true;
}

std::string CheckApiRequest(absl::string_view method, absl::string_view path,
                            absl::string_view query, absl::string_view body, absl::string_view key,
                            absl::string_view secret, int64_t now_s, int64_t window_s) {
  std::vector<std::pair<std::string, std::string>> params;
  if (!ParseQuery(query, params)) return "malformed query";
  std::string signature, auth_key, timestamp, version, md5;
  std::vector<std::string> signed_params;
  for (const auto& [name, value] : params) {
    if (name == "auth_signature") {
      signature = value;
      continue;
    }
    if (name == "auth_key") auth_key = value;
    if (name == "auth_timestamp") timestamp = value;
    if (name == "auth_version") version = value;
    if (name == "body_md5") md5 = value;
    signed_params.push_back(absl::StrCat(absl::AsciiStrToLower(name), "=", value));
  }
  if (signature.empty()) return "auth_signature is missing";
  if (!SafeEquals(auth_key, key)) return "unknown auth_key";
  if (version != "1.0") return "auth_version must be 1.0";
  int64_t stamp = 0;
  if (!absl::SimpleAtoi(timestamp, &stamp)) return "auth_timestamp is missing";
  if (stamp < now_s - window_s || stamp > now_s + window_s) {
    return absl::StrCat("auth_timestamp is more than ", window_s, " s from the server's time");
  }
  if (!body.empty() && !SafeEquals(md5, Md5Hex(body))) return "body_md5 does not match the body";
  std::sort(signed_params.begin(), signed_params.end());
  std::string expected =
      Sign(secret, absl::StrCat(method, "\n", path, "\n", absl::StrJoin(signed_params, "&")));
  if (!SafeEquals(absl::AsciiStrToLower(signature), expected)) return "invalid auth_signature";
  return "";
}

namespace {

constexpr unsigned kJsonFlags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
constexpr int kMaxDepth = 32;

int Depth(const rapidjson::Value& value, int limit) {
  if (limit <= 0) return 0;
  int deepest = 0;
  if (value.IsObject()) {
    for (const auto& m : value.GetObject()) deepest = std::max(deepest, Depth(m.value, limit - 1));
    return deepest + 1;
  }
  if (value.IsArray()) {
    for (const auto& v : value.GetArray()) deepest = std::max(deepest, Depth(v, limit - 1));
    return deepest + 1;
  }
  return 0;
}

}  // namespace

std::string CompactJson(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

bool StringMember(const rapidjson::Value& object, const char* name, std::string& out) {
  out.clear();
  if (!object.IsObject()) return false;
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsString()) return false;
  out.assign(it->value.GetString(), it->value.GetStringLength());
  return true;
}

std::vector<PresenceMember> PresenceMembersOf(const std::vector<std::string>& infos,
                                              absl::string_view channel) {
  std::vector<PresenceMember> members;
  for (const std::string& line : infos) {
    rapidjson::Document info;
    info.Parse<kJsonFlags>(line.data(), line.size());
    if (info.HasParseError() || !info.IsObject()) continue;
    auto session = info.FindMember("session");
    if (session == info.MemberEnd() || !session->value.IsObject()) continue;
    auto member = session->value.FindMember(
        rapidjson::Value(channel.data(), static_cast<rapidjson::SizeType>(channel.size())));
    if (member == session->value.MemberEnd()) continue;
    PresenceMember m;
    if (!StringMember(member->value, "user_id", m.user_id)) continue;
    auto user_info = member->value.FindMember("user_info");
    if (user_info != member->value.MemberEnd()) m.user_info = CompactJson(user_info->value);
    members.push_back(std::move(m));
  }
  return members;
}

bool ParseClientMessage(absl::string_view message, size_t max_size, ClientMessage& out,
                        std::string& error) {
  out = ClientMessage();
  if (message.size() > max_size) {
    error = absl::StrCat("message over ", max_size, " bytes");
    return false;
  }
  rapidjson::Document doc;
  doc.Parse<kJsonFlags>(message.data(), message.size());
  if (doc.HasParseError()) {
    error = absl::StrCat("invalid JSON: ", rapidjson::GetParseError_En(doc.GetParseError()));
    return false;
  }
  if (!doc.IsObject()) {
    error = "a message is a JSON object";
    return false;
  }
  if (Depth(doc, kMaxDepth + 1) > kMaxDepth) {
    error = "JSON nested too deep";
    return false;
  }
  auto event = doc.FindMember("event");
  if (event == doc.MemberEnd() || !event->value.IsString() || event->value.GetStringLength() == 0) {
    error = "a message needs an \"event\" string";
    return false;
  }
  out.event.assign(event->value.GetString(), event->value.GetStringLength());
  StringMember(doc, "channel", out.channel);
  auto data = doc.FindMember("data");
  if (data == doc.MemberEnd()) return true;
  out.data_json = CompactJson(data->value);
  const rapidjson::Value* fields = &data->value;
  rapidjson::Document inner;
  if (data->value.IsString() && !absl::StartsWith(out.event, "client-")) {
    inner.Parse<kJsonFlags>(data->value.GetString(), data->value.GetStringLength());
    if (!inner.HasParseError() && inner.IsObject()) fields = &inner;
  }
  if (fields->IsObject()) {
    StringMember(*fields, "channel", out.data_channel);
    StringMember(*fields, "auth", out.auth);
    StringMember(*fields, "channel_data", out.channel_data);
    StringMember(*fields, "user_data", out.user_data);
  }
  return true;
}

std::string Envelope(absl::string_view event, absl::string_view channel,
                     absl::string_view data_json) {
  std::string out = absl::StrCat("{\"event\":", JsonString(event));
  if (!channel.empty()) absl::StrAppend(&out, ",\"channel\":", JsonString(channel));
  absl::StrAppend(&out, ",\"data\":", data_json, "}");
  return out;
}

std::string Error(int code, absl::string_view message) {
  return Envelope("pusher:error", "",
                  absl::StrCat("{\"code\":", code == 0 ? std::string("null") : absl::StrCat(code),
                               ",\"message\":", JsonString(message), "}"));
}

}  // namespace sockman::pusher
