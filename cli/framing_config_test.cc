// Declared framings through config validation and the binding, as the CLI
// sees them (the real registries).
#include <string>

#include "absl/strings/match.h"
#include "config/config_file.h"
#include "config/validate.h"
#include "gtest/gtest.h"
#include "protocols/binding.h"
#include "protocols/framing/framing.h"

namespace sockman {
namespace {

absl::Status Validate(const std::string& text) {
  auto file = ConfigFile::Parse("test.textproto", text);
  if (!file.ok()) return file.status();
  return ValidateStructure(**file, RegisteredSchemes());
}

constexpr char kDeclared[] = R"(
framing {
  name: "jt808"
  delimiter {
    delimiter: "\x7e"
    opening: true
    escape { escape: "\x7d" rule { raw: "\x7e" code: "\x02" } rule { raw: "\x7d" code: "\x01" } }
  }
  check { algorithm: XOR }
}
service { name: "devices" listen: "jt808://127.0.0.1:0" echo {} }
service { name: "udp" listen: "jt808://127.0.0.1:0" transport: UDP echo {} }
)";

TEST(FramingConfigTest, ADeclaredFramingIsTheSchemeOfItsServices) {
  auto file = ConfigFile::Parse("test.textproto", kDeclared);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE(ValidateStructure(**file, RegisteredSchemes()).ok())
      << ValidateStructure(**file, RegisteredSchemes());
  Config resolved = WithDefaults((*file)->config(), RegisteredSchemes(), 1);
  const Service& tcp = resolved.service(0);
  ASSERT_TRUE(tcp.has_framing());  // the declaration, copied in
  EXPECT_FALSE(tcp.framing().has_name());
  EXPECT_EQ(tcp.framing().delimiter().delimiter(0), "\x7e");
  EXPECT_EQ(tcp.transport(), TCP);
  EXPECT_EQ(RegisteredScheme(resolved, "jt808"), "framing");
  EXPECT_EQ(RegisteredScheme(resolved, "text"), "text");

  const ProtocolBinding* binding = BindingRegistry::Global().Find("framing");
  ASSERT_NE(binding, nullptr);
  auto options = binding->Options(tcp);
  const FramingOptions* framing = OptionsAs<FramingOptions>(options.get());
  ASSERT_NE(framing, nullptr);
  EXPECT_EQ(framing->spec().kind, FramingSpec::Kind::kDelimiter);
  EXPECT_TRUE(framing->spec().escaping);
  EXPECT_EQ(framing->spec().check, FramingCheckKind::kXor);
  EXPECT_FALSE(framing->spec().datagram);
  auto udp = binding->Options(resolved.service(1));
  EXPECT_TRUE(OptionsAs<FramingOptions>(udp.get())->spec().datagram);
}

TEST(FramingConfigTest, InlineFramingOnFramingScheme) {
  EXPECT_TRUE(Validate(R"(
service {
  name: "d" listen: "framing://127.0.0.1:0" echo {}
  framing { length_field { size: 2 } }
})")
                  .ok());
  absl::Status missing =
      Validate(R"(service { name: "d" listen: "framing://127.0.0.1:0" echo {} })");
  EXPECT_TRUE(absl::StrContains(missing.message(), "framing:// needs a framing")) << missing;
}

TEST(FramingConfigTest, ErrorsPointAtTheDeclaration) {
  struct Bad {
    const char* config;
    const char* expected;
  };
  const Bad cases[] = {
      {R"(framing { name: "x" length_field { size: 5 } }
service { name: "d" listen: "x://127.0.0.1:0" echo {} })",
       "test.textproto:1:36: framing 'x': length_field.size: must be 1, 2, 3, 4 or 8"},
      {R"(framing { name: "Bad" fixed { size: 4 } }
service { name: "d" listen: "text://127.0.0.1:0" echo {} })",
       "framing 'Bad': name: 'Bad' must be 1-32 characters"},
      {R"(framing { name: "framing" fixed { size: 4 } }
service { name: "d" listen: "text://127.0.0.1:0" echo {} })",
       "name: 'framing' is a built-in scheme"},
      {R"(framing { name: "a" fixed { size: 4 } }
framing { name: "a" fixed { size: 4 } }
service { name: "d" listen: "text://127.0.0.1:0" echo {} })",
       "duplicate framing name"},
      {R"(framing { name: "a" }
service { name: "d" listen: "text://127.0.0.1:0" echo {} })",
       "a framing needs one of length_field { }, delimiter { } or fixed { }"},
      {R"(framing { name: "a" fixed { size: 4 } check { } }
service { name: "d" listen: "text://127.0.0.1:0" echo {} })",
       "check.algorithm: is required"},
      {R"(framing { name: "a" delimiter { delimiter: "\n" escape { escape: "ab" } } }
service { name: "d" listen: "text://127.0.0.1:0" echo {} })",
       "delimiter.escape.escape: must be one byte"},
      {R"(framing { name: "a" length_field { size: 2 } }
service { name: "d" listen: "a://127.0.0.1:0" echo {} framing { fixed { size: 1 } } })",
       "service 'd': framing: listen names the declared framing 'a'"},
      {R"(framing { name: "a" length_field { size: 2 } max_frame_length: 2000 }
service { name: "d" listen: "a://127.0.0.1:0" echo {} limits { max_package_size: 1000 } })",
       "service 'd': framing.max_frame_length: must be at most limits.max_package_size (1000)"},
      {R"(service { name: "d" listen: "text://127.0.0.1:0" echo {} framing { fixed { size: 1 } } })",
       "framing: only applies to framing:// services"},
  };
  for (const Bad& c : cases) {
    absl::Status s = Validate(c.config);
    EXPECT_TRUE(absl::StrContains(s.message(), c.expected)) << c.expected << "\n got: " << s;
  }
}

}  // namespace
}  // namespace sockman
