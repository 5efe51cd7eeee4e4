// The paraminit program: a small spec with every scheme (all rows within their sampling bounds),
// shards that concatenate to the unsharded file bit for bit, --from copying exactly what matches,
// spec errors naming the parameter and field, --help, the built-in default spec, and its faults
// (issue 15): unwritable outputs, a full file system, truncated inputs, bad options.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
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

// run() with the program's file size limited to `limit` bytes (RLIMIT_FSIZE, set in the child before
// exec): a file system that fills up, as the program sees it. SIGXFSZ is reset to its default
// (terminate) so that only the program's own handling can turn it into an error it reports. Its
// stdout and stderr come back through pipes, which the limit does not cut short (files it would);
// read one after the other, which is enough for the few lines a failing --quiet run prints.
RunResult run_limited(const std::vector<std::string>& args, rlim_t limit) {
  int out[2], err[2];
  if (::pipe(out) != 0 || ::pipe(err) != 0) return RunResult{-1, "", "pipe failed"};
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::dup2(out[1], 1) < 0 || ::dup2(err[1], 2) < 0) ::_exit(126);
    ::close(out[0]), ::close(err[0]), ::close(out[1]), ::close(err[1]);
    ::signal(SIGXFSZ, SIG_DFL);
    const rlimit rl{limit, limit};
    if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) ::_exit(126);
    std::vector<char*> argv{const_cast<char*>(PARAMINIT_PROGRAM)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(PARAMINIT_PROGRAM, argv.data());
    ::_exit(127);
  }
  ::close(out[1]), ::close(err[1]);
  auto drain = [](int fd) {
    std::string s;
    char buf[4096];
    for (ssize_t got; (got = ::read(fd, buf, sizeof buf)) > 0;) s.append(buf, static_cast<std::size_t>(got));
    ::close(fd);
    return s;
  };
  RunResult r{-1, drain(out[0]), drain(err[0])};
  int st = 0;
  ::waitpid(pid, &st, 0);
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  return r;
}

// The names in a directory (the program's outputs and any temporaries it left).
std::vector<std::string> listing(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
  return names;
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

// Issue 14: the file's bytes are the library's own fills (a parameter filled directly gives the same
// bytes), and --compare-write prints its row and leaves no file of its own behind.
TEST(Program, TheFileHoldsTheLibrarysBitsAndCompareWriteCleansUp) {
  std::filesystem::create_directory("cw");
  const RunResult r = run("init --quiet --spec " + kSmall + " --out cw/small.safetensors --compare-write");
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("init total / pwrite = "), std::string::npos) << r.out;
  EXPECT_EQ(listing("cw"), std::vector<std::string>{"small.safetensors"});
  const auto f = pi::SafetensorsReader::open("cw/small.safetensors");
  pi::Context c = pi::Context::cpu(1);
  std::vector<std::uint16_t> want(120 * 40);  // "n": normal, std 0.05, f16, key_for(7, "n")
  pi::normal(c, pi::TensorView::of(want.data(), pi::DType::f16, {120, 40}), pi::key_for(7, "n"), {0.0, 0.05});
  const auto got = bytes_of(f, *f.find("n"));
  ASSERT_EQ(got.size(), want.size() * 2);
  EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size()), 0);
  std::vector<float> u(96 * 50);  // "u": uniform [-0.1, 0.3), f32
  pi::uniform(c, pi::TensorView::of(u.data(), pi::DType::f32, {96, 50}), pi::key_for(7, "u"), {-0.1, 0.3});
  const auto gu = bytes_of(f, *f.find("u"));
  ASSERT_EQ(gu.size(), u.size() * 4);
  EXPECT_EQ(std::memcmp(gu.data(), u.data(), gu.size()), 0);
  std::filesystem::remove_all("cw");
}

