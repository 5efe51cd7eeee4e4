// paraminit init: every parameter of a model spec (JSON; tools/default_spec.json is built in)
// straight into a safetensors file (CPU: slab by slab through cache-sized buffers, written while the
// next slab fills; CUDA: copied into the mapped file), one row per parameter with
// its measured mean and std against the scheme's expected std.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.hpp"
#include "commands.hpp"
#include "paraminit/paraminit.hpp"
#include "paraminit/safetensors.hpp"
#include "report.hpp"
#include "spec.hpp"

namespace paraminit_program {
namespace pi = paraminit;

const char* const kInitUsage =
    "usage: paraminit init [--spec FILE] [--out FILE] [--device auto|cpu|cuda] [--seed N]\n"
    "                      [--from FILE] [--world-size W --rank R] [--compare-fills]\n"
    "                      [--compare-write] [--quiet]\n"
    "\n"
    "Initializes every parameter of a model spec into a safetensors file and prints one row per\n"
    "parameter: name, shape, dtype, scheme, measured mean and std, the scheme's expected std, whether\n"
    "the measured std is within its sampling bound (5 sigma), and the time.\n"
    "  --spec FILE       JSON spec (default: the built-in GPT-2-small + conv net + LSTM, tools/default_spec.json)\n"
    "  --out FILE        output (default paraminit_model.safetensors)\n"
    "  --device D        auto (CUDA if a GPU is visible), cpu or cuda\n"
    "  --seed N          overrides the spec's seed; parameter `name` uses key_for(seed, name)\n"
    "  --from FILE       copy parameters found there by name with the same shape (dtype converted)\n"
    "  --world-size W --rank R   write only rank R's shard of each parameter with a shard_dim\n"
    "  --compare-fills   also time the fills alone into reused memory, and print total / fills\n"
    "  --compare-write   also time one sequential pwrite() of a ready buffer of the file's size to the\n"
    "                    same directory, with the same fsync (the limit), and print total / pwrite\n"
    "  --quiet           no rows, only the summary\n"
    "Exit status: 0 ok, 1 error, 2 usage, 3 a measured std outside its bound.\n";

namespace {

#include "default_spec.inc"  // kDefaultSpec: tools/default_spec.json as a raw string (CMakeLists.txt)

struct InitArgs {
  std::string spec, out = "paraminit_model.safetensors", device = "auto", from;
  bool seed_given = false, compare = false, compare_write = false, quiet = false, help = false;
  std::uint64_t seed = 0;
  int world = 1, rank = 0;
};

// Shard bounds are extent x rank / world in 64 bits: any int world is safe; 2^20 ranks is plenty.
constexpr std::int64_t kMaxWorld = std::int64_t{1} << 20;

InitArgs parse_args(int argc, char** argv) {
  InitArgs a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto next = [&] { return option_value(argc, argv, i); };
    if (k == "--help" || k == "-h") {
      a.help = true;
      return a;
    } else if (k == "--spec") a.spec = next();
    else if (k == "--out") a.out = next();
    else if (k == "--device") a.device = device_value(next());
    else if (k == "--from") a.from = next();
    else if (k == "--seed") a.seed = seed_value(k, next()), a.seed_given = true;
    else if (k == "--world-size") a.world = static_cast<int>(int_value(k, next(), 1, kMaxWorld));
    else if (k == "--rank") a.rank = static_cast<int>(int_value(k, next(), 0, kMaxWorld - 1));
    else if (k == "--compare-fills") a.compare = true;
    else if (k == "--compare-write") a.compare_write = true;
    else if (k == "--quiet") a.quiet = true;
    else throw std::invalid_argument("unknown option " + k);
  }
  if (a.rank >= a.world) throw std::invalid_argument("--rank must be in [0, --world-size)");
  return a;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// One parameter as this rank writes it: its local (shard) shape and the whole's expected statistics.
struct Plan {
  const Param* p;
  std::vector<std::int64_t> local;
  std::int64_t start = 0;
  bool sharded = false;
  Expect expect;

