// to_string / from_name<E> for every public enum: each enumerator round-trips, the documented aliases
// parse, unknown names fail with Status::invalid_argument and a message that lists the valid names.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "paraminit/paraminit.hpp"

namespace {
namespace pi = paraminit;

// Every enumerator of E: the values 0..last (all the public enums are dense from 0).
template <class E>
std::vector<E> all(E last) {
  std::vector<E> v;
  for (int i = 0; i <= static_cast<int>(last); ++i) v.push_back(static_cast<E>(i));
  return v;
}

template <class E>
void check_enum(E last, const char* first_name, const char* type) {
  std::string names;
  for (E e : all(last)) {
    const std::string n = pi::to_string(e);
    EXPECT_NE(n, "unknown") << type << " " << static_cast<int>(e);
    EXPECT_EQ(pi::from_name<E>(n), e) << type << " " << n;
    names += n + ", ";
  }
  EXPECT_EQ(std::string(pi::to_string(all(last).front())), first_name) << type;
  EXPECT_STREQ(pi::to_string(static_cast<E>(static_cast<int>(last) + 1)), "unknown") << type;
  for (const char* bad : {"", "no_such_name", "F32 ", "Fan_In"}) {
    try {
      (void)pi::from_name<E>(bad);
      ADD_FAILURE() << type << ": no error for \"" << bad << "\"";
    } catch (const pi::Error& e) {
      const std::string what = e.what();
      EXPECT_EQ(e.code(), pi::Status::invalid_argument) << what;
      EXPECT_NE(what.find(std::string("from_name<paraminit::") + type + ">"), std::string::npos) << what;
      EXPECT_NE(what.find("\"" + std::string(bad) + "\""), std::string::npos) << what;
      // The message lists every valid name.
      for (E v : all(last)) EXPECT_NE(what.find(pi::to_string(v)), std::string::npos) << what;
      EXPECT_NE(what.find("(valid: " + names.substr(0, names.size() - 2)), std::string::npos) << what;
    }
  }
}

TEST(Names, EveryEnumeratorRoundTripsAndUnknownNamesListTheValidOnes) {
  check_enum(pi::Status::internal, "ok", "Status");
  check_enum(pi::DType::bf16, "f32", "DType");
  check_enum(pi::Nonlinearity::hardsigmoid, "linear", "Nonlinearity");
  check_enum(pi::FanMode::fan_avg, "fan_in", "FanMode");
  check_enum(pi::Distribution::truncated_normal, "uniform", "Distribution");
  check_enum(pi::SparseValues::uniform, "normal", "SparseValues");
  check_enum(pi::GateLayout::cudnn_gru, "torch_lstm", "GateLayout");
  check_enum(pi::OutputActivation::identity, "softmax", "OutputActivation");
  check_enum(pi::ScaleParameter::log_std, "variance", "ScaleParameter");
  check_enum(pi::OrthogonalPath::cholesky_qr2, "automatic", "OrthogonalPath");
}

TEST(Names, SpellingsAreTheCppEnumerators) {
  EXPECT_STREQ(pi::to_string(pi::Status::invalid_argument), "invalid_argument");
  EXPECT_STREQ(pi::to_string(pi::Status::out_of_memory), "out_of_memory");
  EXPECT_STREQ(pi::to_string(pi::Nonlinearity::conv_transpose2d), "conv_transpose2d");
  EXPECT_STREQ(pi::to_string(pi::Nonlinearity::gelu_tanh), "gelu_tanh");
  EXPECT_STREQ(pi::to_string(pi::ScaleParameter::log_variance), "log_variance");
  EXPECT_STREQ(pi::to_string(pi::OrthogonalPath::cholesky_qr), "cholesky_qr");
}

TEST(Names, AliasesParseButAreNotPrinted) {
  EXPECT_EQ(pi::from_name<pi::Nonlinearity>("identity"), pi::Nonlinearity::linear);
  EXPECT_EQ(pi::from_name<pi::Nonlinearity>("swish"), pi::Nonlinearity::silu);
  EXPECT_EQ(pi::from_name<pi::Nonlinearity>("gelu_erf"), pi::Nonlinearity::gelu);
  try {
    (void)pi::from_name<pi::Nonlinearity>("Relu");
    ADD_FAILURE() << "names are case-sensitive";
  } catch (const pi::Error& e) {
    EXPECT_NE(std::string(e.what()).find("aliases: identity, swish, gelu_erf"), std::string::npos) << e.what();
  }
}

}  // namespace
