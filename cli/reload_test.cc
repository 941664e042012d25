#include "cli/reload.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace sockman {
namespace {

Service Parse(const std::string& text) {
  Service service;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &service)) << text;
  // Resolved, as PlanReload sees services (WithDefaults fills these).
  if (!service.has_reloadable()) service.set_reloadable(true);
  if (!service.has_transport()) service.set_transport(TCP);
  return service;
}

constexpr char kWeb[] = R"(name: "web" listen: "http://127.0.0.1:8080" count: 2
                            respond { body: "a" })";

struct Case {
  const char* what;
  std::string before;  // the running service "web"
  std::string before_files;
  std::string after;  // the new plan's service "web"
  std::string after_files;
  ReloadFate fate;
};

TEST(PlanReloadTest, DecidesEachChangedService) {
  const std::vector<Case> cases = {
      {"unchanged", kWeb, "", kWeb, "", ReloadFate::kKeep},
      {"handler changed", kWeb, "",
       R"(name: "web" listen: "http://127.0.0.1:8080" count: 2 respond { body: "b" })", "",
       ReloadFate::kSameSocket},
      {"count changed", kWeb, "",
       R"(name: "web" listen: "http://127.0.0.1:8080" count: 3 respond { body: "a" })", "",
       ReloadFate::kSameSocket},
      {"certificate file changed", kWeb, "digest1", kWeb, "digest2", ReloadFate::kSameSocket},
      {"port changed", kWeb, "",
       R"(name: "web" listen: "http://127.0.0.1:8081" count: 2 respond { body: "a" })", "",
       ReloadFate::kNewSocket},
      {"reuse_port changed", kWeb, "",
       R"(name: "web" listen: "http://127.0.0.1:8080" count: 2 reuse_port: true
          respond { body: "a" })",
       "", ReloadFate::kNewSocket},
      {"ipv6_only changed", kWeb, "",
       R"(name: "web" listen: "http://127.0.0.1:8080" count: 2 ipv6_only: true
          respond { body: "a" })",
       "", ReloadFate::kNewSocket},
      {"TCP to UDP on one address",
       R"(name: "web" listen: "text://127.0.0.1:9000" transport: TCP echo {})", "",
       R"(name: "web" listen: "text://127.0.0.1:9000" transport: UDP echo {})", "",
       ReloadFate::kNewSocket},
      {"TCP to TLS keeps the socket",
       R"(name: "web" listen: "text://127.0.0.1:9000" transport: TCP echo {})", "",
       R"(name: "web" listen: "text://127.0.0.1:9000" transport: SSL echo {})", "",
       ReloadFate::kSameSocket},
      {"not reloadable before", R"(name: "web" listen: "http://127.0.0.1:8080" reloadable: false
                                   respond { body: "a" })",
       "", R"(name: "web" listen: "http://127.0.0.1:8081" respond { body: "b" })", "",
       ReloadFate::kKeep},
      {"not reloadable after", kWeb, "",
       R"(name: "web" listen: "http://127.0.0.1:8080" reloadable: false respond { body: "b" })", "",
       ReloadFate::kKeep},
  };
  for (const Case& c : cases) {
    Service before = Parse(c.before);
    Service after = Parse(c.after);
    ReloadPlan plan = PlanReload({{"web", ServiceVersion{&before, c.before_files}}},
                                 {ServiceVersion{&after, c.after_files}});
    ASSERT_EQ(plan.fates.size(), 1u) << c.what;
    EXPECT_EQ(plan.fates["web"], c.fate) << c.what;
    EXPECT_TRUE(plan.removed.empty()) << c.what;
    // A change a non-reloadable service keeps is reported as waiting.
    bool waits = absl::StartsWith(c.what, "not reloadable");
    EXPECT_EQ(plan.waiting_for_restart,
              waits ? std::vector<std::string>{"web"} : std::vector<std::string>{})
        << c.what;
  }
}

TEST(PlanReloadTest, AddedServicesAreBoundAndMissingOnesRemoved) {
  Service web = Parse(kWeb);
  Service chat = Parse(R"(name: "chat" listen: "ws://127.0.0.1:9001" broadcast {})");
  Service old_a = Parse(R"(name: "a" listen: "text://127.0.0.1:9002" echo {})");
  Service old_b = Parse(R"(name: "b" listen: "text://127.0.0.1:9003" echo {})");
  ReloadPlan plan = PlanReload({{"web", ServiceVersion{&web, ""}},
                                {"b", ServiceVersion{&old_b, ""}},
                                {"a", ServiceVersion{&old_a, ""}}},
                               {ServiceVersion{&web, ""}, ServiceVersion{&chat, ""}});
  EXPECT_EQ(plan.fates["web"], ReloadFate::kKeep);
  EXPECT_EQ(plan.fates["chat"], ReloadFate::kNewSocket);
  EXPECT_EQ(plan.removed, (std::vector<std::string>{"a", "b"}));
}

TEST(PlanReloadTest, NothingRunningMeansEverythingIsNew) {
  Service web = Parse(kWeb);
  ReloadPlan plan = PlanReload({}, {ServiceVersion{&web, ""}});
  EXPECT_EQ(plan.fates["web"], ReloadFate::kNewSocket);
  EXPECT_TRUE(PlanReload({}, {}).fates.empty());
}

}  // namespace
}  // namespace sockman
