// seqnet_bench: trains and runs one benchmark configuration with seqnet and prints ONE JSON line.
//
//   seqnet_bench --config emb_lstm --threads 1 --seconds 5     training and inference samples/s
//   seqnet_bench --gemm --threads 1 --seconds 2                Eigen's SGEMM rate and the FMA peak
//   seqnet_bench --kernels --seconds 1                         the recurrent kernel against Eigen's GEMM
//
// The configurations are those of bench/torch_bench.py (see bench/README.md). Training runs
// train_on_batch on synthetic batches of 64 (seeded token ids, 0/1 labels); inference runs predict on
// batches of 256. Each phase has a short warm-up, then runs for about --seconds.

#include <seqnet/detail/gemm_kernel.hpp>
#include <seqnet/detail/projection.hpp>
#include <seqnet/layers/bidirectional.hpp>
#include <seqnet/layers/dense.hpp>
#include <seqnet/layers/embedding.hpp>
#include <seqnet/layers/gru.hpp>
#include <seqnet/layers/lstm.hpp>
#include <seqnet/layers/simple_rnn.hpp>
#include <seqnet/model/sequential.hpp>
#include <seqnet/optim/adam.hpp>
#include <seqnet/optim/rmsprop.hpp>

#include <Eigen/Core>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string config;
  int threads = 1;
  double seconds = 5.0;
  long batch = 64;
  long infer_batch = 256;
  int warmup = 3;
  unsigned long long seed = 42;
  bool gemm = false;
  bool kernels = false;
  std::string phase = "both";   // train, infer or both (one phase alone, for profiling)
  bool flush_denormals = true;  // the library's default (SequentialOptions::flush_denormals)
};

[[noreturn]] void usage(const char* msg) {
  std::fprintf(stderr,
               "seqnet_bench: %s\n"
               "usage: seqnet_bench --config NAME [--threads N] [--seconds S] [--batch B] [--infer-batch B]\n"
               "                    [--warmup K] [--seed S] [--phase train|infer|both] [--flush-denormals on|off]\n"
               "       seqnet_bench --gemm [--threads N] [--seconds S]\n"
               "       seqnet_bench --kernels [--seconds S]\n"
               "configs: onehot_rnn emb_rnn emb_lstm emb_lstm2 emb_gru big_lstm big_bilstm\n",
               msg);
  std::exit(2);
}

long parse_long(const char* flag, const char* text, long lo) {
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < lo)
    usage((std::string(flag) + " needs an integer >= " + std::to_string(lo)).c_str());
  return v;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage((a + " needs a value").c_str());
      return argv[++i];
    };
    if (a == "--config") {
      o.config = value();
    } else if (a == "--threads") {
      o.threads = static_cast<int>(parse_long("--threads", value(), 1));
    } else if (a == "--seconds") {
      const char* t = value();
      char* end = nullptr;
      o.seconds = std::strtod(t, &end);
      if (end == t || *end != '\0' || !(o.seconds > 0)) usage("--seconds needs a positive number");
    } else if (a == "--batch") {
      o.batch = parse_long("--batch", value(), 1);
    } else if (a == "--infer-batch") {
      o.infer_batch = parse_long("--infer-batch", value(), 1);
    } else if (a == "--warmup") {
      o.warmup = static_cast<int>(parse_long("--warmup", value(), 0));
    } else if (a == "--seed") {
      o.seed = static_cast<unsigned long long>(parse_long("--seed", value(), 0));
    } else if (a == "--phase") {
      o.phase = value();
      if (o.phase != "train" && o.phase != "infer" && o.phase != "both") usage("--phase is train, infer or both");
    } else if (a == "--flush-denormals") {
      const std::string v = value();
      if (v != "on" && v != "off") usage("--flush-denormals is on or off");
      o.flush_denormals = v == "on";
    } else if (a == "--gemm") {
      o.gemm = true;
    } else if (a == "--kernels") {
      o.kernels = true;
    } else if (a == "--help" || a == "-h") {
      usage("help");
    } else {
      usage(("unknown argument '" + a + "'").c_str());
    }
  }
  if (!o.gemm && !o.kernels && o.config.empty()) usage("--config, --gemm or --kernels is required");
  return o;
}

