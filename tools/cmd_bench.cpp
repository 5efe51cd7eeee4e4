// paraminit bench: the throughput table of bench/bench_fill.cpp, which parses its own options
// (printing its usage and exiting 2 on an unknown one).
#include "commands.hpp"

namespace paraminit_bench {
int bench_main(int argc, char** argv);
}

namespace paraminit_program {

const char* const kBenchUsage =
    "usage: paraminit bench [--device auto|cpu|cuda] [--elements N] [--threads T] [--reps R] [--no-orthogonal]\n"
    "\n"
    "The throughput table: every fill and dtype against the limit measured in the same run (memset\n"
    "with the same threads on the CPU, cudaMemsetAsync on the GPU), medians of R runs.\n";

int cmd_bench(int argc, char** argv) { return paraminit_bench::bench_main(argc, argv); }

}  // namespace paraminit_program
