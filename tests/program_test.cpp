// The paraminit program: a small spec with every scheme (all rows within their sampling bounds),
// shards that concatenate to the unsharded file bit for bit, --from copying exactly what matches,
// spec errors naming the parameter and field, --help, and the built-in default spec.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "paraminit/paraminit.hpp"
#include "paraminit/safetensors.hpp"

#if !defined(PARAMINIT_PROGRAM) || !defined(PARAMINIT_TEST_DATA)
#error "PARAMINIT_PROGRAM and PARAMINIT_TEST_DATA must be defined"
#endif

namespace {
namespace pi = paraminit;

struct RunResult {
  int rc;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

RunResult run(const std::string& args) {
  const std::string cmd = std::string(PARAMINIT_PROGRAM) + " " + args + " > prog_out.txt 2> prog_err.txt";
  const int st = std::system(cmd.c_str());
  RunResult r{WIFEXITED(st) ? WEXITSTATUS(st) : -1, slurp("prog_out.txt"), slurp("prog_err.txt")};
  return r;
}

const std::string kSmall = std::string(PARAMINIT_TEST_DATA) + "/small_spec.json";

std::vector<unsigned char> bytes_of(const pi::SafetensorsReader& r, const pi::SafetensorsTensor& t) {
  std::vector<unsigned char> b(static_cast<std::size_t>(t.end - t.begin) + 8);
  pi::Context c = pi::Context::cpu(1);
  pi::TensorView v = pi::TensorView::of(b.data(), t.dtype, {});
  v.rank = static_cast<int>(t.shape.size());
  for (int d = 0; d < v.rank; ++d) v.shape[d] = t.shape[static_cast<std::size_t>(d)];
  r.read(c, t.name, v);
  b.resize(static_cast<std::size_t>(t.end - t.begin));
  return b;
}

TEST(Program, SmallSpecEveryRowWithinItsBound) {
  const RunResult r = run("init --spec " + kSmall + " --out small.safetensors");
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_EQ(r.out.find("| NO |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("22 parameters"), std::string::npos) << r.out;
  const auto f = pi::SafetensorsReader::open("small.safetensors");
  EXPECT_EQ(f.tensors().size(), 22u);
  EXPECT_EQ(f.metadata().at("paraminit.seed"), "7");
}

TEST(Program, ShardsConcatenateToTheUnshardedFile) {
  ASSERT_EQ(run("init --quiet --spec " + kSmall + " --out whole.safetensors").rc, 0);
  const int W = 3;
  std::vector<pi::SafetensorsReader> ranks;
  for (int r = 0; r < W; ++r) {
    const std::string out = "rank" + std::to_string(r) + ".safetensors";
    const RunResult x = run("init --quiet --spec " + kSmall + " --out " + out + " --world-size 3 --rank " + std::to_string(r));
    ASSERT_EQ(x.rc, 0) << x.out << x.err;
    ranks.push_back(pi::SafetensorsReader::open(out));
  }
  const auto whole = pi::SafetensorsReader::open("whole.safetensors");
  int sharded = 0;
  for (const auto& t : whole.tensors()) {
    const auto want = bytes_of(whole, t);
    const auto meta = ranks[0].metadata().find("paraminit.shard:" + t.name);
    if (meta == ranks[0].metadata().end()) {  // replicated: every rank has the whole
      for (int r = 0; r < W; ++r) EXPECT_EQ(bytes_of(ranks[static_cast<std::size_t>(r)], *ranks[static_cast<std::size_t>(r)].find(t.name)), want) << t.name;
      continue;
    }
    ++sharded;
    int dim = 0;
    ASSERT_EQ(std::sscanf(meta->second.c_str(), "dim=%d", &dim), 1);
    // Concatenate along dim: outer blocks of (extent_r x inner) bytes from each rank in turn.
    std::size_t outer = 1, inner = pi::dtype_size(t.dtype);
    for (int d = 0; d < dim; ++d) outer *= static_cast<std::size_t>(t.shape[static_cast<std::size_t>(d)]);
    for (std::size_t d = static_cast<std::size_t>(dim) + 1; d < t.shape.size(); ++d) inner *= static_cast<std::size_t>(t.shape[d]);
    std::vector<std::vector<unsigned char>> parts;
    std::vector<std::size_t> ext;
    for (int r = 0; r < W; ++r) {
      const auto* rt = ranks[static_cast<std::size_t>(r)].find(t.name);
      ASSERT_NE(rt, nullptr);
      parts.push_back(bytes_of(ranks[static_cast<std::size_t>(r)], *rt));
      ext.push_back(static_cast<std::size_t>(rt->shape[static_cast<std::size_t>(dim)]));
    }
    std::vector<unsigned char> cat;
    for (std::size_t o = 0; o < outer; ++o)
      for (int r = 0; r < W; ++r) {
        const auto& p = parts[static_cast<std::size_t>(r)];
        const std::size_t block = ext[static_cast<std::size_t>(r)] * inner;
        cat.insert(cat.end(), p.begin() + static_cast<std::ptrdiff_t>(o * block), p.begin() + static_cast<std::ptrdiff_t>((o + 1) * block));
      }
    EXPECT_EQ(cat, want) << t.name << " (sharded along " << dim << ")";
  }
  EXPECT_GE(sharded, 15);
}

TEST(Program, FromCopiesExactlyWhatMatches) {
  {
    std::ofstream("src_spec.json") << R"({"seed": 99, "parameters": {
      "a": {"shape": [10, 10], "scheme": "normal", "std": 0.1},
      "b": {"shape": [5], "scheme": "uniform"},
      "c": {"shape": [4, 4], "scheme": "zeros"}}})";
    std::ofstream("dst_spec.json") << R"({"seed": 1, "parameters": {
      "a": {"shape": [10, 10], "scheme": "normal", "std": 0.1, "dtype": "f64"},
      "b": {"shape": [6], "scheme": "uniform"},
      "d": {"shape": [3], "scheme": "ones"}}})";
  }
  ASSERT_EQ(run("init --quiet --spec src_spec.json --out src.safetensors").rc, 0);
  const RunResult r = run("init --spec dst_spec.json --out dst.safetensors --from src.safetensors");
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("taken 1, initialized 2, mismatched 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("mismatched: b (file F32 (5,), spec (6,))"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 tensor(s) of the file are not in the spec"), std::string::npos) << r.out;
  const auto src = pi::SafetensorsReader::open("src.safetensors");
  const auto dst = pi::SafetensorsReader::open("dst.safetensors");
  // a: taken, converted f32 -> f64 exactly.
  pi::Context c = pi::Context::cpu(1);
  std::vector<float> a32(100);
  std::vector<double> a64(100);
  src.read(c, "a", pi::TensorView::of(a32.data(), pi::DType::f32, {10, 10}));
  dst.read(c, "a", pi::TensorView::of(a64.data(), pi::DType::f64, {10, 10}));
  for (int i = 0; i < 100; ++i) ASSERT_EQ(a64[static_cast<std::size_t>(i)], static_cast<double>(a32[static_cast<std::size_t>(i)]));
  // b: initialized with the destination's seed.
  std::vector<float> b(6), want(6);
  dst.read(c, "b", pi::TensorView::of(b.data(), pi::DType::f32, {6}));
  pi::uniform(c, pi::TensorView::of(want.data(), pi::DType::f32, {6}), pi::key_for(1, "b"), {0.0, 1.0});
  EXPECT_EQ(b, want);
}

