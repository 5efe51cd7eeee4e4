// safetensors: round trip of every dtype (bits), windows and dtype conversion on read, the fixture
// written by Python's safetensors package, a file for the Python check (check_safetensors.py), and
// every kind of bad file: a clear Status::io error naming the problem; the writer on a full file
// system and the reader of a file truncated under it (errors, never a signal).
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "paraminit/paraminit.hpp"
#include "paraminit/safetensors.hpp"
#include "test_util.hpp"

#ifndef PARAMINIT_TEST_DATA
#error "PARAMINIT_TEST_DATA must name tests/data"
#endif

namespace {
using namespace paraminit_test;
namespace pi = paraminit;
using pi::SafetensorsReader;
using pi::SafetensorsWriter;
using pi::TensorView;


TEST(Safetensors, RoundTripEveryDtypeBitForBit) {
  const std::string path = "roundtrip.safetensors";
  std::vector<Buffer> bufs;
  std::vector<SafetensorsWriter::Decl> decls;
  int k = 0;
  for (DType t : kAllDTypes) {
    bufs.emplace_back(t, 6 * 7);
    pi::normal(ctx(), bufs.back().view1d(), pi::Key{1, static_cast<std::uint64_t>(k++)}, {0.0, 0.5});
    decls.push_back({std::string("w.") + pi::to_string(t), t, {6, 7}});
  }
  decls.push_back({"empty", DType::f32, {0, 3}});
  {
    SafetensorsWriter w(path, decls, {{"paraminit", "test"}});
    for (std::size_t i = 0; i < 4; ++i) w.write(decls[i].name, bufs[i].data());
    w.write("empty", nullptr);
    w.close();
  }
  const auto r = SafetensorsReader::open(path);
  EXPECT_EQ(r.metadata().at("paraminit"), "test");
  ASSERT_EQ(r.tensors().size(), 5u);
  for (std::size_t i = 0; i < 4; ++i) {
    const pi::SafetensorsTensor* t = r.find(decls[i].name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->dtype, decls[i].dtype);
    EXPECT_EQ(t->shape, (std::vector<std::int64_t>{6, 7}));
    Buffer back(decls[i].dtype, 42);
    TensorView v = TensorView::of(back.data(), decls[i].dtype, {6, 7});
    r.read(ctx(), decls[i].name, v);
    EXPECT_EQ(std::memcmp(back.bytes(), bufs[i].bytes(), bufs[i].nbytes()), 0) << decls[i].name;
    // A window: rows [2, 5) of the tensor.
    Buffer part(decls[i].dtype, 21);
    r.read(ctx(), decls[i].name, TensorView::of(part.data(), decls[i].dtype, {3, 7}).window(0, 2, 6));
    EXPECT_EQ(std::memcmp(part.bytes(), bufs[i].bytes() + 14 * pi::dtype_size(decls[i].dtype), part.nbytes()), 0);
    // Columns [3, 5): one run per row.
    Buffer cols(decls[i].dtype, 12);
    r.read(ctx(), decls[i].name, TensorView::of(cols.data(), decls[i].dtype, {6, 2}).window(1, 3, 7));
    for (std::size_t row = 0; row < 6; ++row)
      for (std::size_t c = 0; c < 2; ++c) ASSERT_EQ(cols.at(row * 2 + c), bufs[i].at(row * 7 + 3 + c));
  }
  // Conversion on read: f64 file values into f32 / bf16 views round once (bf16 through fp32).
  Buffer f32(DType::f32, 42), b16(DType::bf16, 42);
  r.read(ctx(), "w.f64", TensorView::of(f32.data(), DType::f32, {6, 7}));
  r.read(ctx(), "w.f64", TensorView::of(b16.data(), DType::bf16, {6, 7}));
  const HalfRounder bf(DType::bf16);
  for (std::size_t i = 0; i < 42; ++i) {
    ASSERT_EQ(f32.at(i), static_cast<double>(static_cast<float>(bufs[1].at(i))));
    ASSERT_EQ(b16.half_bits(i), bf(static_cast<float>(bufs[1].at(i))));
  }
  std::remove(path.c_str());
}

// A file for tests/check_safetensors.py (Python's safetensors reads it and checks the values):
// x = arange(24) / 8 - 1 as (2, 3, 4) f32, y = the same as f64 (24,), h = arange(6) / 4 as f16 (3, 2).
TEST(Safetensors, WritesTheFileForThePythonCheck) {
  std::vector<float> x(24);
  std::vector<double> y(24);
  std::vector<std::uint16_t> h(6);
  const HalfRounder f16(DType::f16);
  for (int i = 0; i < 24; ++i) x[static_cast<std::size_t>(i)] = static_cast<float>(i / 8.0 - 1), y[static_cast<std::size_t>(i)] = i / 8.0 - 1;
  for (int i = 0; i < 6; ++i) h[static_cast<std::size_t>(i)] = f16(static_cast<float>(i / 4.0));
  SafetensorsWriter w("for_python.safetensors", {{"x", DType::f32, {2, 3, 4}}, {"y", DType::f64, {24}}, {"h", DType::f16, {3, 2}}},
                      {{"source", "paraminit"}});
  w.write("h", h.data());  // any order
  w.write("x", x.data());
  w.write("y", y.data());
  w.close();
  SUCCEED();
}

TEST(Safetensors, ReadsTheFixtureOfPythonsPackage) {
  const auto r = SafetensorsReader::open(std::string(PARAMINIT_TEST_DATA) + "/fixture.safetensors");
  EXPECT_EQ(r.metadata().at("format"), "np");
  Buffer w(DType::f32, 6), b(DType::f64, 3), h(DType::f16, 4), e(DType::f32, 1);
  r.read(ctx(), "layer.weight", TensorView::of(w.data(), DType::f32, {2, 3}));
  EXPECT_EQ(w.values(), (std::vector<double>{0, 0.5, 1, 1.5, 2, 2.5}));
  r.read(ctx(), "layer.bias", TensorView::of(b.data(), DType::f64, {3}));
  EXPECT_EQ(b.values(), (std::vector<double>{1, -2, 0.25}));
  r.read(ctx(), "half", TensorView::of(h.data(), DType::f16, {2, 2}));
  EXPECT_EQ(h.values(), (std::vector<double>{1.5, -0.125, 65504, 0}));
  r.read(ctx(), "empty", TensorView::of(e.data(), DType::f32, {0, 4}));
  const pi::SafetensorsTensor* steps = r.find("steps");
  ASSERT_NE(steps, nullptr);
  EXPECT_EQ(steps->dtype_name, "I64");
  EXPECT_FALSE(steps->readable);
  try {
    r.read(ctx(), "steps", TensorView::of(e.data(), DType::f32, {2}));
    ADD_FAILURE() << "read an I64 tensor";
  } catch (const pi::Error& err) {
    EXPECT_EQ(err.code(), pi::Status::unsupported);
  }
  try {
    r.read(ctx(), "layer.weight", TensorView::of(w.data(), DType::f32, {3, 2}));
    ADD_FAILURE() << "shape mismatch accepted";
  } catch (const pi::Error& err) {
    EXPECT_NE(std::string(err.what()).find("shape (2, 3)"), std::string::npos) << err.what();
  }
}

// ---- bad files ----------------------------------------------------------------------------------

std::string file_bytes(const std::string& json, std::size_t data_bytes, std::uint64_t claimed_len = UINT64_MAX) {
  const std::uint64_t n = claimed_len == UINT64_MAX ? json.size() : claimed_len;
  std::string f(8, '\0');
  for (int i = 0; i < 8; ++i) f[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  return f + json + std::string(data_bytes, '\x01');
}

void expect_bad(const std::string& bytes, const std::vector<std::string>& words) {
  try {
    SafetensorsReader::validate(bytes.data(), bytes.size());
    ADD_FAILURE() << "accepted: " << words[0];
  } catch (const pi::Error& e) {
    EXPECT_EQ(e.code(), pi::Status::io) << e.what();
    for (const auto& w : words) EXPECT_NE(std::string(e.what()).find(w), std::string::npos) << "'" << w << "' not in: " << e.what();
  }
  // The same through a file.
  const std::string path = "bad.safetensors";
  { std::ofstream(path, std::ios::binary) << bytes; }
  try {
    (void)SafetensorsReader::open(path);
    ADD_FAILURE() << "open accepted: " << words[0];
  } catch (const pi::Error& e) {
    EXPECT_EQ(e.code(), pi::Status::io) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  std::remove(path.c_str());
}

TEST(SafetensorsBadFiles, EachIsAClearError) {
  const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  SafetensorsReader::validate(file_bytes(ok, 8).data(), file_bytes(ok, 8).size());  // the control
  expect_bad(std::string(5, '\0'), {"fewer than the 8"});
  expect_bad(file_bytes(ok, 8).substr(0, 20), {"claims", "bytes but the file has"});  // truncated header
  expect_bad(file_bytes(ok, 8, 1u << 20), {"claims 1048576 bytes"});                 // length past the end
  expect_bad(file_bytes(ok, 8, 200'000'000), {"over the limit of 100000000"});         // a 200 MB claim
  expect_bad(file_bytes(ok, 4), {"ends at byte 8 of a data section of 4 bytes"});
  expect_bad(file_bytes(ok, 12), {"data section has 12 bytes but the tensors end at 8"});
  expect_bad(file_bytes(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), {"holds 8 bytes", "need 12"});
  expect_bad(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8),
             {"overlaps"});
  expect_bad(file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8), {"bytes [0, 4)", "belong to no tensor"});
  expect_bad(file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", 8), {"begin > end"});
  expect_bad(file_bytes(R"({"a":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", 8), {"unknown dtype \"Q7\""});
  expect_bad(file_bytes("{\"a\xff\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), {"not valid JSON"});  // bad UTF-8
  expect_bad(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})", 8), {"not valid JSON"});
  expect_bad(file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8),
             {"\"a\" appears twice"});
  expect_bad(file_bytes(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), {"non-negative integer"});
  expect_bad(file_bytes(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,8]}})", 8), {"overflows"});
  expect_bad(file_bytes(R"({"a":{"dtype":"F32","shape":[2]}})", 8), {"data_offsets"});
  expect_bad(file_bytes(R"({"__metadata__":{"k":1},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8), {"is not a string"});
  expect_bad(file_bytes(R"([1,2,3])", 0), {"not a JSON object"});
  try {
    (void)SafetensorsReader::open("/nonexistent/x.safetensors");
    ADD_FAILURE();
  } catch (const pi::Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot open"), std::string::npos);
  }
}

TEST(SafetensorsWriterErrors, DuplicateAndUnwrittenTensors) {
  try {
    SafetensorsWriter w("dup.safetensors", {{"a", DType::f32, {1}}, {"a", DType::f32, {2}}});
    ADD_FAILURE();
  } catch (const pi::Error& e) {
    EXPECT_NE(std::string(e.what()).find("declared twice"), std::string::npos);
  }
  SafetensorsWriter w("unwritten.safetensors", {{"a", DType::f32, {1}}, {"b", DType::f32, {2}}});
  const float one = 1;
  w.write("a", &one);
  try {
    w.close();
    ADD_FAILURE();
  } catch (const pi::Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"b\" was never written"), std::string::npos);
  }
  std::remove("dup.safetensors");
  std::remove("unwritten.safetensors");
}

