// The quadrature gains 1/sqrt(E[f(z)^2]), z ~ N(0, 1), against independent references: closed forms
// evaluated here with std::erfc (relu, leaky_relu, elu, celu, selu, hardtanh, relu6, linear) and
// 40-digit mpmath integrals (tools/gain_references.py, printed into the table below) for the rest.
// Requirement: within 1e-6; the quadrature is in fact within ~1e-13.
#include <gtest/gtest.h>

#include <cmath>

#include "paraminit/paraminit.hpp"

namespace {
namespace pi = paraminit;
using pi::Nonlinearity;

double Phi(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }
double phi(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI); }
// int_{-inf}^0 (exp(z / a) - 1)^2 phi(z) dz, by int_{-inf}^0 e^{t z} phi(z) dz = e^{t^2 / 2} Phi(-t).
double neg_expm1_sq(double a) {
  const double t1 = 1 / a, t2 = 2 / a;
  return std::exp(t2 * t2 / 2) * Phi(-t2) - 2 * std::exp(t1 * t1 / 2) * Phi(-t1) + 0.5;
}
double gain_of(double second_moment) { return 1 / std::sqrt(second_moment); }

constexpr double kTol = 1e-6;  // the requirement
constexpr double kTight = 1e-12;  // what the 20-point composite rule achieves

TEST(QuadratureGain, ClosedForms) {
  EXPECT_NEAR(pi::quadrature_gain(Nonlinearity::relu), std::sqrt(2.0), kTight);  // E = 1/2
  EXPECT_NEAR(pi::quadrature_gain(Nonlinearity::linear), 1.0, kTight);
  for (double s : {0.01, 0.2, -0.5})  // E = (1 + s^2) / 2
    EXPECT_NEAR(pi::quadrature_gain(Nonlinearity::leaky_relu, s), gain_of((1 + s * s) / 2), kTight) << s;
  EXPECT_NEAR(pi::quadrature_gain(Nonlinearity::elu), gain_of(0.5 + neg_expm1_sq(1.0)), kTight);
  EXPECT_NEAR(pi::quadrature_gain(Nonlinearity::elu, 0.5), gain_of(0.5 + 0.25 * (std::exp(2.0) * Phi(-2) - 2 * std::exp(0.5) * Phi(-1) + 0.5)), kTight);
  for (double a : {1.0, 2.0, 0.7})  // celu(x) = alpha expm1(x / alpha) below 0
    EXPECT_NEAR(pi::quadrature_gain(Nonlinearity::celu, a), gain_of(0.5 + a * a * neg_expm1_sq(a)), kTight) << a;
  const double lambda = 1.0507009873554804934, alpha = 1.6732632423543772848;
  EXPECT_NEAR(pi::quadrature_gain(Nonlinearity::selu), gain_of(lambda * lambda * (0.5 + alpha * alpha * neg_expm1_sq(1.0))), kTight);
  // hardtanh: int_{-1}^{1} z^2 phi + 2 Q(1) = 1 - 2 phi(1).
  EXPECT_NEAR(pi::quadrature_gain(Nonlinearity::hardtanh), gain_of(1 - 2 * phi(1)), kTight);
  // relu6: [Phi(z) - z phi(z)]_0^6 + 36 Q(6).
  EXPECT_NEAR(pi::quadrature_gain(Nonlinearity::relu6), gain_of(Phi(6) - 6 * phi(6) - 0.5 + 36 * (1 - Phi(6))), kTight);
}

TEST(QuadratureGain, HighPrecisionIntegrals) {
  struct Ref {
    const char* name;
    double second_moment, gain;  // mpmath, 40 digits, printed by tools/gain_references.py
  };
  const Ref refs[] = {
      {"sigmoid", 0.29337903585809296274, 1.846228545338605413},
      {"tanh", 0.39429449039784117442, 1.5925374197228314278},
      {"elu", 0.64494541749292386306, 1.2451983007007065503},
      {"gelu", 0.42522148257029867492, 1.5335304411955352338},
      {"gelu_tanh", 0.4251937110330994512, 1.5335805216661469181},
      {"silu", 0.35577551981735215623, 1.6765324703310911586},
      {"mish", 0.45234219237588277068, 1.486847581273208102},
      {"softplus", 0.92124590885930027868, 1.041866835535301708},
      {"softsign", 0.18301402126654749909, 2.3375333631085396599},
      {"hardswish", 0.33156737513790769459, 1.7366572127665416197},
      {"hardsigmoid", 0.27763909105651259637, 1.8978404247295589879},
  };
  for (const Ref& r : refs) {
    const double g = pi::quadrature_gain(pi::from_name<pi::Nonlinearity>(r.name));
    EXPECT_NEAR(g, r.gain, kTol) << r.name;
    EXPECT_NEAR(g, r.gain, kTight) << r.name;
  }
  // tanh's computed gain beside PyTorch's 5/3 (documented in paraminit.hpp).
  EXPECT_NEAR(pi::quadrature_gain(Nonlinearity::tanh), 1.59254, 5e-6);
  EXPECT_EQ(pi::calculate_gain(Nonlinearity::tanh), 5.0 / 3);
  // Beyond PyTorch's table calculate_gain is the quadrature gain.
  EXPECT_EQ(pi::calculate_gain(Nonlinearity::gelu), pi::quadrature_gain(Nonlinearity::gelu));
}

}  // namespace