// On the CPU, init fills a parameter through slabs of 2^16 elements per pool thread, in buffers of
// a slab of f64 (1 MiB at 2 threads): one that fits is filled whole into one buffer, a larger one
// window of rows by window of rows. The file must hold the bits of one fill of the whole: several
// slabs and a short last one (f32, f64), a row count no multiple of the slab's (bf16), exactly one
// buffer at 2 threads (f32 512 x 512), rows wider than a slab (filled whole), rank 1 of 2 along
// dim 0 (row windows from the shard's first row) and along dim 1 (filled whole); and --from (with
// another seed) copies every one back, slab by slab.
TEST(Program, SlabsGiveTheBitsOfOneFill) {
  {
    std::ofstream f("slabs_spec.json");
    f << R"({"seed": 11, "dtype": "f32", "parameters": {
      "he": {"shape": [1000, 300], "scheme": "he_uniform", "nonlinearity": "relu"},
      "tn": {"shape": [4097, 129], "scheme": "trunc_normal", "std": 0.02, "dtype": "bf16"},
      "f64": {"shape": [1500, 100], "scheme": "normal", "std": 2, "dtype": "f64"},
      "exact": {"shape": [512, 512], "scheme": "uniform"},
      "wide": {"shape": [3, 140000], "scheme": "normal", "std": 0.5},
      "sh": {"shape": [8000, 100], "scheme": "uniform", "low": -1, "high": 1, "shard_dim": 0},
      "sh1": {"shape": [300, 2000], "scheme": "normal", "shard_dim": 1}}})";
  }
  pi::Context c = pi::Context::cpu(1);
  std::vector<float> he(1000 * 300), exact(512 * 512), wide(3 * 140000), sh(8000 * 100), sh1(300 * 2000);
  std::vector<double> f64(1500 * 100);
  std::vector<std::uint16_t> tn(4097 * 129);
  pi::HeOptions h;
  h.nonlinearity = pi::Nonlinearity::relu;
  pi::he_uniform(c, pi::TensorView::of(he.data(), pi::DType::f32, {1000, 300}), pi::key_for(11, "he"), h);
  pi::trunc_normal(c, pi::TensorView::of(tn.data(), pi::DType::bf16, {4097, 129}), pi::key_for(11, "tn"), {0.0, 0.02, -0.04, 0.04});
  pi::normal(c, pi::TensorView::of(f64.data(), pi::DType::f64, {1500, 100}), pi::key_for(11, "f64"), {0.0, 2.0});
  pi::uniform(c, pi::TensorView::of(exact.data(), pi::DType::f32, {512, 512}), pi::key_for(11, "exact"), {0.0, 1.0});
  pi::normal(c, pi::TensorView::of(wide.data(), pi::DType::f32, {3, 140000}), pi::key_for(11, "wide"), {0.0, 0.5});
  pi::uniform(c, pi::TensorView::of(sh.data(), pi::DType::f32, {8000, 100}), pi::key_for(11, "sh"), {-1.0, 1.0});
  pi::normal(c, pi::TensorView::of(sh1.data(), pi::DType::f32, {300, 2000}), pi::key_for(11, "sh1"), {0.0, 1.0});
  std::vector<float> sh1_rank1;  // columns 1000-1999 of every row
  for (int r = 0; r < 300; ++r) sh1_rank1.insert(sh1_rank1.end(), sh1.begin() + r * 2000 + 1000, sh1.begin() + (r + 1) * 2000);
  for (const std::string args : {"", " --world-size 2 --rank 1", " --seed 99 --from slabs.safetensors"}) {
    const bool rank1 = args.find("--rank 1") != std::string::npos;
    const std::string out = rank1 ? "rank1.safetensors" : args.find("--from") != std::string::npos ? "copied.safetensors" : "slabs.safetensors";
    const RunResult r = run("init --quiet --spec slabs_spec.json --out " + out + args);
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    const auto f = pi::SafetensorsReader::open(out);
    auto expect_bytes = [&](const char* name, const void* want, std::size_t bytes) {
      const auto got = bytes_of(f, *f.find(name));
      ASSERT_EQ(got.size(), bytes) << name << args;
      EXPECT_EQ(std::memcmp(got.data(), want, bytes), 0) << name << args;
    };
    expect_bytes("he", he.data(), he.size() * 4);
    expect_bytes("tn", tn.data(), tn.size() * 2);
    expect_bytes("f64", f64.data(), f64.size() * 8);
    expect_bytes("exact", exact.data(), exact.size() * 4);
    expect_bytes("wide", wide.data(), wide.size() * 4);
    if (rank1) {
      expect_bytes("sh", sh.data() + 4000 * 100, 4000 * 100 * 4);  // rows 4000-7999
      expect_bytes("sh1", sh1_rank1.data(), sh1_rank1.size() * 4);
    } else {
      expect_bytes("sh", sh.data(), sh.size() * 4);
      expect_bytes("sh1", sh1.data(), sh1.size() * 4);
    }
  }
  std::remove("slabs_spec.json");
  std::remove("slabs.safetensors");
  std::remove("copied.safetensors");
  std::remove("rank1.safetensors");
}

// ---- faults (issue 15) ----------------------------------------------------------------------------

