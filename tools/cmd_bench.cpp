// paraminit bench: the throughput table of bench/bench_fill.cpp. Its own parser exits on an unknown
// option but takes "--elements 12abc" as 12 and lets std::stoll's exceptions out, so the options are
// checked here first, with the program's rules, and a usage error runs nothing.
#include <cstdio>
#include <string>

#include "commands.hpp"

namespace paraminit_bench {
int bench_main(int argc, char** argv);
}

namespace paraminit_program {

const char* const kBenchUsage =
    "usage: paraminit bench [--device auto|cpu|cuda] [--elements N] [--threads T] [--reps R] [--no-orthogonal]\n"
    "                       [--cpu-tier best|avx512|avx2|portable]\n"
    "\n"
    "The throughput table: every fill and dtype against the limit measured in the same run (memset\n"
    "with the same threads on the CPU, cudaMemsetAsync on the GPU), medians of R runs.\n"
    "  --elements N      elements per fill (default 2^26; 2^30 on the GPU)\n"
    "  --threads T       CPU worker threads (default 0: every hardware thread)\n"
    "  --reps R          runs per figure (default 7)\n"
    "  --no-orthogonal   skip the orthogonal rows\n"
    "  --cpu-tier T      the CPU loops' instruction set (default best: the widest this CPU has; the\n"
    "                    title says which ran). Every tier gives the same bits.\n";

int cmd_bench(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--help" || k == "-h") {
      std::fputs(kBenchUsage, stdout);
      return 0;
    } else if (k == "--device") device_value(option_value(argc, argv, i));
    else if (k == "--elements") int_value(k, option_value(argc, argv, i), 1, std::int64_t{1} << 40);
    else if (k == "--threads") int_value(k, option_value(argc, argv, i), 0, 4096);
    else if (k == "--reps") int_value(k, option_value(argc, argv, i), 1, 1000000);
    else if (k == "--cpu-tier") {
      const std::string t = option_value(argc, argv, i);
      if (t != "best" && t != "avx512" && t != "avx2" && t != "portable")
        throw std::invalid_argument("--cpu-tier takes best, avx512, avx2 or portable, not " + t);
    } else if (k != "--no-orthogonal") throw std::invalid_argument("unknown option " + k);
  }
  return paraminit_bench::bench_main(argc, argv);
}

}  // namespace paraminit_program