  std::uint64_t numel() const {
    std::uint64_t n = 1;
    for (auto e : local) n *= static_cast<std::uint64_t>(e);
    return n;
  }
  std::size_t bytes() const { return static_cast<std::size_t>(numel() * pi::dtype_size(p->dtype)); }
  // The view of the local part at data, as a window of the whole when sharded (the values depend on
  // the global position, so shards concatenate to the unsharded parameter).
  pi::TensorView view(void* data) const {
    pi::TensorView v = pi::TensorView::of(data, p->dtype, {});
    v.rank = static_cast<int>(local.size());
    for (int d = 0; d < v.rank; ++d) v.shape[d] = local[static_cast<std::size_t>(d)];
    if (sharded) v = v.window(p->shard_dim, start, p->shape[static_cast<std::size_t>(p->shard_dim)]);
    return v;
  }
};

// Every parameter's plan, the file's declarations and metadata; every option is checked here,
// before anything is written.
std::vector<Plan> make_plan(const Spec& spec, const InitArgs& a, std::vector<pi::SafetensorsWriter::Decl>& decls,
                            std::map<std::string, std::string>& meta) {
  std::vector<Plan> plan;
  meta = {{"paraminit.seed", std::to_string(spec.seed)}, {"paraminit.spec", spec.origin}};
  if (a.world > 1) meta["paraminit.world_size"] = std::to_string(a.world), meta["paraminit.rank"] = std::to_string(a.rank);
  for (const Param& p : spec.params) {
    Plan pl{&p, p.shape, 0, false, {}};
    if (a.world > 1 && p.shard_dim >= 0) {
      const std::int64_t e = p.shape[static_cast<std::size_t>(p.shard_dim)];
      pl.start = e * a.rank / a.world;
      pl.local[static_cast<std::size_t>(p.shard_dim)] = e * (a.rank + 1) / a.world - pl.start;
      pl.sharded = true;
      meta["paraminit.shard:" + p.name] = "dim=" + std::to_string(p.shard_dim) + " start=" + std::to_string(pl.start) +
                                          " global=" + std::to_string(e);
    }
    pi::TensorView g = pi::TensorView::of(nullptr, p.dtype, {});
    g.rank = static_cast<int>(p.shape.size());
    for (int d = 0; d < g.rank; ++d) g.shape[d] = p.shape[static_cast<std::size_t>(d)];
    try {
      pl.expect = expected(spec, p, g, pl.sharded);
    } catch (const pi::Error& e) {  // e.g. a fan-based scheme on a rank-1 shape
      spec_fail(spec, p.name, "", e.what());
    }
    decls.push_back({p.name, p.dtype, pl.local});
    plan.push_back(std::move(pl));
  }
  return plan;
}

// --compare-fills: the fills alone, into one reused buffer that is already faulted in (CPU).
double fills_alone(pi::Context& ctx, bool cuda, const Spec& spec, const std::vector<Plan>& plan) {
  std::vector<unsigned char> scratch;
  double fills = 0;
  for (const Plan& pl : plan) {
    const std::size_t bytes = pl.bytes();
    if (scratch.size() < bytes + 64) scratch.assign(bytes + 64, 0);
    DeviceMem dev(cuda ? bytes : 0);
    const pi::TensorView v = pl.view(cuda ? dev.p : scratch.data());
    const double t0 = now();
    apply(ctx, v, pi::key_for(spec.seed, pl.p->name), spec, *pl.p);
#if defined(PARAMINIT_WITH_CUDA)
    if (cuda) cudaDeviceSynchronize();
#endif
    fills += now() - t0;
  }
  return fills;
}

// --compare-write: the file system's limit for the same bytes. One pwrite() (looped only where the
// kernel writes less) of a buffer already faulted in, into a new file beside the output, then the
// fsync the writer does too; the file is removed. The median of three.
double pwrite_limit(const std::string& out, std::uint64_t bytes) {
  const std::size_t slash = out.find_last_of('/');
  std::string tmpl = (slash == std::string::npos ? std::string(".") : out.substr(0, slash)) + "/.paraminit-pwrite-XXXXXX";
  const std::vector<unsigned char> buf(static_cast<std::size_t>(bytes), 0x5a);  // written once: faulted in
  std::vector<double> t;
  for (int rep = 0; rep < 3; ++rep) {
    std::vector<char> name(tmpl.begin(), tmpl.end());
    name.push_back('\0');
    const int fd = ::mkstemp(name.data());
    if (fd < 0) throw std::runtime_error(std::string("--compare-write: mkstemp in the output's directory: ") + std::strerror(errno));
    const double t0 = now();
    std::uint64_t done = 0;
    int err = 0;
    while (done < bytes && err == 0) {
      const ssize_t put = ::pwrite(fd, buf.data() + done, static_cast<std::size_t>(bytes - done), static_cast<off_t>(done));
      if (put > 0) done += static_cast<std::uint64_t>(put);
      else if (put < 0 && errno != EINTR) err = errno;
      else if (put == 0) err = EIO;
    }
    if (err == 0 && ::fsync(fd) != 0) err = errno;
    t.push_back(now() - t0);
    ::close(fd);
    ::unlink(name.data());
    if (err != 0) throw std::runtime_error(std::string("--compare-write: pwrite of ") + std::to_string(bytes) + " bytes: " + std::strerror(err));
  }
  std::sort(t.begin(), t.end());
  return t[1];
}

// CPU output: each parameter is filled into small buffers that stay in cache, its statistics summed
// while they are hot, and the buffers written (pwrite, into the page cache) by a second thread while
// the next one fills. Filling in place in the mapped file instead makes the kernel zero every page
// cache page at its first fault before the fill writes it: a third pass over the bytes that
// pwrite() of full pages does not make.
class SlabWriter {
 public:
  // A slab gives each of the pool's threads one of the library's CPU tasks (2^16 elements,
  // host/cpu_fill.hpp: 256 KiB of f32, inside a core's L2), so a slab fills on every thread.
  static constexpr std::size_t kElemsPerThread = std::size_t{1} << 16;
  static constexpr int kSlots = 4;

