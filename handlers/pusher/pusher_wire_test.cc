#include "handlers/pusher/pusher_wire.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace sockman::pusher {
namespace {

TEST(PusherWireTest, SocketIdsAreDigitsDotDigitsAndDistinct) {
  std::string a = SocketId("65a1b2c3001234000001");
  std::string b = SocketId("65a1b2c3001234000002");
  std::string on_node = SocketId("edge-1-65a1b2c3001234000001");
  std::string other_node = SocketId("edge-2-65a1b2c3001234000001");
  for (const std::string& id : {a, b, on_node, other_node}) {
    EXPECT_TRUE(ValidSocketId(id)) << id;
  }
  EXPECT_NE(a, b);
  EXPECT_NE(a, on_node);
  EXPECT_NE(on_node, other_node);
  EXPECT_EQ(a, SocketId("65a1b2c3001234000001"));  // the same in every process
  EXPECT_TRUE(ValidSocketId(SocketId("not a hub id")));
  EXPECT_FALSE(ValidSocketId("12.34.56"));
  EXPECT_FALSE(ValidSocketId("12."));
  EXPECT_FALSE(ValidSocketId(".5"));
  EXPECT_FALSE(ValidSocketId("1a.5"));
}

TEST(PusherWireTest, ChannelNamesAndKinds) {
  EXPECT_TRUE(ValidChannelName("private-chat_room-1=@,.;"));
  EXPECT_FALSE(ValidChannelName(""));
  EXPECT_FALSE(ValidChannelName("a b"));
  EXPECT_FALSE(ValidChannelName("a:b"));
  EXPECT_FALSE(ValidChannelName(std::string(201, 'a')));
  EXPECT_TRUE(ValidChannelName(std::string(200, 'a')));
  EXPECT_EQ(KindOf("news"), ChannelKind::kPublic);
  EXPECT_EQ(KindOf("private-x"), ChannelKind::kPrivate);
  EXPECT_EQ(KindOf("private-encrypted-x"), ChannelKind::kEncrypted);
  EXPECT_EQ(KindOf("presence-x"), ChannelKind::kPresence);
}

// The Pusher docs' worked example of a private channel signature.
TEST(PusherWireTest, ChannelAuthorization) {
  const std::string key = "278d425bdf160c739803", secret = "7ad3773142a6692b25b8";
  std::string sig = Sign(secret, "1234.1234:private-foobar");
  EXPECT_EQ(sig, "58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4");
  EXPECT_TRUE(ChannelAuthValid(key, secret, "1234.1234", "private-foobar", "",
                               absl::StrCat(key, ":", sig)));
  EXPECT_FALSE(ChannelAuthValid(key, secret, "1234.1235", "private-foobar", "",
                                absl::StrCat(key, ":", sig)));
  EXPECT_FALSE(ChannelAuthValid("other", secret, "1234.1234", "private-foobar", "",
                                absl::StrCat(key, ":", sig)));
  EXPECT_FALSE(ChannelAuthValid(key, secret, "1234.1234", "private-foobar", "", sig));
  std::string data = R"({"user_id":10,"user_info":{"name":"Mr. Channels"}})";
  std::string presence = Sign(secret, absl::StrCat("1234.1234:presence-foobar:", data));
  EXPECT_TRUE(ChannelAuthValid(key, secret, "1234.1234", "presence-foobar", data,
                               absl::StrCat(key, ":", presence)));
  EXPECT_FALSE(ChannelAuthValid(key, secret, "1234.1234", "presence-foobar", data + " ",
                                absl::StrCat(key, ":", presence)));
}

// Signed as the Pusher server SDKs sign: METHOD\nPATH\nsorted query.
TEST(PusherWireTest, ApiRequests) {
  const std::string key = "key", secret = "secret-secret";
  std::string body = R"({"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"})";
  std::string query = absl::StrCat(
      "auth_key=key&auth_timestamp=1353088179&auth_version=1.0&body_md5=", Md5Hex(body));
  std::string signature = Sign(secret, absl::StrCat("POST\n/apps/3/events\n", query));
  std::string signed_query = absl::StrCat(query, "&auth_signature=", signature);
  EXPECT_EQ(
      CheckApiRequest("POST", "/apps/3/events", signed_query, body, key, secret, 1353088179, 600),
      "");
  // Stale, tampered, wrong key, wrong body, missing signature.
  EXPECT_NE(CheckApiRequest("POST", "/apps/3/events", signed_query, body, key, secret,
                            1353088179 + 601, 600),
            "");
  EXPECT_NE(
      CheckApiRequest("POST", "/apps/4/events", signed_query, body, key, secret, 1353088179, 600),
      "");
  EXPECT_NE(CheckApiRequest("POST", "/apps/3/events", signed_query, body, "other", secret,
                            1353088179, 600),
            "");
  EXPECT_NE(CheckApiRequest("POST", "/apps/3/events", signed_query, body + " ", key, secret,
                            1353088179, 600),
            "");
  EXPECT_NE(CheckApiRequest("POST", "/apps/3/events", query, body, key, secret, 1353088179, 600),
            "");
  // Parameters in any order; values sent unencoded (as the SDKs do) or encoded.
  std::string get =
      "info=user_count,subscription_count&auth_timestamp=100&auth_key=key&auth_version=1.0";
  std::string get_signature =
      Sign(secret,
           "GET\n/apps/3/channels/presence-x\nauth_key=key&auth_timestamp=100&auth_version=1.0"
           "&info=user_count,subscription_count");
  EXPECT_EQ(CheckApiRequest("GET", "/apps/3/channels/presence-x",
                            absl::StrCat(get, "&auth_signature=", get_signature), "", key, secret,
                            100, 600),
            "");
  EXPECT_EQ(CheckApiRequest("GET", "/apps/3/channels/presence-x",
                            absl::StrCat("info=user_count%2Csubscription_count&auth_timestamp=100"
                                         "&auth_key=key&auth_version=1.0&auth_signature=",
                                         get_signature),
                            "", key, secret, 100, 600),
            "");
}

// Hub Info lines to presence members: one per subscriber with a member in
// the channel, malformed lines and other channels left out.
TEST(PusherWireTest, PresenceMembersFromHubInfo) {
  std::vector<std::string> infos = {
      R"({"client_id":"a","session":{"presence-x":{"user_id":"1","user_info":{"n":1}}}})",
      R"({"client_id":"b","session":{"presence-x":{"user_id":"1"}}})",
      R"({"client_id":"c","session":{"presence-y":{"user_id":"2"}}})",
      R"({"client_id":"d","session":{}})",
      "not json",
  };
  std::vector<PresenceMember> members = PresenceMembersOf(infos, "presence-x");
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members[0].user_id, "1");
  EXPECT_EQ(members[0].user_info, R"({"n":1})");
  EXPECT_EQ(members[1].user_info, "null");
}

TEST(PusherWireTest, Envelopes) {
  EXPECT_EQ(Envelope("pusher:pong", "", "{}"), R"({"event":"pusher:pong","data":{}})");
  EXPECT_EQ(Envelope("e", "c", "\"x\""), R"({"event":"e","channel":"c","data":"x"})");
  EXPECT_EQ(Error(4001, "no \"app\""),
            R"({"event":"pusher:error","data":{"code":4001,"message":"no \"app\""}})");
  EXPECT_EQ(Error(0, "m"), R"({"event":"pusher:error","data":{"code":null,"message":"m"}})");
}

}  // namespace
}  // namespace sockman::pusher