TEST(Program, SpecErrorsNameTheParameterAndField) {
  std::ofstream("bad1.json") << R"({"parameters": {"w": {"shape": [4, 4], "scheme": "normal", "std": "x"}}})";
  std::ofstream("bad2.json") << R"({"parameters": {"w": {"shape": [4, 4], "scheme": "gaussian"}}})";
  std::ofstream("bad3.json") << R"({"parameters": {"w": {"shape": [4, 4], "scheme": "normal", "sdt": 1}}})";
  std::ofstream("bad4.json") << R"({"parameters": {"w": {"scheme": "normal"}}})";
  std::ofstream("bad5.json") << R"({"parameters": {"w": {"shape": [4], "scheme": "he_uniform"}}})";
  const std::pair<const char*, const char*> cases[] = {
      {"bad1.json", "parameters[\"w\"].std: expected a number"},
      {"bad2.json", "parameters[\"w\"].scheme: unknown scheme \"gaussian\""},
      {"bad3.json", "parameters[\"w\"].sdt: not a field of scheme normal"},
      {"bad4.json", "parameters[\"w\"].shape: missing"},
      {"bad5.json", "parameters[\"w\"]: paraminit::compute_fans: fan_in and fan_out cannot be computed for a tensor of rank 1"},
  };
  for (const auto& [file, msg] : cases) {
    const RunResult r = run(std::string("init --spec ") + file + " --out bad.safetensors");
    EXPECT_EQ(r.rc, 1) << file;
    EXPECT_NE(r.err.find(msg), std::string::npos) << file << ": " << r.err;
    std::ifstream f("bad.safetensors");
    EXPECT_FALSE(f.good()) << "a file was written for " << file;
  }
  EXPECT_EQ(run("init --rank 3 --world-size 2").rc, 2);
  EXPECT_EQ(run("frobnicate").rc, 2);
}

