// What the program prints: the progress line on stderr, and the Markdown tables and summaries of
// init, load and depth on stdout. Kept apart from the commands so their text stays in one place
// and the commands read as what they compute.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "check.hpp"
#include "paraminit/paraminit.hpp"

namespace paraminit_program {

/// "(64, 4096)", "(5,)", "()".
std::string shape_text(const std::vector<std::int64_t>& s);

/// init's "[i/n] name" line on stderr, redrawn in place; only when wanted and stderr is a terminal
/// (a log file would collect every carriage return).
class Progress {
 public:
  explicit Progress(bool wanted);
  void step(std::size_t i, std::size_t n, const std::string& name) const;  // i counts from 1
  void clear() const;    // finished: erase the line
  void abandon() const;  // failed: end the line, so the error message starts on its own
 private:
  bool on_;
};

// ---- init ----
void print_init_header();
/// One row. expected_std: null prints "-" (no expectation, or copied from a file); verdict: "yes",
/// "NO" or "-" (not checked).
void print_init_row(const std::string& name, const std::vector<std::int64_t>& shape, paraminit::DType dtype, const std::string& scheme,
                    const Stats& s, const double* expected_std, const char* verdict, double seconds);
void print_init_summary(std::size_t params, std::uint64_t elems, std::uint64_t bytes, const std::string& out, bool cuda, int world, int rank,
                        double total_s, double fill_s);
void print_from_report(const std::string& from, std::size_t taken, std::size_t initialized, const std::vector<std::string>& mismatched,
                       std::size_t unused);
void print_fills_alone(double fills_s, double total_s);
void print_write_limit(std::uint64_t file_bytes, double pwrite_s, double total_s);
void print_failed(const std::vector<std::string>& failed);

// ---- load ----
void print_load_table(bool cuda, std::uint64_t bytes, double t_read, double t_pread);

// ---- depth ----
void print_depth_header(const char* network, std::int64_t layers, std::int64_t width, std::int64_t batch, double gain, double rw_gain);
/// The std at depths 1, 10, 100 and the last (act and grad hold one value per layer).
void print_depth_row(const char* scheme, const std::vector<double>& act, const std::vector<double>& grad);

}  // namespace paraminit_program