// An output that cannot be created (tests run as root, so permissions do not stop them: a path under
// a regular file, one in /proc, and a directory in the way of the final name): exit 1, the error
// names the path, and nothing is left behind.
TEST(ProgramFaults, UnwritableOutput) {
  std::filesystem::remove_all("unwritable");
  std::filesystem::create_directory("unwritable");
  std::ofstream("unwritable/plain") << "a regular file";
  std::filesystem::create_directory("unwritable/taken");
  const std::pair<std::string, std::string> cases[] = {
      {"unwritable/plain/model.safetensors", "Not a directory"},
      {"/proc/paraminit_program_test.safetensors", "/proc/paraminit_program_test.safetensors"},
      {"unwritable/taken", "unwritable/taken"},
  };
  for (const auto& [out, words] : cases) {
    const RunResult r = run("init --quiet --spec " + kSmall + " --out " + out);
    EXPECT_EQ(r.rc, 1) << out << ": " << r.out << r.err;
    EXPECT_NE(r.err.find(out), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(words), std::string::npos) << r.err;
  }
  EXPECT_EQ(slurp("unwritable/plain"), "a regular file");
  EXPECT_TRUE(std::filesystem::is_directory("unwritable/taken"));
  EXPECT_TRUE(std::filesystem::is_empty("unwritable/taken"));
  auto names = listing("unwritable");
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"plain", "taken"}));
  std::filesystem::remove_all("unwritable");
}

