// paraminit load: SafetensorsReader::read of every tensor of a file, beside a plain pread() of the
// same bytes in the same run (the disk / page-cache limit).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "commands.hpp"
#include "paraminit/paraminit.hpp"
#include "paraminit/safetensors.hpp"
#include "report.hpp"

namespace paraminit_program {
namespace pi = paraminit;

const char* const kLoadUsage =
    "usage: paraminit load FILE [--device auto|cpu|cuda] [--reps R]\n"
    "\n"
    "Reads every tensor of a safetensors file into memory (host, or the GPU through pinned staging)\n"
    "with SafetensorsReader::read, and prints its speed beside a plain read() of the same bytes in the\n"
    "same run (the disk / page-cache limit). Medians of R runs (default 3).\n";

int cmd_load(int argc, char** argv) {
  std::string file, device = "auto";
  int reps = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--help" || k == "-h") {
      std::fputs(kLoadUsage, stdout);
      return 0;
    } else if (k == "--device") device = device_value(option_value(argc, argv, i));
    else if (k == "--reps") reps = static_cast<int>(int_value(k, option_value(argc, argv, i), 1, 1000000));
    else if (file.empty() && k[0] != '-') file = k;
    else throw std::invalid_argument("unknown option " + k);
  }
  if (file.empty()) throw std::invalid_argument("load needs a FILE");
  const bool cuda = device == "cuda" || (device == "auto" && pi::cuda_device_count() > 0);
  pi::Context ctx = cuda ? pi::Context::cuda(0) : pi::Context::cpu();
  const auto r = pi::SafetensorsReader::open(file);
  std::uint64_t total = 0, biggest = 0;
  for (const auto& t : r.tensors()) total += t.end - t.begin, biggest = std::max(biggest, t.end - t.begin);
  std::vector<unsigned char> host(cuda ? 0 : static_cast<std::size_t>(biggest) + 64);
  DeviceMem dev(cuda ? static_cast<std::size_t>(biggest) + 64 : 0);
  auto median = [&](auto fn) {
    std::vector<double> ts;
    for (int k = 0; k < reps; ++k) {
      const double t0 = now();
      fn();
      ts.push_back(now() - t0);
    }
    std::sort(ts.begin(), ts.end());
    return ts[ts.size() / 2];
  };
  const double t_ours = median([&] {
    for (const auto& t : r.tensors()) {
      if (!t.readable) continue;
      pi::TensorView v = pi::TensorView::of(cuda ? dev.p : host.data(), t.dtype, {});
      v.rank = static_cast<int>(t.shape.size());
      for (int d = 0; d < v.rank; ++d) v.shape[d] = t.shape[static_cast<std::size_t>(d)];
      r.read(ctx, t.name, v);
    }
  });
  // The limit: plain pread() of the same file in 8 MiB blocks into one host buffer (cache-sized;
  // for CUDA runs this is the disk / page-cache side alone).
  std::vector<unsigned char> raw(std::size_t{8} << 20);
  const double t_raw = median([&] {
    const int fd = ::open(file.c_str(), O_RDONLY);
    if (fd < 0) throw std::runtime_error("cannot open " + file);
    off_t off = 0;
    for (ssize_t got; (got = ::pread(fd, raw.data(), raw.size(), off)) > 0;) off += got;
    ::close(fd);
  });
  print_load_table(cuda, total, t_ours, t_raw);
  return 0;
}

}  // namespace paraminit_program