// write_part: a tensor written in parts (in order, of uneven sizes, one of zero bytes) reads back
// with the bytes of one write(); a part out of order, past the end or from null data is refused
// naming the tensor and the byte, and a tensor whose parts stop short is not written.
TEST(SafetensorsWriterParts, PartsInOrderGiveTheBytesOfOneWrite) {
  Buffer src(DType::bf16, 37 * 5);
  pi::normal(ctx(), src.view1d(), pi::Key{3, 4}, {0.0, 1.0});
  const auto* bytes = static_cast<const unsigned char*>(src.data());
  const std::uint64_t total = 37 * 5 * 2;
  {
    SafetensorsWriter w("parts.safetensors", {{"whole", DType::bf16, {37, 5}}, {"parts", DType::bf16, {37, 5}}, {"empty", DType::f32, {0}}});
    w.write("whole", src.data());
    std::uint64_t off = 0;
    for (std::uint64_t part : {std::uint64_t{1}, std::uint64_t{0}, std::uint64_t{99}, std::uint64_t{64}}) {
      w.write_part("parts", off, bytes + off, part);
      off += part;
    }
    auto refused = [&](std::uint64_t at, const void* data, std::uint64_t n, const char* says) {
      try {
        w.write_part("parts", at, data, n);
        ADD_FAILURE() << says;
      } catch (const pi::Error& e) {
        EXPECT_EQ(e.code(), pi::Status::invalid_argument);
        EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("\"parts\""), std::string::npos) << e.what();
      }
    };
    refused(off + 2, bytes + off + 2, 2, "a part at byte 166 is out of order (parts are written in order: the next one starts at byte 164)");
    refused(0, bytes, 2, "the next one starts at byte 164");
    refused(off, bytes + off, total - off + 1, "runs past the tensor's 370 bytes");
    refused(off, nullptr, 2, "data is null");
    w.write_part("empty", 0, nullptr, 0);
    try {
      w.close();
      ADD_FAILURE() << "\"parts\" is 206 bytes short";
    } catch (const pi::Error& e) {
      EXPECT_NE(std::string(e.what()).find("\"parts\" was written only to byte 164 of 370"), std::string::npos) << e.what();
    }
    w.write_part("parts", off, bytes + off, total - off);
    refused(0, bytes, 2, "a part at byte 0 is out of order (parts are written in order: all 370 bytes are written)");
    w.close();
  }
  const auto r = SafetensorsReader::open("parts.safetensors");
  Buffer whole(DType::bf16, 37 * 5), parts(DType::bf16, 37 * 5);
  r.read(ctx(), "whole", TensorView::of(whole.data(), DType::bf16, {37, 5}));
  r.read(ctx(), "parts", TensorView::of(parts.data(), DType::bf16, {37, 5}));
  EXPECT_EQ(std::memcmp(whole.data(), src.data(), total), 0);
  EXPECT_EQ(std::memcmp(parts.data(), src.data(), total), 0);
  std::remove("parts.safetensors");
}