// A file system that fills up: the file size limit is below the model's size, so sizing the file
// fails (EFBIG, once SIGXFSZ no longer kills the process). The program reports the write error, exits
// 1, and leaves neither the final name nor a temporary; a previous model file stays as it was.
TEST(ProgramFaults, FileSystemFull) {
  std::filesystem::remove_all("full");
  std::filesystem::create_directory("full");
  std::ofstream("full_spec.json") << R"({"parameters": {"big": {"shape": [1024, 1024], "scheme": "normal"}}})";
  for (rlim_t limit : {rlim_t{64} << 10, rlim_t{100}}) {  // sizing the data fails; the header write itself fails
    const RunResult r = run_limited({"init", "--quiet", "--spec", "full_spec.json", "--out", "full/model.safetensors"}, limit);
    EXPECT_EQ(r.rc, 1) << "limit " << limit << ": " << r.out << r.err;
    EXPECT_NE(r.err.find("full/model.safetensors"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("File too large"), std::string::npos) << r.err;
    EXPECT_TRUE(listing("full").empty()) << "left behind: " << listing("full")[0];
  }
  std::ofstream("full/model.safetensors") << "the previous model";
  const RunResult r = run_limited({"init", "--quiet", "--spec", "full_spec.json", "--out", "full/model.safetensors"}, rlim_t{64} << 10);
  EXPECT_EQ(r.rc, 1) << r.err;
  EXPECT_EQ(slurp("full/model.safetensors"), "the previous model");
  EXPECT_EQ(listing("full").size(), 1u);
  std::filesystem::remove_all("full");
}

// --from (and load) a safetensors file cut short: exit 1 naming the file, no output written.
TEST(ProgramFaults, TruncatedFromFile) {
  ASSERT_EQ(run("init --quiet --spec " + kSmall + " --out whole_src.safetensors").rc, 0);
  const std::string whole = slurp("whole_src.safetensors");
  std::uint64_t header = 0;
  for (int i = 7; i >= 0; --i) header = header << 8 | static_cast<unsigned char>(whole[static_cast<std::size_t>(i)]);
  for (std::size_t keep : {std::size_t{0}, std::size_t{5}, static_cast<std::size_t>(8 + header / 2), static_cast<std::size_t>(8 + header),
                           whole.size() / 2, whole.size() - 1}) {
    std::ofstream("cut.safetensors", std::ios::binary) << whole.substr(0, keep);
    std::remove("from_cut.safetensors");
    RunResult r = run("init --quiet --spec " + kSmall + " --from cut.safetensors --out from_cut.safetensors");
    EXPECT_EQ(r.rc, 1) << keep << " bytes: " << r.out << r.err;
    EXPECT_NE(r.err.find("cut.safetensors"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists("from_cut.safetensors")) << keep << " bytes";
    r = run("load cut.safetensors --device cpu --reps 1");
    EXPECT_EQ(r.rc, 1) << keep << " bytes: " << r.out << r.err;
    EXPECT_NE(r.err.find("cut.safetensors"), std::string::npos) << r.err;
  }
  const RunResult r = run("init --quiet --spec " + kSmall + " --from no_such.safetensors --out from_cut.safetensors");
  EXPECT_EQ(r.rc, 1) << r.err;
  EXPECT_NE(r.err.find("no_such.safetensors"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists("from_cut.safetensors"));
}

// A usage error: exit 2, the message names the option (and the value), the command's usage follows,
// and the command did nothing (no output file, no table).
void expect_usage_error(const std::string& cmd, const std::string& args, const std::string& names) {
  std::remove("opt.safetensors");
  std::remove("opt.svg");
  const RunResult r = run(cmd + " " + args);
  EXPECT_EQ(r.rc, 2) << cmd << " " << args << ": " << r.out << r.err;
  EXPECT_EQ(r.err.rfind("paraminit " + cmd + ": ", 0), 0u) << args << ": " << r.err;
  EXPECT_NE(r.err.find(names), std::string::npos) << args << ": " << r.err;
  EXPECT_NE(r.err.find("usage: paraminit " + cmd + " "), std::string::npos) << args << ": " << r.err;
  EXPECT_EQ(r.out, "") << args;
  EXPECT_FALSE(std::filesystem::exists("opt.safetensors")) << args;
  EXPECT_FALSE(std::filesystem::exists("opt.svg")) << args;
}

TEST(ProgramFaults, WorldSizeAndRankOutOfRange) {
  const std::string base = "--quiet --spec " + kSmall + " --out opt.safetensors ";
  for (const char* a : {"--world-size 2 --rank 2", "--world-size 2 --rank 3", "--rank 1", "--world-size 2 --rank -1"})
    expect_usage_error("init", base + a, "--rank");
  for (const char* a : {"--world-size 0", "--world-size -3 --rank 0", "--world-size 99999999999", "--world-size 2x --rank 1",
                        "--world-size two"})
    expect_usage_error("init", base + a, "--world-size");
  for (const char* a : {"--world-size 4 --rank 99999999999", "--world-size 4 --rank 1.5", "--world-size 4 --rank one"})
    expect_usage_error("init", base + a, "--rank");
}

TEST(ProgramFaults, EveryOptionWithoutItsValueOrWithGarbage) {
  const std::string small = "--quiet --spec " + kSmall + " --out opt.safetensors ";
  for (const char* o : {"--spec", "--out", "--device", "--from", "--seed", "--world-size", "--rank"}) {
    expect_usage_error("init", small + o, std::string(o) + " needs a value");
    expect_usage_error("init", small + o + " --quiet", std::string(o) + " needs a value");  // the next option is not its value
    expect_usage_error("init", small + o + " ''", std::string(o) + " needs a value");
  }
  for (const char* a : {"--seed x", "--seed -1", "--seed 12abc", "--seed 1e3", "--seed 99999999999999999999"}) expect_usage_error("init", small + a, "--seed");
  expect_usage_error("init", small + "--device gpu", "--device");
  expect_usage_error("init", small + "--frobnicate", "--frobnicate");
  // load: a file that exists, so that only the option is wrong.
  ASSERT_EQ(run("init --quiet --spec " + kSmall + " --out load_me.safetensors").rc, 0);
  for (const char* o : {"--device", "--reps"}) {
    expect_usage_error("load", std::string("load_me.safetensors ") + o, std::string(o) + " needs a value");
    expect_usage_error("load", std::string("load_me.safetensors ") + o + " --device", std::string(o) + " needs a value");
  }
  for (const char* a : {"--reps 0", "--reps -2", "--reps x", "--reps 3x"}) expect_usage_error("load", std::string("load_me.safetensors ") + a, "--reps");
  expect_usage_error("load", "load_me.safetensors --device gpu", "--device");
  expect_usage_error("load", "load_me.safetensors other.safetensors", "other.safetensors");
  // depth: small sizes first, so that a garbage value taken as a number would still finish quickly.
  const std::string tiny = "--layers-linear 2 --layers 2 --width 4 --batch 2 --svg opt.svg ";
  for (const char* o : {"--layers-linear", "--layers", "--width", "--batch", "--seed", "--svg"}) {
    expect_usage_error("depth", tiny + o, std::string(o) + " needs a value");
    expect_usage_error("depth", tiny + o + " --width", std::string(o) + " needs a value");
  }
  for (const char* a : {"--layers-linear 0", "--layers -1", "--width 1", "--width 5y", "--batch 0", "--batch b", "--seed -1",
                        "--layers 99999999999999999999"})
    expect_usage_error("depth", tiny + a, std::string(a).substr(0, std::string(a).find(' ')));
  // bench: its options are checked before any table runs.
  const std::string quick = "--no-orthogonal --reps 1 --elements 64 --device cpu ";
  for (const char* o : {"--device", "--elements", "--threads", "--reps"})
    expect_usage_error("bench", quick + o, std::string(o) + " needs a value");
  for (const char* a : {"--device gpu", "--elements x", "--elements 0", "--elements 12abc", "--threads -1", "--threads t", "--reps 0"})
    expect_usage_error("bench", quick + a, std::string(a).substr(0, std::string(a).find(' ')));
}

// Inputs found by the spec fuzzer (tests/fuzz_spec.cpp: the top-level dtype) or by reading spec.cpp
// while writing it (the others), kept in tests/data/spec_regressions:
// each is an exit 1 with a message that starts with the spec file and names the parameter or the
// top-level field, and nothing is written. Before the fix: a bad top-level dtype read ".dtype: ...",
// an empty parameter name dropped the parameters[...] part, a repeat count of 10^12 ran until memory
// ran out, and shard_dim 2^32 / 2^64-1 and batch_dims 2^32 were narrowed to 0 / -1 / 0 and accepted.
TEST(ProgramFaults, SpecRegressions) {
  const std::string dir = std::string(PARAMINIT_TEST_DATA) + "/spec_regressions/";
  const std::pair<const char*, const char*> cases[] = {
      {"toplevel_dtype.json", "dtype: unknown dtype \"f321\""},
      {"empty_name.json", "parameters[\"\"]: a parameter needs a non-empty name"},
      {"repeat_count.json", "repeat: count 1000000000000 makes more than 100000 parameters"},
      {"shard_dim_wraps.json", "parameters[\"w\"].shard_dim: 4294967296 is not a dimension of the shape"},
      {"shard_dim_unsigned.json", "parameters[\"w\"].shard_dim: 18446744073709551615 is not a dimension of the shape"},
      {"batch_dims_wraps.json", "parameters[\"w\"].batch_dims: 4294967296 is out of range"},
      {"not_object.json", "expected a JSON object"},
  };
  std::filesystem::remove("regression.safetensors");
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) files += e.path().extension() == ".json";
  EXPECT_EQ(files, std::size(cases)) << "every file of " << dir << " needs its row here";
  for (const auto& [file, msg] : cases) {
    const RunResult r = run("init --quiet --spec " + dir + file + " --out regression.safetensors");
    EXPECT_EQ(r.rc, 1) << file << ": " << r.err;
    EXPECT_NE(r.err.find(dir + file + ": " + msg), std::string::npos) << file << ": " << r.err;
    EXPECT_FALSE(std::filesystem::exists("regression.safetensors")) << "a file was written for " << file;
  }
}

// The process killed (SIGKILL: nothing of it runs) while `init` writes: the final name never holds a
// partial model, because the writer fills X.tmp.<pid> and renames it only after close(). With no
// previous X, X does not exist afterwards; with a previous X, it is left byte for byte. The temporary
// X.tmp.<pid> of the killed run does remain (no handler runs on SIGKILL to remove it); the next run
// writes its own X.tmp.<its pid>, so a leftover is only disk space.
// The kill comes once the temporary exists (polled, so a loaded machine only delays it) plus 0.3 s.
// If the run finishes before that (it exited, or the kill came after its rename), the spec is doubled
// and it is tried again; after three sizes the test is skipped with a message, never passed or failed
// by chance.
struct KillResult {
  bool killed = false;  // false: it exited on its own (finished, or failed) before the kill
  bool writing = false;  // its temporary was seen before the kill (else it was still starting after 60 s)
  int status = 0;
  std::string tmp;  // the temporary it was writing
};

KillResult init_killed_while_writing(const std::string& spec, const std::string& out) {
  KillResult k;
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    if (null < 0 || ::dup2(null, 1) < 0 || ::dup2(null, 2) < 0) ::_exit(126);
    const char* argv[] = {PARAMINIT_PROGRAM, "init", "--quiet", "--spec", spec.c_str(), "--out", out.c_str(), nullptr};
    ::execv(PARAMINIT_PROGRAM, const_cast<char* const*>(argv));
    ::_exit(127);
  }
  k.tmp = out + ".tmp." + std::to_string(pid);
  for (int i = 0; i < 60000 && !k.writing; ++i) {  // up to 60 s for the program to start and plan
    if (::waitpid(pid, &k.status, WNOHANG) == pid) return k;
    k.writing = std::filesystem::exists(k.tmp);
    if (!k.writing) ::usleep(1000);
  }
  ::usleep(300000);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &k.status, 0);
  k.killed = WIFSIGNALED(k.status) && WTERMSIG(k.status) == SIGKILL;
  return k;
}