  SlabWriter(pi::SafetensorsWriter& w, int threads)
      : w_(w), elems_(kElemsPerThread * static_cast<std::size_t>(std::max(1, threads))) {
    for (auto& b : slots_) b.resize(capacity());
    thread_ = std::thread([this] { run(); });
  }
  std::size_t elems() const { return elems_; }                   ///< a slab's elements, any dtype
  std::size_t capacity() const { return elems_ * sizeof(double); }  ///< a buffer's bytes: a slab of the widest dtype
  ~SlabWriter() { stop(); }
  SlabWriter(const SlabWriter&) = delete;
  SlabWriter& operator=(const SlabWriter&) = delete;

  /// A free buffer of capacity() bytes (waits for the writer to finish one).
  unsigned char* acquire() {
    std::unique_lock<std::mutex> lk(m_);
    cv_.wait(lk, [&] { return free_mask_ != 0 || error_; });
    rethrow(lk);
    const int i = __builtin_ctz(free_mask_);
    free_mask_ &= ~(1u << i);
    return slots_[static_cast<std::size_t>(i)].data();
  }
  /// Queues bytes [offset, offset + n) of tensor *name (kept alive by the caller until drain()) at
  /// data: a buffer from acquire() (free again once written) or memory kept until drain().
  void submit(const std::string* name, std::uint64_t offset, const unsigned char* data, std::size_t n) {
    std::unique_lock<std::mutex> lk(m_);
    rethrow(lk);
    jobs_.push_back({name, offset, data, n});
    cv_.notify_all();
  }
  /// Waits until everything queued is written.
  void drain() {
    std::unique_lock<std::mutex> lk(m_);
    cv_.wait(lk, [&] { return (jobs_.empty() && !busy_) || error_; });
    rethrow(lk);
  }
  /// Ends the writer thread (terminal: nothing may be acquired or submitted after it); what is still
  /// queued is dropped, so call drain() first to write it.
  void stop() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_ = true;
      jobs_.clear();  // after drain() there are none; after an error, nothing more is written
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct Job {
    const std::string* name;
    std::uint64_t offset;
    const unsigned char* data;
    std::size_t n;
  };
  void rethrow(std::unique_lock<std::mutex>& lk) {
    if (!error_) return;
    std::exception_ptr e = error_;
    lk.unlock();
    std::rethrow_exception(e);
  }
  void run() {
    std::unique_lock<std::mutex> lk(m_);
    for (;;) {
      cv_.wait(lk, [&] { return !jobs_.empty() || stop_; });
      if (jobs_.empty() || error_) return;  // stopped (an error leaves the rest unwritten)
      const Job j = jobs_.front();
      jobs_.pop_front();
      busy_ = true;
      lk.unlock();
      std::exception_ptr err;
      try {
        w_.write_part(*j.name, j.offset, j.data, j.n);
      } catch (...) {
        err = std::current_exception();
      }
      lk.lock();
      busy_ = false;
      for (int i = 0; i < kSlots; ++i)
        if (j.data == slots_[static_cast<std::size_t>(i)].data()) free_mask_ |= 1u << i;
      if (err) error_ = err;
      cv_.notify_all();
    }
  }

