// Replays a fuzz target over its seed corpus, plus deterministic mutations of
// each seed (byte flips, truncations, splices), without libFuzzer: every
// `bazel test` exercises the target under the normal toolchain.
//
//   fuzz_replay_main CORPUS_FILE...
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  std::vector<std::string> seeds;
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    seeds.push_back(s.str());
  }
  if (seeds.empty()) {
    std::fprintf(stderr, "no corpus files given\n");
    return 1;
  }
  std::mt19937 rng(12345);
  size_t runs = 0;
  auto run = [&](const std::string& input) {
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
    ++runs;
  };
  for (const std::string& seed : seeds) {
    run(seed);
    for (int m = 0; m < 2000; ++m) {
      std::string input = seed;
      switch (rng() % 4) {
        case 0:
          if (!input.empty()) input[rng() % input.size()] = static_cast<char>(rng());
          break;
        case 1:
          if (!input.empty()) input.resize(rng() % input.size());
          break;
        case 2: {
          const std::string& other = seeds[rng() % seeds.size()];
          if (!other.empty())
            input.insert(rng() % (input.size() + 1), other.substr(rng() % other.size()));
          break;
        }
        default:
          for (int k = 0; k < 4 && !input.empty(); ++k) {
            input[rng() % input.size()] = "\r\n :;,\t0"[rng() % 8];
          }
      }
      run(input);
    }
  }
  std::printf("%zu inputs replayed\n", runs);
  return 0;
}