// Issue 16.3: sparse's expected std counts k non-zeros per unit along unit_axis (units = the extent
// of that axis), not per row: (64, 4096), k = 8, std 1, unit_axis 1 has 8 x 4096 non-zeros, so the
// std is sqrt(8 * 4096 / (64 * 4096)) = 0.353553, not sqrt(8 * 64 / (64 * 4096)) = 0.0441942.
TEST(Program, SparseExpectedStdFollowsUnitAxis) {
  std::ofstream("sparse_spec.json") << R"({"seed": 3, "parameters": {
    "cols": {"shape": [64, 4096], "scheme": "sparse", "k": 8, "std": 1.0, "unit_axis": 1},
    "last": {"shape": [64, 4096], "scheme": "sparse", "k": 8, "std": 1.0, "unit_axis": -1},
    "conv": {"shape": [8, 16, 3], "scheme": "sparse", "k": 5, "std": 1.0, "unit_axis": 1},
    "rows": {"shape": [64, 4096], "scheme": "sparse", "k": 8, "std": 1.0}}})";
  const RunResult r = run("init --spec sparse_spec.json --out sparse.safetensors");
  EXPECT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_EQ(r.out.find("| NO |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| cols | (64, 4096) | f32 | sparse | "), std::string::npos) << r.out;
  for (const char* row : {"| cols |", "| last |"}) {
    const std::string line = r.out.substr(r.out.find(row), r.out.find('\n', r.out.find(row)) - r.out.find(row));
    EXPECT_NE(line.find("| 0.353553 | yes |"), std::string::npos) << line;
  }
  const std::size_t at = r.out.find("| conv |");  // 5 x 16 non-zeros of 384: sqrt(80 / 384)
  ASSERT_NE(at, std::string::npos) << r.out;
  EXPECT_NE(r.out.substr(at, r.out.find('\n', at) - at).find("| 0.456435 | yes |"), std::string::npos) << r.out;
}

// Issue 16.4: a usage error of a command prints that command's usage, not init's.
TEST(Program, UsageErrorsPrintTheirCommandsUsage) {
  const std::pair<const char*, const char*> cases[] = {
      {"load", "usage: paraminit load "},            // no FILE
      {"load x.safetensors --reps", "usage: paraminit load "},
      {"depth --frobnicate", "usage: paraminit depth "},
      {"depth --width", "usage: paraminit depth "},
      {"bench --elements many", "usage: paraminit bench "},  // stoll's invalid_argument, before any bench runs
      {"init --frobnicate", "usage: paraminit init "},
  };
  for (const auto& [args, usage] : cases) {
    const RunResult r = run(args);
    EXPECT_EQ(r.rc, 2) << args;
    EXPECT_NE(r.err.find(usage), std::string::npos) << args << ": " << r.err;
    if (std::string(args).rfind("init", 0) != 0) EXPECT_EQ(r.err.find("usage: paraminit init"), std::string::npos) << args << ": " << r.err;
  }
}

TEST(Program, Help) {
  RunResult r = run("--help");
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("init"), std::string::npos);
  r = run("init --help");
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("--world-size"), std::string::npos);
}

TEST(Program, DepthWritesTheTableAndThePicture) {
  const RunResult r = run("depth --layers-linear 30 --layers 12 --width 32 --batch 16 --svg depth.svg");
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  for (const char* w : {"linear network: 30 layers", "tanh network: 12 layers", "relu network: 12 layers", "| orthogonal, gain 1 |", "| LSUV |",
                        "| random-walk gain |"})
    EXPECT_NE(r.out.find(w), std::string::npos) << w;
  const std::string svg = slurp("depth.svg");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  std::size_t lines = 0;
  for (std::size_t at = svg.find("<polyline"); at != std::string::npos; at = svg.find("<polyline", at + 1)) ++lines;
  EXPECT_EQ(lines, 24u);  // 8 schemes x 3 networks
}

TEST(Program, TheDefaultSpecRuns) {
  const RunResult r = run("init --quiet --device cpu --out default.safetensors");
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("160 parameters, 125078682 elements"), std::string::npos) << r.out;
  EXPECT_EQ(pi::SafetensorsReader::open("default.safetensors").tensors().size(), 160u);
  std::remove("default.safetensors");
}

}  // namespace