// Element and byte counts that do not fit 64 bits (the file's offsets and off_t are signed 64-bit)
// are refused when the tensors are declared. Before the fix {2^62, 8} wrapped to 0 elements: the
// writer accepted it, map() returned null and the reader rejected the file.
TEST(SafetensorsWriterErrors, OverflowingShapesAreRefusedWhenDeclared) {
  const std::int64_t p31 = std::int64_t{1} << 31, p60 = std::int64_t{1} << 60, p61 = std::int64_t{1} << 61, p62 = std::int64_t{1} << 62;
  const std::string path = "overflow.safetensors";
  struct Case {
    std::vector<SafetensorsWriter::Decl> decls;
    std::vector<std::string> words;
  };
  const Case cases[] = {
      {{{"big", DType::f32, {p62, 8}}}, {"\"big\"", "elements"}},                       // 2^65 elements
      {{{"big", DType::f32, {p31, p31, 8}}}, {"\"big\"", "elements"}},                  // 2^65 elements
      {{{"ok", DType::f32, {2, 3}}, {"big", DType::bf16, {p31, p31, 8}}}, {"\"big\"", "elements"}},
      {{{"big", DType::f64, {p61}}}, {"\"big\"", "bytes"}},                             // 2^64 bytes
      {{{"big", DType::f32, {p60, 2}}}, {"\"big\"", "bytes"}},                          // 2^63 bytes
      {{{"a", DType::f32, {p60}}, {"b", DType::f32, {p60}}}, {"\"b\"", "bytes"}},       // 2^62 each, 2^63 together
  };
  for (const Case& c : cases) {
    std::remove(path.c_str());
    try {
      SafetensorsWriter w(path, c.decls);
      ADD_FAILURE() << "accepted " << c.words[0];
    } catch (const pi::Error& e) {
      EXPECT_EQ(e.code(), pi::Status::invalid_argument) << e.what();
      for (const auto& word : c.words) EXPECT_NE(std::string(e.what()).find(word), std::string::npos) << "'" << word << "' not in: " << e.what();
    }
    EXPECT_FALSE(std::ifstream(path).good()) << "a file was written for " << c.words[0];
  }
  // A zero extent makes any shape empty (the reader agrees): still accepted, and read back.
  {
    SafetensorsWriter w(path, {{"empty", DType::f32, {0, p62, 8}}, {"x", DType::f32, {2}}});
    const float x[2] = {1, 2};
    w.write("x", x);
    EXPECT_EQ(w.map("empty"), nullptr);
    w.close();
  }
  const auto r = SafetensorsReader::open(path);
  ASSERT_NE(r.find("empty"), nullptr);
  EXPECT_EQ(r.find("empty")->numel(), 0);
  std::remove(path.c_str());
}

