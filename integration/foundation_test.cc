// End-to-end tests of the foundation: the real static binary, prefork
// workers, text/frame/tcp echo under concurrency, worker replacement, limits
// and config errors.
#include <elf.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "integration/testing/sockman_process.h"

namespace sockman::testing {
namespace {

std::string EchoService(const std::string& name, const std::string& listen, int count,
                        const std::string& extra = "") {
  return absl::StrCat("service {\n  name: \"", name, "\"\n  listen: \"", listen,
                      "\"\n  count: ", count, "\n", extra, "  echo { prefix: \"hello \" }\n}\n");
}

TEST(BinaryTest, IsStaticallyLinked) {
  std::ifstream in(SockmanBinary(), std::ios::binary);
  ASSERT_TRUE(in);
  Elf64_Ehdr header;
  in.read(reinterpret_cast<char*>(&header), sizeof(header));
  ASSERT_EQ(std::string(reinterpret_cast<char*>(header.e_ident), 4), "\177ELF");
  for (int i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr program;
    in.seekg(header.e_phoff + i * header.e_phentsize);
    in.read(reinterpret_cast<char*>(&program), sizeof(program));
    EXPECT_NE(program.p_type, static_cast<uint32_t>(PT_INTERP)) << "has a dynamic loader";
    EXPECT_NE(program.p_type, static_cast<uint32_t>(PT_DYNAMIC)) << "has a dynamic section";
  }
  // And what `file` says, as a user would check it.
  FILE* file = popen(absl::StrCat("file -L ", SockmanBinary()).c_str(), "r");
  ASSERT_NE(file, nullptr);
  char buf[1024] = "";
  size_t n = fread(buf, 1, sizeof(buf) - 1, file);
  pclose(file);
  EXPECT_NE(std::string(buf, n).find("statically linked"), std::string::npos) << buf;
}

TEST(StartTest, TextEchoFromManyConcurrentClientsWithPipelinedAndSplitWrites) {
  auto server = SockmanProcess::Start(EchoService("echo", "text://127.0.0.1:0", 2));
  ASSERT_TRUE(server.ok()) << server.status();
  uint16_t port = (*server)->port("echo");
  ASSERT_NE(port, 0);
  EXPECT_EQ((*server)->WorkerPids().size(), 2u);

  constexpr int kClients = 40;
  constexpr int kLines = 200;
  std::vector<std::thread> threads;
  std::vector<int> failures(kClients, 0);
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      TestClient client(port);
      if (!client.connected()) {
        failures[c] = -1;
        return;
      }
      std::string stream;
      for (int i = 0; i < kLines; ++i) {
        stream += absl::StrCat("client ", c, " line ", i, (i % 2 ? "\r\n" : "\n"));
      }
      // Random split points: messages cross write boundaries, and many
      // messages share one write.
      std::mt19937 rng(c);
      for (size_t at = 0; at < stream.size();) {
        size_t n = 1 + rng() % 300;
        client.Send(stream.substr(at, n));
        at += n;
      }
      for (int i = 0; i < kLines; ++i) {
        if (client.ReadLine() != absl::StrCat("hello client ", c, " line ", i)) ++failures[c];
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int c = 0; c < kClients; ++c) EXPECT_EQ(failures[c], 0) << "client " << c;
}

TEST(StartTest, FrameEchoFromManyConcurrentClients) {
  auto server = SockmanProcess::Start(EchoService("frames", "frame://127.0.0.1:0", 2));
  ASSERT_TRUE(server.ok()) << server.status();
  uint16_t port = (*server)->port("frames");
  std::vector<std::thread> threads;
  std::vector<int> failures(20, 0);
  for (int c = 0; c < 20; ++c) {
    threads.emplace_back([&, c] {
      TestClient client(port);
      std::string stream;
      std::vector<std::string> payloads;
      for (int i = 0; i < 100; ++i) {
        payloads.push_back(std::string(static_cast<size_t>(i * 37 % 5000), static_cast<char>(i)));
        stream += Frame(payloads.back());
      }
      std::mt19937 rng(c + 100);
      for (size_t at = 0; at < stream.size();) {
        size_t n = 1 + rng() % 4000;
        client.Send(stream.substr(at, n));
        at += n;
      }
      for (const std::string& payload : payloads) {
        std::string expected = Frame("hello " + payload);
        if (client.ReadExactly(expected.size()) != expected) ++failures[c];
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int c = 0; c < 20; ++c) EXPECT_EQ(failures[c], 0) << "client " << c;
}

TEST(StartTest, TcpEchoesEachRead) {
  auto server = SockmanProcess::Start(EchoService("raw", "tcp://127.0.0.1:0", 1));
  ASSERT_TRUE(server.ok()) << server.status();
  TestClient client((*server)->port("raw"));
  ASSERT_TRUE(client.Send("abc"));
  EXPECT_EQ(client.ReadExactly(9), "hello abc");
}

TEST(StartTest, KilledWorkerIsReplacedAndServiceKeepsWorking) {
  auto server = SockmanProcess::Start(EchoService("echo", "text://127.0.0.1:0", 2));
  ASSERT_TRUE(server.ok()) << server.status();
  std::vector<pid_t> before = (*server)->WorkerPids();
  ASSERT_EQ(before.size(), 2u);
  ASSERT_EQ(kill(before[0], SIGKILL), 0);
  std::vector<pid_t> after;
  for (int i = 0; i < 500; ++i) {
    after = (*server)->WorkerPids();
    if (after.size() == 2 && std::find(after.begin(), after.end(), before[0]) == after.end()) {
      break;
    }
    usleep(10000);
  }
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(std::find(after.begin(), after.end(), before[0]), after.end());
  EXPECT_NE(std::find(after.begin(), after.end(), before[1]), after.end());
  for (int i = 0; i < 20; ++i) {
    TestClient client((*server)->port("echo"));
    ASSERT_TRUE(client.Send("tom\n"));
    EXPECT_EQ(client.ReadLine(), "hello tom");
  }
  EXPECT_NE((*server)->Stderr().find("killed by signal 9; restarting"), std::string::npos)
      << (*server)->Stderr();
  std::vector<pid_t> workers = (*server)->WorkerPids();
  EXPECT_EQ((*server)->Stop(SIGTERM), 0);
  for (pid_t worker : workers) EXPECT_TRUE(Exited(worker)) << "worker " << worker << " lives";
}

TEST(StartTest, OversizeLineClosesOnlyThatConnection) {
  auto server = SockmanProcess::Start(
      EchoService("echo", "text://127.0.0.1:0", 2, "  limits { max_package_size: 1048576 }\n"));
  ASSERT_TRUE(server.ok()) << server.status();
  uint16_t port = (*server)->port("echo");
  std::vector<std::unique_ptr<TestClient>> others;
  for (int i = 0; i < 4; ++i) {
    others.push_back(std::make_unique<TestClient>(port));
    ASSERT_TRUE(others.back()->Send("before\n"));
    EXPECT_EQ(others.back()->ReadLine(), "hello before");
  }
  TestClient big(port);
  std::string chunk(1 << 20, 'x');
  for (int i = 0; i < 20; ++i) {
    if (!big.Send(chunk)) break;  // the server may reset us mid-way
  }
  EXPECT_TRUE(big.WaitClosed());
  for (auto& client : others) {
    ASSERT_TRUE(client->Send("after\n"));
    EXPECT_EQ(client->ReadLine(), "hello after");
  }
  TestClient fresh(port);
  ASSERT_TRUE(fresh.Send("new\n"));
  EXPECT_EQ(fresh.ReadLine(), "hello new");
}

TEST(StartTest, ReusePortWorkersShareThePort) {
  auto server =
      SockmanProcess::Start(EchoService("echo", "text://127.0.0.1:0", 2, "  reuse_port: true\n"));
  ASSERT_TRUE(server.ok()) << server.status();
  for (int i = 0; i < 20; ++i) {
    TestClient client((*server)->port("echo"));
    ASSERT_TRUE(client.Send("x\n"));
    EXPECT_EQ(client.ReadLine(), "hello x");
  }
}

TEST(StartTest, Ipv6LoopbackAndDualStack) {
  auto server = SockmanProcess::Start(EchoService("v6", "text://[::1]:0", 1) +
                                      EchoService("any", "text://[::]:0", 1));
  if (!server.ok() && server.status().message().find("Cannot assign") != std::string::npos) {
    GTEST_SKIP() << "no IPv6 loopback on this machine";
  }
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ((*server)->uri("v6").rfind("text://[::1]:", 0), 0u);
  TestClient v6((*server)->port("v6"), "::1");
  ASSERT_TRUE(v6.Send("six\n"));
  EXPECT_EQ(v6.ReadLine(), "hello six");
  TestClient v4((*server)->port("any"), "127.0.0.1");  // dual-stack by default
  ASSERT_TRUE(v4.Send("four\n"));
  EXPECT_EQ(v4.ReadLine(), "hello four");
}

TEST(StartTest, MultipleServicesInOneConfig) {
  auto server = SockmanProcess::Start(EchoService("a", "text://127.0.0.1:0", 1) +
                                      EchoService("b", "frame://127.0.0.1:0", 1));
  ASSERT_TRUE(server.ok()) << server.status();
  TestClient a((*server)->port("a"));
  TestClient b((*server)->port("b"));
  ASSERT_TRUE(a.Send("1\n"));
  ASSERT_TRUE(b.Send(Frame("2")));
  EXPECT_EQ(a.ReadLine(), "hello 1");
  EXPECT_EQ(b.ReadExactly(11), Frame("hello 2"));
}

TEST(StartTest, BadConfigExitsTwoWithLocationAndBindsNothing) {
  std::string path = WriteTempFile("bad.textproto",
                                   "service {\n"
                                   "  name: \"web\"\n"
                                   "  listen: \"htp://127.0.0.1:0\"\n"
                                   "  echo {}\n"
                                   "}\n");
  CommandResult result = RunSockman({"start", "-c", path});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err, absl::StrCat(path,
                                     ":3:3: service 'web': listen: unknown scheme 'htp' "
                                     "(expected one of: tcp, text, frame, framing, http, websocket, ws, "
                                     "https, wss, udp)\n"));
  EXPECT_EQ(result.out, "");

  path = WriteTempFile("syntax.textproto", "service {\n  name: \"web\"\n  listen: 80\n}\n");
  result = RunSockman({"start", "-c", path});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err.rfind(path + ":3:", 0), 0u) << result.err;
}

TEST(StartTest, PortInUseIsARuntimeFailure) {
  auto first = SockmanProcess::Start(EchoService("a", "text://127.0.0.1:0", 1));
  ASSERT_TRUE(first.ok()) << first.status();
  std::string path =
      WriteTempFile("busy.textproto",
                    EchoService("a", absl::StrCat("text://127.0.0.1:", (*first)->port("a")), 1));
  CommandResult result = RunSockman({"start", "-c", path});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("service 'a': bind 127.0.0.1:"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("Address already in use"), std::string::npos) << result.err;
}

TEST(CommandLineTest, RelativeConfigResolvesFromBuildWorkingDirectory) {
  std::string dir = absl::StrCat(getenv("TEST_TMPDIR"), "/workdir");
  mkdir(dir.c_str(), 0755);
  WriteTempFile("workdir/rel.textproto", EchoService("a", "text://127.0.0.1:0", 1));
  CommandResult result =
      RunSockman({"check", "-c", "rel.textproto"}, {"BUILD_WORKING_DIRECTORY=" + dir});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out.rfind("# rel.textproto: OK", 0), 0u) << result.out;
}

TEST(CommandLineTest, UsageErrorsExitTwo) {
  EXPECT_EQ(RunSockman({}).exit_code, 2);
  EXPECT_EQ(RunSockman({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(RunSockman({"start"}).exit_code, 2);
  EXPECT_EQ(RunSockman({"check", "-c", "/nonexistent.textproto"}).exit_code, 2);
  CommandResult stop = RunSockman({"stop", "-c", "/nonexistent.textproto"});
  EXPECT_EQ(stop.exit_code, 2);
  EXPECT_NE(stop.err.find("/nonexistent.textproto: cannot read config"), std::string::npos)
      << stop.err;
  std::string valid = WriteTempFile("valid.textproto", EchoService("a", "text://127.0.0.1:0", 1));
  CommandResult reload = RunSockman({"reload", "-c", valid});
  EXPECT_EQ(reload.exit_code, 1);
  EXPECT_NE(reload.err.find("not running"), std::string::npos) << reload.err;
  EXPECT_EQ(RunSockman({"stop", "-c", valid}).exit_code, 1);  // not running
  EXPECT_EQ(RunSockman({"version"}).exit_code, 0);
}

}  // namespace
}  // namespace sockman::testing