// Whether the run got as far as its rename: it exited by itself, or the kill came after the rename
// (while it unmapped and exited), so that `out` is its complete model of three (rows, 8192) tensors and
// the temporary is gone. Anything else under `out` that is not the previous model is a finding.
bool finished_first(const KillResult& k, const std::string& out, std::int64_t rows) {
  if (!k.killed) return true;
  if (std::filesystem::exists(k.tmp) || !std::filesystem::exists(out)) return false;
  try {
    const auto f = pi::SafetensorsReader::open(out);
    if (f.tensors().size() != 3) return false;
    for (const auto& t : f.tensors())
      if (t.shape != std::vector<std::int64_t>{rows, 8192}) return false;
  } catch (const pi::Error&) {
    return false;  // a partial file under the final name
  }
  // its last bytes filled (a normal fill is never 64 zeros in a row), not the zeros the file was sized with
  std::ifstream in(out, std::ios::binary);
  in.seekg(-256, std::ios::end);
  char tail[256] = {};
  if (!in.read(tail, sizeof tail)) return false;
  return std::any_of(tail, tail + sizeof tail, [](char c) { return c != 0; });
}

TEST(ProgramFaults, KilledDuringInitLeavesTheFinalNameAlone) {
  const std::string out = "killed/model.safetensors";
  std::int64_t rows = 4096;  // 3 x rows x 8192 elements: 400 MB at 4096 rows, 0.5-2 s on 2 cores
  for (int attempt = 0; attempt < 3; ++attempt, rows *= 2) {
    std::filesystem::remove_all("killed");
    std::filesystem::create_directory("killed");
    const std::string shape = "[" + std::to_string(rows) + ", 8192]";
    std::ofstream("killed_spec.json") << R"({"parameters": {"a": {"shape": )" << shape << R"(, "scheme": "normal"}, "b": {"shape": )"
                                      << shape << R"(, "scheme": "uniform"}, "c": {"shape": )" << shape << R"(, "scheme": "normal"}}})";
    // 1. no previous model: nothing under the final name afterwards
    const KillResult k1 = init_killed_while_writing("killed_spec.json", out);
    if (!k1.killed) ASSERT_TRUE(WIFEXITED(k1.status) && WEXITSTATUS(k1.status) == 0) << "the run failed by itself: status " << k1.status;
    if (finished_first(k1, out, rows)) continue;  // a bigger spec
    EXPECT_FALSE(std::filesystem::exists(out)) << "a partial model under the final name";
    if (k1.writing) EXPECT_TRUE(std::filesystem::exists(k1.tmp)) << "the killed run's temporary (documented above) is gone";
    std::filesystem::remove(k1.tmp);  // the killed run's leftover (see above)
    EXPECT_TRUE(listing("killed").empty()) << "left behind: " << listing("killed")[0];
    // 2. a previous model written by a successful run: byte for byte the same afterwards
    ASSERT_EQ(run("init --quiet --spec " + kSmall + " --out " + out).rc, 0);
    const std::string before = slurp(out);
    ASSERT_FALSE(before.empty());
    const KillResult k2 = init_killed_while_writing("killed_spec.json", out);
    if (!k2.killed) ASSERT_TRUE(WIFEXITED(k2.status) && WEXITSTATUS(k2.status) == 0) << "the run failed by itself: status " << k2.status;
    if (finished_first(k2, out, rows)) continue;
    EXPECT_TRUE(slurp(out) == before) << "the previous model was changed";
    if (k2.writing) EXPECT_TRUE(std::filesystem::exists(k2.tmp)) << "the killed run's temporary (documented above) is gone";
    std::filesystem::remove(k2.tmp);
    EXPECT_EQ(listing("killed"), (std::vector<std::string>{"model.safetensors"}));
    std::filesystem::remove_all("killed");
    std::filesystem::remove("killed_spec.json");
    return;
  }
  std::filesystem::remove_all("killed");
  std::filesystem::remove("killed_spec.json");
  GTEST_SKIP() << "init finished before the kill three times (up to 3 x " << rows / 2 << " x 8192 elements): nothing was tested";
}

}  // namespace