// ---- faults: a full file system, a file that shrinks while it is read -------------------------------

// Runs fn in a forked child (fn returns "" when all is well, else what went wrong) and returns the
// child's outcome: "" or the failure, or the signal that killed it. A fault that raises SIGBUS thus
// fails the test instead of killing the test binary. The child touches only what it creates itself
// (no thread of the parent exists there) and leaves by _exit, skipping the parent's atexit work.
std::string in_child(const std::function<std::string()>& fn) {
  int pipefd[2];
  if (::pipe(pipefd) != 0) return std::string("pipe: ") + std::strerror(errno);
  const pid_t pid = ::fork();
  if (pid < 0) return std::string("fork: ") + std::strerror(errno);
  if (pid == 0) {
    ::close(pipefd[0]);
    std::string what;
    try {
      what = fn();
    } catch (const std::exception& e) {
      what = std::string("unexpected exception: ") + e.what();
    }
    if (!what.empty()) (void)!::write(pipefd[1], what.data(), what.size());
    ::_exit(what.empty() ? 0 : 1);
  }
  ::close(pipefd[1]);
  std::string what;
  char buf[512];
  for (ssize_t got; (got = ::read(pipefd[0], buf, sizeof buf)) != 0;) {
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) break;
    what.append(buf, static_cast<std::size_t>(got));
  }
  ::close(pipefd[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) return "the child was killed by signal " + std::to_string(WTERMSIG(status)) + " (" + ::strsignal(WTERMSIG(status)) + ")";
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return what.empty() ? "the child failed" : what;
  return "";
}

