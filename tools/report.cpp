// The program's printing (report.hpp). The formats are the ones the tests and README quote.
#include "report.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace paraminit_program {
namespace pi = paraminit;

std::string shape_text(const std::vector<std::int64_t>& s) {
  std::string t = "(";
  for (std::size_t d = 0; d < s.size(); ++d) t += (d ? ", " : "") + std::to_string(s[d]);
  return t + (s.size() == 1 ? ",)" : ")");
}

Progress::Progress(bool wanted) : on_(wanted && isatty(2)) {}

void Progress::step(std::size_t i, std::size_t n, const std::string& name) const {
  if (on_) std::fprintf(stderr, "\r[%zu/%zu] %-60.60s", i, n, name.c_str());
}

void Progress::clear() const {
  if (on_) std::fprintf(stderr, "\r%80s\r", "");
}

void Progress::abandon() const {
  if (on_) std::fprintf(stderr, "\n");
}

void print_init_header() {
  std::printf("| name | shape | dtype | scheme | mean | std | expected std | ok | ms |\n");
  std::printf("|---|---|---|---|---:|---:|---:|---|---:|\n");
}

void print_init_row(const std::string& name, const std::vector<std::int64_t>& shape, pi::DType dtype, const std::string& scheme,
                    const Stats& s, const double* expected_std, const char* verdict, double seconds) {
  char exp[32] = "-";
  if (expected_std != nullptr) std::snprintf(exp, sizeof exp, "%.6g", *expected_std);
  std::printf("| %s | %s | %s | %s | %.6g | %.6g | %s | %s | %.1f |\n", name.c_str(), shape_text(shape).c_str(), pi::to_string(dtype),
              scheme.c_str(), s.mean, s.std, exp, verdict, seconds * 1e3);
}

void print_init_summary(std::size_t params, std::uint64_t elems, std::uint64_t bytes, const std::string& out, bool cuda, int world, int rank,
                        double total_s, double fill_s) {
  const std::string of_world = world > 1 ? " (rank " + std::to_string(rank) + " of " + std::to_string(world) + ")" : "";
  std::printf("\n%zu parameters, %llu elements, %.1f MB to %s on %s%s: %.3f s (fills %.3f s), %.3f G elem/s\n", params,
              static_cast<unsigned long long>(elems), static_cast<double>(bytes) / 1e6, out.c_str(), cuda ? "cuda" : "cpu", of_world.c_str(),
              total_s, fill_s, static_cast<double>(elems) / total_s / 1e9);
}

void print_from_report(const std::string& from, std::size_t taken, std::size_t initialized, const std::vector<std::string>& mismatched,
                       std::size_t unused) {
  std::printf("from %s: taken %zu, initialized %zu, mismatched %zu\n", from.c_str(), taken, initialized, mismatched.size());
  for (const auto& m : mismatched) std::printf("  mismatched: %s\n", m.c_str());
  std::printf("  %zu tensor(s) of the file are not in the spec\n", unused);
}

void print_fills_alone(double fills_s, double total_s) {
  std::printf("fills alone: %.3f s; init total / fills alone = %.2f\n", fills_s, total_s / fills_s);
}

void print_write_limit(std::uint64_t file_bytes, double pwrite_s, double total_s) {
  std::printf("one pwrite() + fsync of the file's %.1f MB from a ready buffer (the limit): %.3f s, %.2f GB/s; "
              "init total / pwrite = %.2f\n",
              static_cast<double>(file_bytes) / 1e6, pwrite_s, static_cast<double>(file_bytes) / pwrite_s / 1e9, total_s / pwrite_s);
}

void print_failed(const std::vector<std::string>& failed) {
  std::printf("measured std outside its bound: ");
  for (const auto& f : failed) std::printf("%s ", f.c_str());
  std::printf("\n");
}

void print_load_table(bool cuda, std::uint64_t bytes, double t_read, double t_pread) {
  std::printf("| load | bytes | median s | GB/s |\n|---|---:|---:|---:|\n");
  std::printf("| SafetensorsReader::read, every tensor (%s) | %llu | %.3f | %.2f |\n", cuda ? "to the GPU" : "to host memory",
              static_cast<unsigned long long>(bytes), t_read, static_cast<double>(bytes) / t_read / 1e9);
  std::printf("| plain pread() of the file, 8 MiB blocks (the limit) | %llu | %.3f | %.2f |\n", static_cast<unsigned long long>(bytes), t_pread,
              static_cast<double>(bytes) / t_pread / 1e9);
}

void print_depth_header(const char* network, std::int64_t layers, std::int64_t width, std::int64_t batch, double gain, double rw_gain) {
  std::printf("\n%s network: %lld layers of width %lld, batch %lld (activation gain %.4g, random-walk gain %.4g)\n", network,
              static_cast<long long>(layers), static_cast<long long>(width), static_cast<long long>(batch), gain, rw_gain);
  std::printf("| scheme | act std d=1 | d=10 | d=100 | d=%lld | grad std d=1 | d=10 | d=100 | d=%lld |\n", static_cast<long long>(layers),
              static_cast<long long>(layers));
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
}

void print_depth_row(const char* scheme, const std::vector<double>& act, const std::vector<double>& grad) {
  const auto L = static_cast<std::int64_t>(act.size());
  auto at = [&](const std::vector<double>& v, std::int64_t d) { return v[static_cast<std::size_t>(std::min(d, L) - 1)]; };
  std::printf("| %s | %.3g | %.3g | %.3g | %.3g | %.3g | %.3g | %.3g | %.3g |\n", scheme, at(act, 1), at(act, 10), at(act, 100), at(act, L),
              at(grad, 1), at(grad, 10), at(grad, 100), at(grad, L));
  std::fflush(stdout);
}

}  // namespace paraminit_program
