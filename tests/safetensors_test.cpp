// safetensors: round trip of every dtype (bits), windows and dtype conversion on read, the fixture
// written by Python's safetensors package, a file for the Python check (check_safetensors.py), and
// every kind of bad file: a clear Status::io error naming the problem.
#include <gtest/gtest.h>

#include <cmath>
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

}  // namespace