// Files of the current directory whose names start with `prefix` (the final name and temporaries).
std::vector<std::string> files_starting(const std::string& prefix) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(".")) {
    while (const dirent* e = ::readdir(d))
      if (std::string(e->d_name).compare(0, prefix.size(), prefix) == 0) out.push_back(e->d_name);
    ::closedir(d);
  }
  return out;
}

// A file system with no room for the file, simulated with RLIMIT_FSIZE (no root, no small tmpfs
// needed): the writer must fail with Status::io naming the file and the reason, leave nothing under
// the final name and no temporary file, and never die of SIGBUS or SIGXFSZ. SIGXFSZ is ignored in
// the child so the kernel answers EFBIG instead of killing it (its default action), as ENOSPC would
// be answered on a full disk. The child fills the tensor through map(), as `paraminit init` does.
TEST(SafetensorsWriterFaults, NoRoomForTheFileIsAnIoErrorNotASignal) {
  const std::string path = "noroom.safetensors";
  for (const auto& f : files_starting(path)) std::remove(f.c_str());
  const std::string what = in_child([&]() -> std::string {
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit lim{1 << 20, 1 << 20};  // 1 MiB; the file needs 8 MiB and a header
    if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) return std::string("setrlimit: ") + std::strerror(errno);
    try {
      SafetensorsWriter w(path, {{"w", DType::f32, {2048, 1024}}});
      std::memset(w.map("w"), 0x3f, std::size_t{8} << 20);
      w.close();
      return "the writer accepted a file past RLIMIT_FSIZE";
    } catch (const pi::Error& e) {
      const std::string m = e.what();
      if (e.code() != pi::Status::io) return "not Status::io: " + m;
      if (m.find(path) == std::string::npos || m.find(std::strerror(EFBIG)) == std::string::npos)
        return "the message names neither the file nor the reason: " + m;
    }
    return "";
  });
  EXPECT_EQ(what, "");
  EXPECT_EQ(files_starting(path), std::vector<std::string>{}) << "a file (final or temporary) was left behind";
  for (const auto& f : files_starting(path)) std::remove(f.c_str());
}

