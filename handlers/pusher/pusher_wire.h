// The Pusher Channels protocol's rules that need no connection: socket ids,
// channel names and kinds, the signatures of channel authorization and of
// HTTP API requests, and the JSON envelopes. Pure functions, unit-tested
// (docs/pusher.md has the protocol as sockman serves it).
#ifndef SOCKMAN_HANDLERS_PUSHER_PUSHER_WIRE_H_
#define SOCKMAN_HANDLERS_PUSHER_PUSHER_WIRE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "rapidjson/document.h"

namespace sockman::pusher {

// The socket id ("1234.5678", as the Pusher SDKs expect: \d+\.\d+) of a hub
// client id ([NODE-]TTTTTTTTPPPPPPCCCCCC.. in hex): unique as the client id
// is, and the same in every worker and node that computes it.
std::string SocketId(absl::string_view client_id);
bool ValidSocketId(absl::string_view socket_id);

// 1-200 characters of [A-Za-z0-9_\-=@,.;].
bool ValidChannelName(absl::string_view channel);
// 1-200 characters, for event names.
bool ValidEventName(absl::string_view name);

enum class ChannelKind { kPublic, kPrivate, kEncrypted, kPresence };
ChannelKind KindOf(absl::string_view channel);

// Hex HMAC-SHA256 of `data` with `secret`.
std::string Sign(absl::string_view secret, absl::string_view data);
// Hex MD5 of `data` (the API's body_md5).
std::string Md5Hex(absl::string_view data);
// Compares in time that does not depend on where they differ.
bool SafeEquals(absl::string_view a, absl::string_view b);

// Whether `auth` ("KEY:SIGNATURE") authorizes `socket_id` on `channel`
// (presence: with `channel_data`, signed as given).
bool ChannelAuthValid(absl::string_view key, absl::string_view secret, absl::string_view socket_id,
                      absl::string_view channel, absl::string_view channel_data,
                      absl::string_view auth);

// An HTTP API request's query, checked the Pusher way: auth_key is `key`,
// auth_version 1.0, auth_timestamp within `window_s` of `now_s`, body_md5
// the body's (when there is one), and auth_signature the HMAC-SHA256 of
// "METHOD\nPATH\nQUERY" with the other parameters sorted by name. "" when
// it is valid, else why not.
std::string CheckApiRequest(absl::string_view method, absl::string_view path,
                            absl::string_view query, absl::string_view body, absl::string_view key,
                            absl::string_view secret, int64_t now_s, int64_t window_s);

// A query's parameters, percent-decoded ("+" as a space), in order; false
// on a bad escape.
bool ParseQuery(absl::string_view query, std::vector<std::pair<std::string, std::string>>& params);

// A message from a client, as far as sockman reads it.
struct ClientMessage {
  std::string event;
  std::string channel;             // top-level "channel" (client events), or ""
  std::string data_json = "null";  // "data" as compact JSON text
  // Of data (an object, or a string holding a JSON object), for pusher:*
  // events: its "channel", "auth", "channel_data" and "user_data" strings.
  std::string data_channel, auth, channel_data, user_data;
};
// Parses a client's WebSocket message (a JSON object with a string
// "event"; at most `max_size` bytes, nested at most 32 deep). False with
// the reason in `error` otherwise.
bool ParseClientMessage(absl::string_view message, size_t max_size, ClientMessage& out,
                        std::string& error);

// `value` as compact JSON text.
std::string CompactJson(const rapidjson::Value& value);
// A string member of `object` in `out`; false (and "") when missing or not a
// string, or `object` is not an object.
bool StringMember(const rapidjson::Value& object, const char* name, std::string& out);

// A presence channel's subscriber, as its hub session holds it.
struct PresenceMember {
  std::string user_id;
  std::string user_info = "null";  // JSON
};
// From hub Info lines (one JSON object per client, with its "session"): the
// member each subscriber is in `channel`, one entry per subscriber (a user
// with several connections appears as often); clients with none are left out.
std::vector<PresenceMember> PresenceMembersOf(const std::vector<std::string>& infos,
                                              absl::string_view channel);

// {"event":EVENT[,"channel":CHANNEL],"data":DATA}: `data_json` is already
// JSON (a string literal for most events, an object for client events).
std::string Envelope(absl::string_view event, absl::string_view channel,
                     absl::string_view data_json);
// pusher:error with {"code":CODE,"message":MESSAGE} (code 0: null).
std::string Error(int code, absl::string_view message);

}  // namespace sockman::pusher

#endif  // SOCKMAN_HANDLERS_PUSHER_PUSHER_WIRE_H_