  pi::SafetensorsWriter& w_;
  std::size_t elems_;
  std::array<std::vector<unsigned char>, kSlots> slots_;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  unsigned free_mask_ = (1u << kSlots) - 1;
  bool busy_ = false, stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

// One parameter on the CPU through `slabs`; returns its statistics and sets *fill_s to the seconds
// of the fills and copies alone (not the waits for the writer). A parameter that fits one buffer is
// filled (or read from `from`) whole into it; a larger one window of rows by window of rows, where
// its values there do not depend on the rest (element-wise schemes, copies) and the rows are whole
// rows of the file (unsharded, or sharded along dim 0); anything else whole into `whole`.
Stats cpu_param(pi::Context& ctx, SlabWriter& slabs, std::unique_ptr<unsigned char[]>& whole, std::size_t& whole_bytes,
                const Spec& spec, const Plan& pl, pi::SafetensorsReader* from, bool copy, double* fill_s) {
  const Param& p = *pl.p;
  const std::size_t bytes = pl.bytes();
  const std::uint64_t n = pl.numel();
  const pi::Key key = pi::key_for(spec.seed, p.name);
  StatsSums sums;
  *fill_s = 0;
  auto fill = [&](const pi::TensorView& v) {
    const double t0 = now();
    if (copy) from->read(ctx, p.name, v);
    else apply(ctx, v, key, spec, p);
    *fill_s += now() - t0;
  };
  if (bytes <= slabs.capacity()) {
    unsigned char* buf = slabs.acquire();
    fill(pl.view(bytes > 0 ? buf : nullptr));
    sums.add(buf, p.dtype, n);
    slabs.submit(&p.name, 0, buf, bytes);
    return sums.result();
  }
  const std::int64_t rows = pl.local[0];  // > 0: the parameter is not empty
  const std::size_t row_bytes = bytes / static_cast<std::size_t>(rows);
  const std::size_t slab_bytes = slabs.elems() * pi::dtype_size(p.dtype);
  if ((copy || scheme_is_elementwise(p.scheme)) && (!pl.sharded || p.shard_dim == 0) && row_bytes <= slab_bytes) {
    const std::int64_t step = static_cast<std::int64_t>(slab_bytes / row_bytes);
    const std::int64_t first = pl.sharded ? pl.start : 0;  // the window's first row in the whole
    for (std::int64_t r0 = 0; r0 < rows; r0 += step) {
      const std::int64_t r = std::min(step, rows - r0);
      unsigned char* buf = slabs.acquire();
      pi::TensorView v = pi::TensorView::of(buf, p.dtype, {});
      v.rank = static_cast<int>(pl.local.size());
      for (int d = 0; d < v.rank; ++d) v.shape[d] = pl.local[static_cast<std::size_t>(d)];
      v.shape[0] = r;
      fill(v.window(0, first + r0, p.shape[0]));
      sums.add(buf, p.dtype, n / static_cast<std::uint64_t>(rows) * static_cast<std::uint64_t>(r));
      slabs.submit(&p.name, static_cast<std::uint64_t>(r0) * row_bytes, buf, static_cast<std::size_t>(r) * row_bytes);
    }
    return sums.result();
  }
  slabs.drain();  // `whole` is free again
  if (whole_bytes < bytes) whole.reset(new unsigned char[bytes]), whole_bytes = bytes;
  fill(pl.view(whole.get()));
  sums.add(whole.get(), p.dtype, n);
  for (std::size_t off = 0; off < bytes; off += slab_bytes)
    slabs.submit(&p.name, off, whole.get() + off, std::min(bytes - off, slab_bytes));
  return sums.result();
}

}  // namespace

int cmd_init(int argc, char** argv) {
  const InitArgs a = parse_args(argc, argv);
  if (a.help) {
    std::fputs(kInitUsage, stdout);
    return 0;
  }
  Spec spec = a.spec.empty() ? parse_spec(kDefaultSpec, "default spec") : parse_spec(read_file(a.spec), a.spec);
  if (a.seed_given) spec.seed = a.seed;
  const bool cuda = a.device == "cuda" || (a.device == "auto" && pi::cuda_device_count() > 0);
  pi::Context ctx = cuda ? pi::Context::cuda(0) : pi::Context::cpu();
  std::unique_ptr<pi::SafetensorsReader> from;
  if (!a.from.empty()) from = std::make_unique<pi::SafetensorsReader>(pi::SafetensorsReader::open(a.from));
  std::vector<pi::SafetensorsWriter::Decl> decls;
  std::map<std::string, std::string> meta;
  const std::vector<Plan> plan = make_plan(spec, a, decls, meta);

  const double t_start = now();
  std::vector<std::string> taken, mismatched, failed;
  double fill_seconds = 0;
  std::uint64_t elems = 0, bytes_total = 0;
  const Progress progress(!a.quiet);
  try {
    pi::SafetensorsWriter w(a.out, decls, meta);
    std::unique_ptr<unsigned char[]> whole;  // outlives `slabs`, whose queue may point into it
    std::size_t whole_bytes = 0;
    std::unique_ptr<SlabWriter> slabs = cuda ? nullptr : std::make_unique<SlabWriter>(w, ctx.threads());
    if (!a.quiet) print_init_header();
    for (std::size_t i = 0; i < plan.size(); ++i) {
      const Plan& pl = plan[i];
      const Param& p = *pl.p;
      progress.step(i + 1, plan.size(), p.name);
      const std::uint64_t n = pl.numel();
      const std::size_t bytes = pl.bytes();
      bool copied = false;
      if (from != nullptr) {
        if (const pi::SafetensorsTensor* t = from->find(p.name)) {
          if (t->shape == p.shape && t->readable) {
            taken.push_back(p.name);
            copied = true;
          } else {
            mismatched.push_back(p.name + " (file " + t->dtype_name + " " + shape_text(t->shape) + ", spec " + shape_text(p.shape) + ")");
          }
        }
      }
      double dt = 0;
      Stats s;
      if (slabs != nullptr) {
        s = cpu_param(ctx, *slabs, whole, whole_bytes, spec, pl, from.get(), copied, &dt);
      } else {  // CUDA: filled on the device, copied into the mapped file
        void* host = w.map(p.name);
        DeviceMem dev(bytes);
        const pi::TensorView v = pl.view(dev.p);
        const double t0 = now();
        if (copied) from->read(ctx, p.name, v);
        else apply(ctx, v, pi::key_for(spec.seed, p.name), spec, p);
        to_host(host, dev.p, bytes);
        dt = now() - t0;
        if (host != nullptr) s = host_stats(host, p.dtype, n);
      }
      fill_seconds += dt;
      elems += n;
      bytes_total += bytes;
      double bound = 0;
      const bool check = pl.expect.known && !copied && n > 1;
      const bool ok = !check || within(pl.expect, s, p.dtype, &bound);
      if (!ok) failed.push_back(p.name);
      if (!a.quiet)
        print_init_row(p.name, pl.local, p.dtype, copied ? "(from file)" : p.scheme, s, pl.expect.known && !copied ? &pl.expect.std : nullptr,
                       !check ? "-" : ok ? "yes" : "NO", dt);
    }
    if (slabs != nullptr) slabs->drain(), slabs->stop();
    progress.clear();
    w.close();
  } catch (...) {
    progress.abandon();
    throw;  // the writer removes its temporary file: no half-written model file, the old one kept
  }
  const double total = now() - t_start;
  print_init_summary(plan.size(), elems, bytes_total, a.out, cuda, a.world, a.rank, total, fill_seconds);
  if (from != nullptr) {
    std::size_t unused = 0;
    for (const auto& t : from->tensors())
      if (std::none_of(spec.params.begin(), spec.params.end(), [&](const Param& p) { return p.name == t.name; })) ++unused;
    print_from_report(a.from, taken.size(), plan.size() - taken.size(), mismatched, unused);
  }
  if (a.compare) print_fills_alone(fills_alone(ctx, cuda, spec, plan), total);
  if (a.compare_write) {
    struct stat st {};
    if (::stat(a.out.c_str(), &st) != 0) throw std::runtime_error("--compare-write: stat " + a.out + ": " + std::strerror(errno));
    print_write_limit(static_cast<std::uint64_t>(st.st_size), pwrite_limit(a.out, static_cast<std::uint64_t>(st.st_size)), total);
  }
  if (!failed.empty()) {
    print_failed(failed);
    return 3;
  }
  return 0;
}

}  // namespace paraminit_program