// The reason a full disk can no longer raise SIGBUS: the data section's blocks belong to the file
// as soon as the writer exists, before map() hands out the first store. Without that the file is
// sparse (ftruncate), each store through the mapping asks the file system for a block, and on a
// full disk the answer is SIGBUS. (st_blocks counts 512-byte units, preallocated ones included.)
TEST(SafetensorsWriterFaults, TheDataBlocksAreAllocatedBeforeTheFirstStore) {
  const std::string path = "allocated.safetensors";
  const std::size_t n = std::size_t{2} << 20;  // 8 MiB of f32
  {
    SafetensorsWriter w(path, {{"w", DType::f32, {static_cast<std::int64_t>(n)}}});
    struct stat st {};
    ASSERT_EQ(::stat((path + ".tmp." + std::to_string(::getpid())).c_str(), &st), 0) << std::strerror(errno);
    EXPECT_GE(static_cast<std::uint64_t>(st.st_blocks) * 512, n * 4) << "the file is sparse: its data has no blocks yet";
    auto* p = static_cast<float*>(w.map("w"));
    for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<float>(i);
    w.close();
  }
  const auto r = SafetensorsReader::open(path);
  std::vector<float> back(n);
  r.read(ctx(), "w", TensorView::of(back.data(), DType::f32, {static_cast<std::int64_t>(n)}));
  for (std::size_t i = 0; i < n; i += 4099) ASSERT_EQ(back[i], static_cast<float>(i));
  EXPECT_EQ(back[n - 1], static_cast<float>(n - 1));
  std::remove(path.c_str());
}

// Another process truncates the file to half its size after SafetensorsReader::open: every read
// either succeeds with the right data (the tensor lies wholly in what is left) or throws Status::io
// naming the file, and none raises a signal (a reader that touched a mapping of the file would die
// of SIGBUS on the first page past the new end). Runs in a child, so a signal fails the test.
TEST(SafetensorsReaderFaults, AFileTruncatedWhileReadIsAnIoErrorNotASignal) {
  const std::string path = "shrinking.safetensors";
  constexpr int kTensors = 8;
  constexpr std::size_t kElems = 16384;  // 64 KiB each: the half falls in the middle of the file
  {
    std::vector<SafetensorsWriter::Decl> decls;
    for (int k = 0; k < kTensors; ++k) decls.push_back({"t" + std::to_string(k), DType::f32, {128, 128}});
    SafetensorsWriter w(path, decls);
    for (int k = 0; k < kTensors; ++k) {
      std::vector<float> v(kElems);
      for (std::size_t i = 0; i < kElems; ++i) v[i] = static_cast<float>(k * 100000 + static_cast<int>(i));
      w.write("t" + std::to_string(k), v.data());
    }
    w.close();
  }
  int counts[2] = {0, 0};  // tensors read whole, tensors refused: from the child
  int cpipe[2];
  ASSERT_EQ(::pipe(cpipe), 0);
  const std::string what = in_child([&]() -> std::string {
    const auto r = SafetensorsReader::open(path);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::string("stat: ") + std::strerror(errno);
    const auto size = static_cast<std::uint64_t>(st.st_size), half = size / 2;
    std::uint64_t data = 0;
    for (const auto& t : r.tensors()) data += t.end - t.begin;
    const std::uint64_t data_start = size - data;
    const int fd = ::open(path.c_str(), O_RDWR);
    if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(half)) != 0) return std::string("truncate: ") + std::strerror(errno);
    ::close(fd);
    pi::Context c = pi::Context::cpu(1);
    int n[2] = {0, 0};
    for (const auto& t : r.tensors()) {
      const int k = std::stoi(t.name.substr(1));
      const bool inside = data_start + t.end <= half;
      std::vector<float> back(kElems, -1.0f);
      try {
        r.read(c, t.name, TensorView::of(back.data(), DType::f32, {128, 128}));
        if (!inside) return t.name + " was read though the file ends before it";
        for (std::size_t i = 0; i < kElems; ++i)
          if (back[i] != static_cast<float>(k * 100000 + static_cast<int>(i))) return t.name + " read wrong data at " + std::to_string(i);
        ++n[0];
      } catch (const pi::Error& e) {
        const std::string m = e.what();
        if (inside) return t.name + " lies inside the file but failed: " + m;
        if (e.code() != pi::Status::io || m.find(path) == std::string::npos) return t.name + ": not Status::io naming the file: " + m;
        ++n[1];
      }
    }
    (void)!::write(cpipe[1], n, sizeof n);
    return std::string();
  });
  ::close(cpipe[1]);
  (void)!::read(cpipe[0], counts, sizeof counts);
  ::close(cpipe[0]);
  EXPECT_EQ(what, "");
  if (what.empty()) {
    EXPECT_GT(counts[0], 0) << "no tensor lay inside the truncated file: the test tests nothing";
    EXPECT_GT(counts[1], 0) << "no tensor was cut: the test tests nothing";
  }
  std::remove(path.c_str());
}

}  // namespace
