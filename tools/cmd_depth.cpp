// paraminit depth: the depth experiment (Goodfellow et al. 8.4). Deep stacks of dense layers
// initialized with each scheme; the activation and gradient std through depth as a table, and an
// SVG of the activation std against depth.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "paraminit/calibrate.hpp"
#include "paraminit/paraminit.hpp"
#include "report.hpp"

namespace paraminit_program {
namespace pi = paraminit;

const char* const kDepthUsage =
    "usage: paraminit depth [--layers-linear L] [--layers L] [--width N] [--batch B] [--seed S] [--svg FILE]\n"
    "\n"
    "The depth experiment (Goodfellow et al. 8.4): networks of L dense layers of width N (defaults: 1000\n"
    "linear layers; 200 tanh and 200 relu layers; N = 256) on a N(0, 1) minibatch of B = 128, initialized\n"
    "with each scheme; prints the activation and back-propagated gradient std at depths 1, 10, 100 and L,\n"
    "and writes an SVG of the activation std against depth (log scale), one line per scheme\n"
    "(default paraminit_depth.svg).\n";

namespace {

struct DepthScheme {
  const char* name;
  const char* color;
};
// Each size alone; what their product needs (layers x width^2 floats) is up to the memory.
constexpr std::int64_t kMaxSize = std::int64_t{1} << 20;

const DepthScheme kDepthSchemes[] = {
    {"U(-1/sqrt m, 1/sqrt m)", "#1f77b4"}, {"Glorot", "#ff7f0e"}, {"He", "#2ca02c"}, {"orthogonal, gain 1", "#d62728"},
    {"orthogonal, activation gain", "#9467bd"}, {"sparse k=15", "#8c564b"}, {"LSUV", "#e377c2"}, {"random-walk gain", "#7f7f7f"},
};

struct Group {
  const char* name;
  pi::Nonlinearity nl;
  std::int64_t L;
};

struct Curve {
  std::vector<double> act, grad;  // one std per layer
};

// The picture: one panel per network, log10 of the activation std against depth.
void write_svg(const std::string& svg, const Group (&groups)[3], const std::vector<std::vector<Curve>>& curves, std::int64_t width,
               std::int64_t batch) {
  std::ofstream f(svg);
  if (!f) throw std::runtime_error("cannot write " + svg);
  const double pw = 400, ph = 330, left = 60, top = 40, lo = -12, hi = 12;
  f << "<svg xmlns='http://www.w3.org/2000/svg' width='" << 3 * pw + 40 << "' height='" << ph + 150
    << "' font-family='sans-serif' font-size='12'>\n<rect width='100%' height='100%' fill='white'/>\n";
  f << "<text x='20' y='22' font-size='15'>paraminit depth: activation std against depth (log scale; width " << width << ", batch " << batch
    << "; values beyond 1e-12 .. 1e12 clipped)</text>\n";
  for (int gi = 0; gi < 3; ++gi) {
    const double x0 = 20 + gi * pw + left, w = pw - left - 20, y0 = top + 20, h = ph - 60;
    const auto L = static_cast<double>(groups[gi].L);
    f << "<text x='" << x0 << "' y='" << y0 - 6 << "' font-size='13'>" << groups[gi].name << " (" << groups[gi].L << " layers)</text>\n";
    f << "<rect x='" << x0 << "' y='" << y0 << "' width='" << w << "' height='" << h << "' fill='none' stroke='black'/>\n";
    for (int e = static_cast<int>(lo); e <= static_cast<int>(hi); e += 4) {
      const double y = y0 + h * (hi - e) / (hi - lo);
      f << "<line x1='" << x0 << "' x2='" << x0 + w << "' y1='" << y << "' y2='" << y << "' stroke='#ddd'/>"
        << "<text x='" << x0 - 8 << "' y='" << y + 4 << "' text-anchor='end'>1e" << e << "</text>\n";
    }
    for (int q = 0; q <= 4; ++q) {
      const double d = 1 + (L - 1) * q / 4.0, xx = x0 + w * (d - 1) / std::max(1.0, L - 1);
      f << "<text x='" << xx << "' y='" << y0 + h + 16 << "' text-anchor='middle'>" << static_cast<long long>(std::lround(d)) << "</text>\n";
    }
    f << "<text x='" << x0 + w / 2 << "' y='" << y0 + h + 32 << "' text-anchor='middle'>depth</text>\n";
    for (std::size_t si = 0; si < curves[static_cast<std::size_t>(gi)].size(); ++si) {
      f << "<polyline fill='none' stroke-width='1.6' stroke='" << kDepthSchemes[si].color << "' points='";
      const auto& a = curves[static_cast<std::size_t>(gi)][si].act;
      for (std::size_t d = 0; d < a.size(); ++d) {
        double e = a[d] > 0 && std::isfinite(a[d]) ? std::log10(a[d]) : (a[d] > 0 ? hi : lo);
        e = std::min(hi, std::max(lo, e));
        f << x0 + w * static_cast<double>(d) / std::max(1.0, L - 1) << "," << y0 + h * (hi - e) / (hi - lo) << " ";
      }
      f << "'/>\n";
    }
  }
  for (int si = 0; si < 8; ++si) {
    const double lx = 80 + (si % 4) * 300, ly = ph + 70 + (si / 4) * 22;
    f << "<line x1='" << lx << "' x2='" << lx + 30 << "' y1='" << ly << "' y2='" << ly << "' stroke-width='3' stroke='"
      << kDepthSchemes[si].color << "'/><text x='" << lx + 38 << "' y='" << ly + 4 << "'>" << kDepthSchemes[si].name << "</text>\n";
  }
  f << "</svg>\n";
}

}  // namespace

int cmd_depth(int argc, char** argv) {
  std::int64_t layers_linear = 1000, layers = 200, width = 256, batch = 128;
  std::uint64_t seed = 1;
  std::string svg = "paraminit_depth.svg";
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto next = [&] { return option_value(argc, argv, i); };
    if (k == "--help" || k == "-h") {
      std::fputs(kDepthUsage, stdout);
      return 0;
    } else if (k == "--layers-linear") layers_linear = int_value(k, next(), 1, kMaxSize);
    else if (k == "--layers") layers = int_value(k, next(), 1, kMaxSize);
    else if (k == "--width") width = int_value(k, next(), 2, kMaxSize);  // a single unit has no spread to measure
    else if (k == "--batch") batch = int_value(k, next(), 1, kMaxSize);
    else if (k == "--seed") seed = seed_value(k, next());
    else if (k == "--svg") svg = next();
    else throw std::invalid_argument("unknown option " + k);
  }
  pi::Context ctx = pi::Context::cpu();
  const Group groups[] = {{"linear", pi::Nonlinearity::linear, layers_linear},
                          {"tanh", pi::Nonlinearity::tanh, layers},
                          {"relu", pi::Nonlinearity::relu, layers}};
  std::vector<std::vector<Curve>> curves(3);
  const double t0 = now();
  std::vector<float> x(static_cast<std::size_t>(batch * width));
  pi::normal(ctx, pi::TensorView::of(x.data(), pi::DType::f32, {batch, width}), pi::Key{seed, pi::stream_for_name("depth.input")}, {0.0, 1.0});
  const pi::TensorView xv = pi::TensorView::of(x.data(), pi::DType::f32, {batch, width});
  for (int gi = 0; gi < 3; ++gi) {
    const Group& G = groups[gi];
    const double gain = pi::calculate_gain(G.nl);
    const double g_rw = pi::random_walk_gain(G.nl, width);
    print_depth_header(G.name, G.L, width, batch, gain, g_rw);
    std::vector<std::vector<float>> w(static_cast<std::size_t>(G.L), std::vector<float>(static_cast<std::size_t>(width * width)));
    std::vector<pi::DenseLayer> net(static_cast<std::size_t>(G.L));
    for (std::size_t l = 0; l < net.size(); ++l) {
      net[l].weight = pi::TensorView::of(w[l].data(), pi::DType::f32, {width, width});
      net[l].activation = G.nl;
    }
    for (int si = 0; si < 8; ++si) {
      for (std::size_t l = 0; l < net.size(); ++l) {
        const pi::Key k{seed, pi::batch_stream(pi::stream_for_name(std::string("depth.") + G.name), l)};
        const pi::TensorView& v = net[l].weight;
        switch (si) {
          case 0: pi::fan_in_uniform(ctx, v, k); break;
          case 1: pi::glorot_normal(ctx, v, k); break;
          case 2: {
            pi::HeOptions o;
            o.nonlinearity = pi::Nonlinearity::relu;
            pi::he_normal(ctx, v, k, o);
            break;
          }
          case 3: pi::orthogonal(ctx, v, k); break;
          case 4: pi::orthogonal(ctx, v, k, {gain}); break;
          case 5: {
            pi::SparseOptions o;
            o.nonzeros_per_unit = std::min<std::int64_t>(15, width);
            o.std = gain / std::sqrt(static_cast<double>(o.nonzeros_per_unit));
            pi::sparse(ctx, v, k, o);
            break;
          }
          case 6: break;  // LSUV: orthogonal pre-initialization inside calibrate_lsuv
          case 7: pi::normal(ctx, v, k, {0.0, g_rw / std::sqrt(static_cast<double>(width))}); break;
        }
      }
      if (si == 6) {
        pi::LsuvOptions o;
        o.orthogonalize_first = true;
        o.key = pi::Key{seed, pi::stream_for_name(std::string("depth.lsuv.") + G.name)};
        pi::calibrate_lsuv(ctx, net, xv, o);
      }
      pi::StatisticsOptions so;
      so.check_finite = false;
      so.gradient_key = pi::Key{seed, pi::stream_for_name("depth.gradient")};
      const auto st = pi::layer_statistics(ctx, net, xv, so);
      Curve c;
      for (const auto& s : st) c.act.push_back(s.activation.std), c.grad.push_back(s.gradient.std);
      print_depth_row(kDepthSchemes[si].name, c.act, c.grad);
      curves[static_cast<std::size_t>(gi)].push_back(std::move(c));
    }
  }
  write_svg(svg, groups, curves, width, batch);
  std::printf("\nwrote %s; %.1f s\n", svg.c_str(), now() - t0);
  return 0;
}

}  // namespace paraminit_program