double peak_rss_mb() {
  struct rusage ru;
  std::memset(&ru, 0, sizeof ru);
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // kilobytes on Linux
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

/// What timed_loop measured: calls per second, the number of calls, and the fastest tenth and the median of
/// the single calls' times in microseconds (the quantiles show the code's own speed when the host slows
/// the machine down for a while: a slow spell moves the rate, and the median only if it lasts half the run).
struct LoopRate {
  double per_s = 0.0;
  long calls = 0;
  double p10_us = 0.0, p50_us = 0.0;
};

/// Runs step(i) `warmup` times, then until `seconds` have passed.
LoopRate timed_loop(const std::function<void(long)>& step, int warmup, double seconds,
                    const std::function<void()>& after_warmup = {}) {
  for (int i = 0; i < warmup; ++i) step(i);
  if (after_warmup) after_warmup();
  std::vector<double> call_us;
  const auto t0 = Clock::now();
  double elapsed = 0;
  do {
    const auto begin = Clock::now();
    step(static_cast<long>(call_us.size()));
    const auto end = Clock::now();
    // A call's own time only: the vector's occasional regrowth here lands in the rate, not in a call.
    call_us.push_back(std::chrono::duration<double, std::micro>(end - begin).count());
    elapsed = std::chrono::duration<double>(end - t0).count();
  } while (elapsed < seconds);
  LoopRate r;
  r.calls = static_cast<long>(call_us.size());
  r.per_s = static_cast<double>(r.calls) / elapsed;
  const auto quantile = [&](std::size_t num, std::size_t den) {
    auto at = call_us.begin() + static_cast<std::ptrdiff_t>(call_us.size() * num / den);
    std::nth_element(call_us.begin(), at, call_us.end());
    return *at;
  };
  r.p10_us = quantile(1, 10);
  r.p50_us = quantile(1, 2);
  return r;
}

// ---- --gemm: the machine's reference rates ---------------------------------------------------------

/// C = A B with the columns of B and C split over `threads` std::threads (Eigen itself is built without
/// OpenMP here, so each block is a single-threaded Eigen GEMM). Returns GFLOP/s.
double gemm_rate(Eigen::Index m, Eigen::Index k, Eigen::Index n, int threads, double seconds) {
  using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic>;
  const Mat A = Mat::Random(m, k), B = Mat::Random(k, n);
  Mat C = Mat::Zero(m, n);
  auto run = [&](long) {
    if (threads == 1) {
      C.noalias() = A * B;
      return;
    }
    std::vector<std::thread> pool;
    const Eigen::Index per = (n + threads - 1) / threads;
    for (int t = 0; t < threads; ++t) {
      const Eigen::Index c0 = std::min(n, t * per), c1 = std::min(n, c0 + per);
      if (c1 > c0)
        pool.emplace_back([&, c0, c1] { C.middleCols(c0, c1 - c0).noalias() = A * B.middleCols(c0, c1 - c0); });
    }
    for (auto& th : pool) th.join();
  };
  // The best of 5 blocks: the machine is shared, and this is a reference for what Eigen can reach.
  double best = 0;
  for (int blk = 0; blk < 5; ++blk) best = std::max(best, timed_loop(run, blk == 0 ? 2 : 0, seconds / 5).per_s);
  volatile float sink = C(0, 0);
  (void)sink;
  return best * 2.0 * static_cast<double>(m) * static_cast<double>(k) * static_cast<double>(n) * 1e-9;
}

double fma_rate(int threads, double seconds) {
  using Packet = Eigen::internal::packet_traits<float>::type;
  constexpr int kAcc = 12;
  constexpr long kInner = 1L << 20;
  const int lanes = Eigen::internal::packet_traits<float>::size;
  auto worker = [&](long& iters, float& out) {
    Packet acc[kAcc];
    for (int j = 0; j < kAcc; ++j) acc[j] = Eigen::internal::pset1<Packet>(0.001f * static_cast<float>(j));
    const Packet mul = Eigen::internal::pset1<Packet>(0.999999f), add = Eigen::internal::pset1<Packet>(1e-7f);
    const auto t0 = Clock::now();
    iters = 0;
    do {
      for (long i = 0; i < kInner; ++i)
        for (int j = 0; j < kAcc; ++j) acc[j] = Eigen::internal::pmadd(acc[j], mul, add);
      iters += kInner;
    } while (seconds_since(t0) < seconds);
    float s = 0;
    for (int j = 0; j < kAcc; ++j) s += Eigen::internal::predux(acc[j]);
    out = s;
  };
  std::vector<long> iters(static_cast<std::size_t>(threads));
  std::vector<float> outs(static_cast<std::size_t>(threads));
  const auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back(worker, std::ref(iters[static_cast<std::size_t>(t)]),
                      std::ref(outs[static_cast<std::size_t>(t)]));
  for (auto& th : pool) th.join();
  const double elapsed = seconds_since(t0);
  double flops = 0;
  for (long it : iters) flops += static_cast<double>(it) * kAcc * lanes * 2.0;
  volatile float sink = outs[0];
  (void)sink;
  return flops / elapsed * 1e-9;
}

/// Multiply-add throughput of the widest SIMD packet Eigen uses with the current flags (AVX-512 with
/// -march=native here), 12 independent accumulators per thread (more than FMA latency x throughput).
/// Returns GFLOP/s over all threads, the best of 5 blocks.
double fma_peak(int threads, double seconds) {
  double best = 0;
  for (int blk = 0; blk < 5; ++blk) best = std::max(best, fma_rate(threads, seconds / 5));
  return best;
}

int run_gemm(const Options& o) {
  const double s = o.seconds;
  const double g1024 = gemm_rate(1024, 1024, 1024, o.threads, s);
  // The shapes of big_lstm: the recurrent product of one step (B x H times H x 4H, B = 64 split over the
  // threads) and the input projection of all 200 steps at once ((T*B) x D times D x 4H).
  const double gstep = gemm_rate(64 / o.threads, 128, 512, 1, s);
  const double gproj = gemm_rate(200 * 64, 128, 512, o.threads, s);
  const double peak = fma_peak(o.threads, s);
  std::printf(
      "{\"framework\": \"eigen\", \"mode\": \"gemm\", \"threads\": %d, \"eigen_version\": \"%d.%d.%d\", "
      "\"simd\": \"%s\", \"packet_floats\": %d, \"gemm_1024_gflops\": %.2f, \"gemm_step_gflops\": %.2f, "
      "\"gemm_step_shape\": \"%dx128x512\", \"gemm_proj_gflops\": %.2f, \"gemm_proj_shape\": \"12800x128x512\", "
      "\"fma_peak_gflops\": %.2f, \"peak_rss_mb\": %.1f}\n",
      o.threads, EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION, EIGEN_MINOR_VERSION, Eigen::SimdInstructionSetsInUse(),
      Eigen::internal::packet_traits<float>::size, g1024, gstep, 64 / o.threads, gproj, peak, peak_rss_mb());
  return 0;
}

// ---- --kernels: the recurrent kernel against Eigen's GEMM -----------------------------------------

/// Microseconds per call of fn, over about `seconds`.
double time_us(const std::function<void()>& fn, double seconds) {
  return 1e6 / timed_loop([&](long) { fn(); }, 2, seconds).per_s;
}

/// One JSON line per shape: the per-step products h U (B x H times H x 4H) and dG U^T (B x 4H times 4H x H)
/// with seqnet's register-tiled kernel and with Eigen's GEMM; then 100 steps of h U read from a gate
/// matrix of T*B rows, with the plain and the padded column stride (detail::padded_rows).
int run_kernels(const Options& o) {
  using namespace seqnet;
  using Mat = Matrix<float>;
  const double s = o.seconds / 8;
  for (Index B : {32, 64, 256})
    for (Index H : {8, 32, 128}) {
      const Mat h = Mat::Random(B, H), U = Mat::Random(H, 4 * H), dG = Mat::Random(B, 4 * H);
      Mat G = Mat::Zero(B, 4 * H), dh = Mat::Zero(B, H);
      const double fwd_tile = time_us([&] { detail::rec_mul_acc(h, U, G); }, s);
      const double fwd_eigen = time_us([&] { G.noalias() += h * U; }, s);
      const double bwd_tile = time_us([&] { detail::rec_mul_t_acc(dG, U, dh); }, s);
      const double bwd_eigen = time_us([&] { dh.noalias() += dG * U.transpose(); }, s);
      std::printf(
          "{\"mode\": \"kernels\", \"B\": %ld, \"H\": %ld, \"hU_tile_us\": %.3f, \"hU_eigen_us\": %.3f, "
          "\"dGUt_tile_us\": %.3f, \"dGUt_eigen_us\": %.3f}\n",
          static_cast<long>(B), static_cast<long>(H), fwd_tile, fwd_eigen, bwd_tile, bwd_eigen);
    }
  // The weight gradients C += A^T B over all rows of a batch (K = T*B): H_prev^T dG of the chapter's layers,
  // E^T dP of the fused embedding, and larger shapes, with small_gemm_tn_acc, packed_gemm_tn_acc and with
  // Eigen's GEMM.
  const Index tn_shapes[][3] = {{6400, 8, 8},    {6400, 8, 32},   {3200, 8, 24},   {500, 16, 32},    {500, 16, 8},
                                {6400, 16, 32},  {6400, 16, 128}, {6400, 16, 512}, {6400, 32, 32},   {6400, 24, 96},
                                {6400, 48, 48},  {6400, 128, 16}, {64, 128, 32},   {256, 128, 32},   {1024, 128, 32},
                                {3200, 32, 128}, {6400, 64, 64},  {6400, 64, 256}, {12800, 128, 512}};
  for (const auto& sh : tn_shapes) {
    const Index K = sh[0], m = sh[1], n = sh[2];
    const Mat A = Mat::Random(K, m), Bm = Mat::Random(K, n);
    Mat C = Mat::Zero(m, n);
    const double tile = time_us([&] { detail::small_gemm_tn_acc(m, n, K, A.data(), K, Bm.data(), K, C.data(), m); }, s);
    const double packed =
        time_us([&] { detail::packed_gemm_tn_acc(m, n, K, A.data(), K, Bm.data(), K, C.data(), m); }, s);
    const double eigen = time_us([&] { C.noalias() += A.transpose() * Bm; }, s);
    const double gflop = 2e-3 * static_cast<double>(K * m * n);
    std::printf(
        "{\"mode\": \"kernels\", \"K\": %ld, \"m\": %ld, \"n\": %ld, \"AtB_tile_us\": %.3f, "
        "\"AtB_packed_us\": %.3f, \"AtB_eigen_us\": %.3f, \"AtB_tile_gflops\": %.1f, \"AtB_packed_gflops\": %.1f, "
        "\"AtB_eigen_gflops\": %.1f}\n",
        static_cast<long>(K), static_cast<long>(m), static_cast<long>(n), tile, packed, eigen, gflop / tile,
        gflop / packed, gflop / eigen);
  }
  {
    // The products of big_bilstm's dense input (T = 400, B = 64, D = H = 128): dX = dG W^T over all T*B rows
    // and the per-step dG_t U^T, each with k (512 values) in one block and in small_gemm's blocks; and the
    // per-step input projection X_t W + b with X_t read in place from a matrix of T*B rows (a column stride
    // of 100 KiB, a multiple of 4 KiB) and copied into a B x D block first, as the recurrent layers do.
    const Index T = 400, B = 64, D = 128, H = 128, rows = T * B, G4 = 4 * H;
    const Mat dG = Mat::Random(detail::padded_rows<float>(rows), G4), W = Mat::Random(D, G4), U = Mat::Random(H, G4);
    const Mat X = Mat::Random(rows, D), bias = Mat::Random(1, G4);
    Mat dX(rows, D), dh = Mat::Zero(B, H), Xs(B, D), G(detail::padded_rows<float>(rows), G4);
    const Index ld = dG.outerStride();
    const double one = time_us(
        [&] { detail::small_gemm_block(rows, D, G4, dG.data(), ld, W.data(), D, Index(1), dX.data(), rows, false); },
        s);
    const double blocked = time_us(
        [&] { detail::small_gemm(rows, D, G4, dG.data(), ld, W.data(), D, Index(1), dX.data(), rows, false); }, s);
    const double step_one = time_us(
        [&] {
          for (Index t = 0; t < T; ++t)
            detail::small_gemm_block(B, H, G4, dG.data() + t * B, ld, U.data(), H, Index(1), dh.data(), B, true);
        },
        s);
    const double step_blocked = time_us(
        [&] {
          for (Index t = 0; t < T; ++t)
            detail::small_gemm(B, H, G4, dG.data() + t * B, ld, U.data(), H, Index(1), dh.data(), B, true);
        },
        s);
    const double xw_in_place = time_us(
        [&] {
          for (Index t = 0; t < T; ++t)
            detail::project_dense_rows(X.middleRows(t * B, B), W, bias, G.middleRows(t * B, B));
        },
        s);
    const double xw_copied = time_us(
        [&] {
          for (Index t = 0; t < T; ++t) {
            Xs = X.middleRows(t * B, B);
            detail::project_dense_rows(Xs, W, bias, G.middleRows(t * B, B));
          }
        },
        s);
    const double gflop = 2e-3 * static_cast<double>(rows * D * G4);  // 2 rows D 4H FLOPs each: over us, GFLOP/s
    std::printf(
        "{\"mode\": \"kernels\", \"T\": %ld, \"B\": %ld, \"D\": %ld, \"H\": %ld, \"dGWt_one_block_us\": %.1f, "
        "\"dGWt_blocked_us\": %.1f, \"steps_dGUt_one_block_us\": %.1f, \"steps_dGUt_blocked_us\": %.1f, "
        "\"steps_XW_in_place_us\": %.1f, \"steps_XW_copied_us\": %.1f, \"gflops\": [%.1f, %.1f, %.1f, %.1f, %.1f, "
        "%.1f]}\n",
        static_cast<long>(T), static_cast<long>(B), static_cast<long>(D), static_cast<long>(H), one, blocked, step_one,
        step_blocked, xw_in_place, xw_copied, gflop / one, gflop / blocked, gflop / step_one, gflop / step_blocked,
        gflop / xw_in_place, gflop / xw_copied);
    // The same per-step products with the right-hand matrix read in place and packed (detail::PackedRhs, as
    // the recurrent layers do): h_{t-1} U, dG_t U^T and X_t W + b from the copied block.
    const Mat S = Mat::Random(detail::padded_rows<float>(rows + B), H);
    const Index lds = S.outerStride(), ldg = G.outerStride();
    detail::PackedRhs<float> Up, Upt, Wp;
    Up.pack(U);
    Upt.pack_transposed(U);
    Wp.pack(W);
    const auto steps = [&](const auto& product) {
      return time_us(
          [&] {
            for (Index t = 0; t < T; ++t) product(t);
          },
          s);
    };
    const double hu = steps([&](Index t) {
      detail::small_gemm(B, G4, H, S.data() + t * B, lds, U.data(), Index(1), H, G.data() + t * B, ldg, true);
    });
    const double hu_packed =
        steps([&](Index t) { detail::small_gemm(B, S.data() + t * B, lds, Up, G.data() + t * B, ldg, true); });
    const double dgu_packed =
        steps([&](Index t) { detail::small_gemm(B, dG.data() + t * B, ld, Upt, dh.data(), B, true); });
    const double xw_packed = steps([&](Index t) {
      Xs = X.middleRows(t * B, B);
      detail::rec_mul_set(Xs, Wp, G.middleRows(t * B, B), bias.data(), Index(1));
    });
    std::printf(
        "{\"mode\": \"kernels\", \"T\": %ld, \"B\": %ld, \"D\": %ld, \"H\": %ld, \"steps_hU_us\": %.1f, "
        "\"steps_hU_packed_us\": %.1f, \"steps_dGUt_packed_us\": %.1f, \"steps_XW_copied_packed_us\": %.1f, "
        "\"gflops\": [%.1f, %.1f, %.1f, %.1f]}\n",
        static_cast<long>(T), static_cast<long>(B), static_cast<long>(D), static_cast<long>(H), hu, hu_packed,
        dgu_packed, xw_packed, gflop / hu, gflop / hu_packed, gflop / dgu_packed, gflop / xw_packed);
  }
  {
    // The products over a batch's distinct ids at big_lstm's shapes (D = 128, kH = 512; U = 3,600 ids, a
    // thread's share at 2 threads): Q = W^T E_u^T (forward) and, per chunk of kDistinctChunk ids,
    // dW += E_u^T dP and dE_u = dP W^T (backward), as Recurrent::distinct_table and distinct_weight_grads call
    // them; and dU += H_prev^T dG over 200 steps of 64 samples.
    const Index D = 128, kH = 512, U = 3600, c = detail::kDistinctChunk, K = 200 * 64;
    const Mat Wt = Mat::Random(detail::padded_rows<float>(kH), D), EuT = Mat::Random(detail::padded_rows<float>(D), U);
    const Mat dP = Mat::Random(detail::padded_rows<float>(c), kH);
    const Mat Hp = Mat::Random(detail::padded_rows<float>(K), D), dG = Mat::Random(detail::padded_rows<float>(K), kH);
    Mat Q(kH, U), dW = Mat::Zero(D, kH), dEu(c, D);
    const double q = time_us([&] { detail::rec_mul_set(Wt.topRows(kH), EuT.leftCols(U), Q); }, s);
    const double dw = time_us(
        [&] {
          detail::small_gemm(D, kH, c, EuT.data(), EuT.outerStride(), dP.data(), Index(1), dP.outerStride(), dW.data(),
                             D, true);
        },
        s);
    const double de = time_us([&] { detail::rec_mul_set(dP.topRows(c), Wt.topRows(kH), dEu); }, s);
    const double du = time_us([&] { detail::tn_mul_acc(Hp.topRows(K), dG.topRows(K), dW); }, s);
    const auto gf = [](double flop, double us) { return flop * 1e-3 / us; };
    std::printf(
        "{\"mode\": \"kernels\", \"distinct\": %ld, \"D\": %ld, \"kH\": %ld, \"chunk\": %ld, \"Q_us\": %.1f, "
        "\"dW_chunk_us\": %.2f, \"dEu_chunk_us\": %.2f, \"dU_rows\": %ld, \"dU_us\": %.1f, \"gflops\": [%.1f, %.1f, "
        "%.1f, %.1f]}\n",
        static_cast<long>(U), static_cast<long>(D), static_cast<long>(kH), static_cast<long>(c), q, dw, de,
        static_cast<long>(K), du, gf(2.0 * kH * D * U, q), gf(2.0 * D * kH * c, dw), gf(2.0 * c * kH * D, de),
        gf(2.0 * K * D * kH, du));
  }
  const Index T = 100, B = 256, H = 8;
  const Mat S = Mat::Random(2 * B, H), U = Mat::Random(H, 4 * H);
  for (bool padded : {false, true}) {
    Mat G = Mat::Zero(padded ? detail::padded_rows<float>(T * B) : T * B, 4 * H);
    const double us = time_us(
        [&] {
          for (Index t = 0; t < T; ++t) detail::rec_mul_acc(S.middleRows((t & 1) * B, B), U, G.middleRows(t * B, B));
        },
        s);
    std::printf(
        "{\"mode\": \"kernels\", \"T\": %ld, \"B\": %ld, \"H\": %ld, \"G_rows\": %ld, \"hU_per_step_us\": %.3f}\n",
        static_cast<long>(T), static_cast<long>(B), static_cast<long>(H), static_cast<long>(G.rows()),
        us / static_cast<double>(T));
  }
  return 0;
}

// ---- --config: the benchmark models ---------------------------------------------------------------

struct ModelSpec {
  seqnet::Index vocab, emb, units, steps;
  bool adam;
};

ModelSpec spec_of(const std::string& name) {
  if (name == "onehot_rnn" || name == "emb_rnn" || name == "emb_lstm" || name == "emb_lstm2" || name == "emb_gru")
    return {500, 16, 8, 100, false};
  if (name == "big_lstm") return {10000, 128, 128, 200, true};
  if (name == "big_bilstm") return {20000, 128, 128, 400, true};
  usage(("unknown configuration '" + name + "'").c_str());
}

/// Builds and compiles the configuration's model (shapes and optimizers as bench/torch_bench.py).
seqnet::Sequential<float> make_model(const std::string& name, const ModelSpec& m, int threads, std::uint64_t seed,
                                     bool flush_denormals) {
  using namespace seqnet;
  Sequential<float> model(SequentialOptions{seed, threads, name, flush_denormals});
  Shape input = Shape::ids(m.steps);
  if (name == "onehot_rnn") {
    input = Shape::one_hot(m.steps, m.vocab);  // ids read as one-hot rows: a gather, no (B x T x V) tensor
    model.add(SimpleRNN<float>(m.units));
  } else {
    model.add(Embedding<float>(m.vocab, m.emb));
    if (name == "emb_rnn") {
      model.add(SimpleRNN<float>(m.units));
    } else if (name == "emb_lstm" || name == "big_lstm") {
      model.add(LSTM<float>(m.units));
    } else if (name == "emb_lstm2") {
      LSTMOptions first;
      first.dropout = 0.3;
      first.return_sequences = true;
      LSTMOptions second;
      second.dropout = 0.3;
      model.add(LSTM<float>(m.units, first));
      model.add(LSTM<float>(m.units, second));
    } else if (name == "emb_gru") {
      model.add(GRU<float>(m.units));
    } else if (name == "big_bilstm") {
      model.add(Bidirectional<float>(LSTM<float>(m.units)));
    }
  }
  model.add(Dense<float>(1, Activation::Sigmoid));
  model.build(input);
  if (m.adam) {
    AdamOptions o;
    o.learning_rate = 1e-3;
    model.compile(LossKind::BinaryCrossentropy, Adam<float>(o));
  } else {
    RMSpropOptions o;
    o.learning_rate = 1e-4;
    model.compile(LossKind::BinaryCrossentropy, RMSprop<float>(o));
  }
  return model;
}

/// `count` tensors of `batch` samples x `steps` uniform ids in [0, vocab).
std::vector<seqnet::Tensor<float>> random_ids(seqnet::Rng& rng, int count, long batch, seqnet::Index steps,
                                              seqnet::Index vocab) {
  std::vector<seqnet::Tensor<float>> out;
  for (int k = 0; k < count; ++k) {
    seqnet::Tensor<float> x({static_cast<seqnet::Index>(batch), steps});
    for (seqnet::Index i = 0; i < x.size(); ++i)
      x.data()[i] = static_cast<float>(rng.next_u64() % static_cast<std::uint64_t>(vocab));
    out.push_back(std::move(x));
  }
  return out;
}

int run_model(const Options& o) {
  constexpr int kDataBatches = 8;  // distinct synthetic batches, cycled (as torch_bench.py)
  const ModelSpec m = spec_of(o.config);
  seqnet::Sequential<float> model = make_model(o.config, m, o.threads, o.seed, o.flush_denormals);

  seqnet::Rng data_rng(o.seed + 1);
  const auto train_x = random_ids(data_rng, kDataBatches, o.batch, m.steps, m.vocab);
  std::vector<seqnet::Tensor<float>> train_y;
  for (int k = 0; k < kDataBatches; ++k) {
    seqnet::Tensor<float> y({static_cast<seqnet::Index>(o.batch), 1});
    for (seqnet::Index i = 0; i < y.size(); ++i) y.data()[i] = static_cast<float>(data_rng.next_u64() & 1U);
    train_y.push_back(std::move(y));
  }
  const auto infer_x = random_ids(data_rng, kDataBatches, o.infer_batch, m.steps, m.vocab);

  double loss = 0;
  const LoopRate skipped;
  const auto train = o.phase == "infer"
                         ? skipped
                         : timed_loop(
                               [&](long i) {
                                 loss = model.train_on_batch(train_x[static_cast<std::size_t>(i % kDataBatches)],
                                                             train_y[static_cast<std::size_t>(i % kDataBatches)]);
                               },
                               o.warmup, o.seconds, [&] { model.reset_step_timing(); });
  // Where a training step's time went (Sequential::step_timing), in microseconds per step.
  const seqnet::StepTiming& st = model.step_timing();
  const double per_step = st.steps > 0 ? 1e6 / static_cast<double>(st.steps) : 0.0;
  std::string busy = "[";
  for (std::size_t k = 0; k < st.busy.size(); ++k) {
    char num[32];
    std::snprintf(num, sizeof num, "%s%.2f", k ? ", " : "", st.busy[k] * per_step);
    busy += num;
  }
  busy += "]";
  float sink = 0;
  const auto infer = o.phase == "train" ? skipped
                                        : timed_loop(
                                              [&](long i) {
                                                const seqnet::Tensor<float> p = model.predict(
                                                    infer_x[static_cast<std::size_t>(i % kDataBatches)], o.infer_batch);
                                                sink += p.data()[0];
                                              },
                                              o.warmup, o.seconds);
  volatile float keep = sink;
  (void)keep;

  std::printf(
      "{\"framework\": \"seqnet\", \"version\": \"%d.%d.%d\", \"config\": \"%s\", \"threads\": %d, \"batch\": %ld, "
      "\"infer_batch\": %ld, \"steps\": %ld, \"train_samples_per_s\": %.3f, \"infer_samples_per_s\": %.3f, "
      "\"train_batches\": %ld, \"infer_batches\": %ld, \"peak_rss_mb\": %.1f, \"params\": %ld, \"last_loss\": %.6f, "
      "\"train_slices_us\": %.2f, \"train_shared_us\": %.2f, \"train_update_us\": %.2f, \"train_imbalance_us\": %.2f, "
      "\"train_thread_busy_us\": %s, \"train_step_us_p10\": %.2f, \"train_step_us_p50\": %.2f, "
      "\"infer_batch_us_p10\": %.2f, \"infer_batch_us_p50\": %.2f, \"flush_denormals\": %s, \"simd\": \"%s\"}\n",
      SEQNET_BENCH_VERSION_MAJOR, SEQNET_BENCH_VERSION_MINOR, SEQNET_BENCH_VERSION_PATCH, o.config.c_str(), o.threads,
      o.batch, o.infer_batch, static_cast<long>(m.steps), train.per_s * static_cast<double>(o.batch),
      infer.per_s * static_cast<double>(o.infer_batch), train.calls, infer.calls, peak_rss_mb(),
      static_cast<long>(model.num_params()), loss, st.slices * per_step, st.shared * per_step, st.update * per_step,
      st.imbalance * per_step, busy.c_str(), train.p10_us, train.p50_us, infer.p10_us, infer.p50_us,
      model.flush_denormals() ? "true" : "false", Eigen::SimdInstructionSetsInUse());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  try {
    if (o.gemm) return run_gemm(o);
    if (o.kernels) return run_kernels(o);
    return run_model(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "seqnet_bench: %s\n", e.what());
    return 1;
  }
}
