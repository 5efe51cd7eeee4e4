// The paraminit program:
//   paraminit init [--spec FILE] [--out FILE] [--device auto|cpu|cuda] [--seed N] [--from FILE]
//                  [--world-size W --rank R] [--compare-fills] [--quiet]
//   paraminit load FILE [--device auto|cpu|cuda] [--reps R]
//   paraminit depth [--layers-linear L] [--layers L] [--width N] [--batch B] [--seed S] [--svg FILE]
//   paraminit bench [...]   (the throughput table, bench/bench_fill.cpp)
// main dispatches to one file per command (cmd_*.cpp); the spec is its own unit (spec.hpp), the
// expected and measured statistics another (check.hpp), the printing a third (report.hpp).
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>

#include "commands.hpp"

namespace {
namespace pp = paraminit_program;

const char* const kUsage =
    "usage: paraminit <command> [options]\n"
    "commands:\n"
    "  init    initialize a model spec into a safetensors file (paraminit init --help)\n"
    "  depth   the depth experiment: activation and gradient std through deep networks (paraminit depth --help)\n"
    "  load    read every tensor of a safetensors file, against a plain read of it (paraminit load --help)\n"
    "  bench   the throughput table of every fill and dtype against the memset limit (paraminit bench --help)\n";

struct Command {
  const char* name;
  int (*run)(int argc, char** argv);
  const char* usage;  // printed after a usage error of this command
};
const Command kCommands[] = {
    {"init", pp::cmd_init, pp::kInitUsage},
    {"load", pp::cmd_load, pp::kLoadUsage},
    {"depth", pp::cmd_depth, pp::kDepthUsage},
    {"bench", pp::cmd_bench, pp::kBenchUsage},
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  // A file size limit (RLIMIT_FSIZE) would kill the process with SIGXFSZ mid-write, leaving the
  // output's temporary behind; ignored, the write fails with EFBIG, the error is reported and the
  // writer removes its temporary, as for a full disk.
  std::signal(SIGXFSZ, SIG_IGN);
  const std::string cmd = argv[1];
  for (const Command& c : kCommands) {
    if (cmd != c.name) continue;
    try {
      return c.run(argc - 1, argv + 1);
    } catch (const std::invalid_argument& e) {
      std::fprintf(stderr, "paraminit %s: %s\n%s", cmd.c_str(), e.what(), c.usage);
      return 2;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "paraminit %s: %s\n", cmd.c_str(), e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "paraminit: unknown command \"%s\"\n%s", cmd.c_str(), kUsage);
  return 2;
}
