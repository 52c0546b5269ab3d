#pragma once
/// \file
/// The forward step of the SimpleRNN, LSTM and GRU layers with Keras' activations, for layers of a few units
/// (H <= kFusedStepMaxUnits) in float: per block of rows, each unit's gate columns of the recurrent product
/// are summed in SIMD registers, and the nonlinearities, the new cell and the new state are computed from
/// those registers before anything is stored. The unfused step writes G_t += h' U (or R_t = h' U + rb) to
/// memory, reads it back column by column for the nonlinearities, and pays the product's tile dispatch and
/// each column's loop set-up at every step: at a 32-row slice (a 64-sample batch on two threads) those
/// costs weigh as much as the arithmetic.
///
/// All matrices are column-major blocks given as Cols (detail/cols.hpp).

#include "seqnet/core/types.hpp"
#include "seqnet/detail/cols.hpp"

#include <Eigen/Core>

#include <cmath>
#include <type_traits>

namespace seqnet {
namespace detail {

/// Layers with more units keep the unfused step: their product is a register-tiled GEMM of its own
/// (small_gemm), and the h' packets of a row block no longer stay in L1 across all units.
constexpr Index kFusedStepMaxUnits = 16;

/// Whether scalar type T has the SIMD packets the fused step needs: the exponential, tanh and division (float
/// with Eigen's default fast math; not double). The layers test it with `if constexpr`: the packet code does
/// not compile for a type without them.
template <typename T>
constexpr bool fused_step_packets() {
  using Traits = Eigen::internal::packet_traits<T>;
  return Traits::Vectorizable && Traits::HasExp && Traits::HasTanh && Traits::HasDiv;
}

/// acc[i][g] += sum over k < H of h'(r0 + i*PS + lane, k) U(k, g*gate_cols + j): column g*gate_cols + j of the
/// product (gate g of unit j when gate_cols = H; unit j + g when gate_cols = 1) for MR packets of rows, k
/// ascending (the order of small_gemm, so both steps add the same terms in the same order).
template <int MR, int NG, typename T, typename P>
inline void unit_gate_sums(Index r0, Index j, Index H, Index gate_cols, Cols<const T> hp, Cols<const T> U,
                           P (&acc)[MR][NG]) {
  namespace ei = Eigen::internal;
  constexpr Index PS = ei::unpacket_traits<P>::size;
  for (Index k = 0; k < H; ++k) {
    P a[MR];
    for (int i = 0; i < MR; ++i) a[i] = ei::ploadu<P>(hp.col(k) + r0 + i * PS);
    for (int g = 0; g < NG; ++g) {
      const P u = ei::pset1<P>(U.col(g * gate_cols + j)[k]);
      for (int i = 0; i < MR; ++i) acc[i][g] = ei::pmadd(a[i], u, acc[i][g]);
    }
  }
}

/// The same for one row r, in scalar code.
template <int NG, typename T>
inline void unit_gate_sums_row(Index r, Index j, Index H, Cols<const T> hp, Cols<const T> U, T (&acc)[NG]) {
  for (Index k = 0; k < H; ++k) {
    const T a = hp.col(k)[r];
    for (int g = 0; g < NG; ++g) acc[g] += a * U.col(g * H + j)[k];
  }
}

/// The row blocks of a step: rows(std::integral_constant<int, 2>{}, r) for each block of two SIMD packets of
/// rows from r, then rows(std::integral_constant<int, 1>{}, r) for one packet, then row(r) for each row left.
template <typename T, typename Rows, typename Row>
inline void for_row_blocks(Index B, Rows&& rows, Row&& row) {
  constexpr Index PS = Eigen::internal::packet_traits<T>::size;
  Index r = 0;
  for (; r + 2 * PS <= B; r += 2 * PS) rows(std::integral_constant<int, 2>{}, r);
  for (; r + PS <= B; r += PS) rows(std::integral_constant<int, 1>{}, r);
  for (; r < B; ++r) row(r);
}

/// The passes after the product (lstm_cell_fused, gru_cell_fused): unit j by unit, packet(j, r) for each SIMD
/// packet of rows from r, then row(j, r) for each row left.
template <typename T, typename Packet, typename Row>
inline void for_unit_packets(Index B, Index H, Packet&& packet, Row&& row) {
  constexpr Index PS = Eigen::internal::packet_traits<T>::size;
  for (Index j = 0; j < H; ++j) {
    Index r = 0;
    for (; r + PS <= B; r += PS) packet(j, r);
    for (; r < B; ++r) row(j, r);
  }
}

/// Asks for the cache line at p in a state to be written (a hint: it never faults, and compilers without
/// the builtin skip it).
inline void prefetch_for_write(const void* p) {
#if defined(__GNUC__)
  __builtin_prefetch(p, 1);
#else
  (void)p;
#endif
}

/// One SimpleRNN step with tanh: h = tanh(G + h' U), G (B x H) holding X_t W + b (left as it is).
template <typename T>
struct RnnStep {
  Index B, H;
  Cols<const T> hp, U;  // h' (B x H), the recurrent kernel (H x H)
  Cols<const T> G;      // the step's X_t W + b
  Cols<T> h;            // new state
};

/// Units j0 .. j0 + NJ - 1 of the step for MR packets of rows: their NJ x MR sums are independent chains of
/// multiply-adds, which the processor overlaps, with their tanh. Four units at a time made the inference of
/// the SimpleRNN models 3 to 6% faster than one at a time, training up to 2% (docs/performance.md, item 28).
template <int MR, int NJ, typename T>
inline void rnn_units_rows(Index r0, Index j0, const RnnStep<T>& s) {
  namespace ei = Eigen::internal;
  using P = typename ei::packet_traits<T>::type;
  constexpr Index PS = ei::packet_traits<T>::size;
  P acc[MR][NJ];
  for (int i = 0; i < MR; ++i)
    for (int u = 0; u < NJ; ++u) acc[i][u] = ei::ploadu<P>(s.G.col(j0 + u) + r0 + i * PS);
  unit_gate_sums<MR, NJ>(r0, j0, s.H, Index(1), s.hp, s.U, acc);
  for (int i = 0; i < MR; ++i)
    for (int u = 0; u < NJ; ++u) ei::pstoreu(s.h.col(j0 + u) + r0 + i * PS, ei::ptanh(acc[i][u]));
}

template <int MR, typename T>
inline void rnn_step_rows(Index r0, const RnnStep<T>& s) {
  constexpr int NJ = 4;
  Index j = 0;
  for (; j + NJ <= s.H; j += NJ) rnn_units_rows<MR, NJ>(r0, j, s);
  for (; j < s.H; ++j) rnn_units_rows<MR, 1>(r0, j, s);
}

template <typename T>
inline void rnn_step_row(Index r, const RnnStep<T>& s) {
  for (Index j = 0; j < s.H; ++j) {
    T acc[1] = {s.G.col(j)[r]};
    unit_gate_sums_row<1>(r, j, s.H, s.hp, s.U, acc);
    s.h.col(j)[r] = std::tanh(acc[0]);
  }
}

template <typename T>
inline void rnn_step_fused(const RnnStep<T>& s) {
  for_row_blocks<T>(
      s.B, [&](auto mr, Index r) { rnn_step_rows<decltype(mr)::value>(r, s); }, [&](Index r) { rnn_step_row(r, s); });
}

/// The backward of one SimpleRNN step with tanh: dG = dh .* (1 - h^2), then dh_{t-1} = (dG U^T) (.* M_h
/// with recurrent dropout). Per packet of rows, the H packets of dG stay in registers between the two.
template <typename T>
struct RnnStepGrads {
  Index B, H;
  Cols<const T> h, U;  // the step's new state (B x H), the recurrent kernel
  Cols<T> dh;          // in: dL/dh_t; out: dL/dh_{t-1}
  Cols<T> dG;          // out: the step's pre-activation gradient
  Cols<const T> Mh;    // the recurrent dropout mask (B x H), or data == nullptr
};

template <typename T>
inline void rnn_step_grads_fused(const RnnStepGrads<T>& s) {
  namespace ei = Eigen::internal;
  using P = typename ei::packet_traits<T>::type;
  constexpr Index PS = ei::packet_traits<T>::size;
  const Index H = s.H;
  eigen_assert(H <= kFusedStepMaxUnits);
  const P one = ei::pset1<P>(T(1));
  Index r = 0;
  for (; r + PS <= s.B; r += PS) {
    P g[kFusedStepMaxUnits];
    for (Index k = 0; k < H; ++k) {
      const P hk = ei::ploadu<P>(s.h.col(k) + r);
      g[k] = ei::pmul(ei::ploadu<P>(s.dh.col(k) + r), ei::psub(one, ei::pmul(hk, hk)));
      ei::pstoreu(s.dG.col(k) + r, g[k]);
    }
    for (Index j = 0; j < H; ++j) {
      P acc = ei::pset1<P>(T(0));
      for (Index k = 0; k < H; ++k) acc = ei::pmadd(g[k], ei::pset1<P>(s.U.col(k)[j]), acc);
      if (s.Mh.data) acc = ei::pmul(acc, ei::ploadu<P>(s.Mh.col(j) + r));
      ei::pstoreu(s.dh.col(j) + r, acc);
    }
  }
  for (; r < s.B; ++r) {
    T g[kFusedStepMaxUnits];
    for (Index k = 0; k < H; ++k) {
      const T hk = s.h.col(k)[r];
      g[k] = s.dh.col(k)[r] * (T(1) - hk * hk);
      s.dG.col(k)[r] = g[k];
    }
    for (Index j = 0; j < H; ++j) {
      T acc = T(0);
      for (Index k = 0; k < H; ++k) acc += g[k] * s.U.col(k)[j];
      s.dh.col(j)[r] = s.Mh.data ? acc * s.Mh.col(j)[r] : acc;
    }
  }
}

/// One LSTM step: on entry G (B x 4H) holds X_t W + b; on return the activated gates i, f, g, o (what the
/// backward reads), with c = f .* c_prev + i .* g, tc = tanh(c), h = o .* tc, where the gate
/// pre-activations are G + h' U (U: H x 4H).
template <typename T>
struct LstmStep {
  Index B, H;
  Cols<const T> hp, U;  // h' (B x H), the recurrent kernel
  Cols<T> G;            // the step's gates
  Cols<const T> cp;     // c_prev (B x H)
  Cols<T> c, tc, h;     // new cell, its tanh, new state (B x H each)
  Index ahead;          // lstm_cell_fused: rows from c, tc and h to the next step's blocks, to prefetch for
                        // writing (0: none); the fused step does not read it
};

// Units j0 .. j1-1 of MR packets of rows from r0. Product = false: G already holds the whole gate sums
// (X_t W + b + h' U); s.hp and s.U are not read.
template <int MR, bool Product, typename T>
inline void lstm_step_rows(Index r0, const LstmStep<T>& s, Index j0, Index j1) {
  namespace ei = Eigen::internal;
  using P = typename ei::packet_traits<T>::type;
  constexpr Index PS = ei::packet_traits<T>::size;
  const ei::scalar_logistic_op<T> sigmoid;
  const Index H = s.H;
  for (Index j = j0; j < j1; ++j) {
    P acc[MR][4];
    for (int i = 0; i < MR; ++i)
      for (int g = 0; g < 4; ++g) acc[i][g] = ei::ploadu<P>(s.G.col(g * H + j) + r0 + i * PS);
    if constexpr (Product) unit_gate_sums<MR, 4>(r0, j, H, H, s.hp, s.U, acc);
    for (int i = 0; i < MR; ++i) {
      const Index r = r0 + i * PS;
      if (!Product && s.ahead != 0) {  // only the pass after the product (lstm_cell_fused) prefetches
        prefetch_for_write(s.c.col(j) + r + s.ahead);
        prefetch_for_write(s.tc.col(j) + r + s.ahead);
        prefetch_for_write(s.h.col(j) + r + s.ahead);
      }
      const P ig = sigmoid.packetOp(acc[i][0]), fg = sigmoid.packetOp(acc[i][1]), gg = ei::ptanh(acc[i][2]),
              og = sigmoid.packetOp(acc[i][3]);
      ei::pstoreu(s.G.col(j) + r, ig);
      ei::pstoreu(s.G.col(H + j) + r, fg);
      ei::pstoreu(s.G.col(2 * H + j) + r, gg);
      ei::pstoreu(s.G.col(3 * H + j) + r, og);
      const P c = ei::padd(ei::pmul(fg, ei::ploadu<P>(s.cp.col(j) + r)), ei::pmul(ig, gg));
      const P tc = ei::ptanh(c);
      ei::pstoreu(s.c.col(j) + r, c);
      ei::pstoreu(s.tc.col(j) + r, tc);
      ei::pstoreu(s.h.col(j) + r, ei::pmul(og, tc));
    }
  }
}

template <bool Product, typename T>
inline void lstm_step_row(Index r, const LstmStep<T>& s, Index j0, Index j1) {
  const Eigen::internal::scalar_logistic_op<T> sigmoid;
  const Index H = s.H;
  for (Index j = j0; j < j1; ++j) {
    T acc[4];
    for (int g = 0; g < 4; ++g) acc[g] = s.G.col(g * H + j)[r];
    if constexpr (Product) unit_gate_sums_row<4>(r, j, H, s.hp, s.U, acc);
    const T ig = sigmoid(acc[0]), fg = sigmoid(acc[1]), gg = std::tanh(acc[2]), og = sigmoid(acc[3]);
    s.G.col(j)[r] = ig;
    s.G.col(H + j)[r] = fg;
    s.G.col(2 * H + j)[r] = gg;
    s.G.col(3 * H + j)[r] = og;
    const T c = fg * s.cp.col(j)[r] + ig * gg;
    const T tc = std::tanh(c);
    s.c.col(j)[r] = c;
    s.tc.col(j)[r] = tc;
    s.h.col(j)[r] = og * tc;
  }
}

template <typename T>
inline void lstm_step_fused(const LstmStep<T>& s) {
  for_row_blocks<T>(
      s.B, [&](auto mr, Index r) { lstm_step_rows<decltype(mr)::value, true>(r, s, 0, s.H); },
      [&](Index r) { lstm_step_row<true>(r, s, 0, s.H); });
}

/// The LSTM cell of one step whose recurrent product is already in G (G_t = X_t W + b + h' U, written by
/// small_gemm for layers of more than kFusedStepMaxUnits units): the same pass as lstm_step_fused without the
/// product (s.hp and s.U are not read). One pass over packets of rows per unit, where one Eigen expression per
/// gate column sets up its own loop: at a 32-row slice, two packets per column, that set-up cost more than
/// the nonlinearities. Unit by unit, all rows of a unit before the next: nothing is reused across units here,
/// and with the row blocks outside, an inference batch of 256 rows would pass over the step's whole gate
/// block (512 KB at H = 128) once per block. One packet of rows at a time: with two, more values were live
/// than the registers hold, and the constants of the nonlinearities went to the stack for every unit. In
/// training the new cell, its tanh and the state go to rows that no step has written yet (3H columns of the
/// caches of all steps, far beyond L2), whose lines the hardware prefetchers do not fetch ahead: each packet
/// first prefetches for writing the same rows of the next step's blocks (s.ahead).
template <typename T>
inline void lstm_cell_fused(const LstmStep<T>& s) {
  for_unit_packets<T>(
      s.B, s.H, [&](Index j, Index r) { lstm_step_rows<1, false>(r, s, j, j + 1); },
      [&](Index j, Index r) { lstm_step_row<false>(r, s, j, j + 1); });
}

/// One GRU step (reset_after, Keras' activations): on entry G (B x 3H) holds X_t W + b; with
/// R = h' U + rb (U: H x 3H, rb: the recurrent bias row), on return G holds z = sigmoid(G_z + R_z),
/// r = sigmoid(G_r + R_r), hh = tanh(G_h + r .* R_h); rh = R_h (kept for the backward);
/// h = z .* h' + (1 - z) .* hh.
template <typename T>
struct GruStep {
  Index B, H;
  Cols<const T> hp, U;  // h' (B x H), the recurrent kernel
  Cols<const T> rb;     // the recurrent bias, a row: entry c at rb.col(c)[0]
  Cols<T> G;            // the step's gates
  Cols<T> rh, h;        // R_h cache, new state (B x H each)
  Cols<const T> R;      // R = h' U + rb (B x 3H) when computed before the step (gru_cell_fused), else unused
};

// Units j0 .. j1-1 of MR packets of rows from r0. Product = false: R is read from s.R; s.U and s.rb are
// not read.
template <int MR, bool Product, typename T>
inline void gru_step_rows(Index r0, const GruStep<T>& s, Index j0, Index j1) {
  namespace ei = Eigen::internal;
  using P = typename ei::packet_traits<T>::type;
  constexpr Index PS = ei::packet_traits<T>::size;
  const ei::scalar_logistic_op<T> sigmoid;
  const Index H = s.H;
  const P one = ei::pset1<P>(T(1));
  for (Index j = j0; j < j1; ++j) {
    P acc[MR][3];
    if constexpr (Product) {
      for (int i = 0; i < MR; ++i)
        for (int g = 0; g < 3; ++g) acc[i][g] = ei::pset1<P>(s.rb.col(g * H + j)[0]);
      unit_gate_sums<MR, 3>(r0, j, H, H, s.hp, s.U, acc);
    } else {
      for (int i = 0; i < MR; ++i)
        for (int g = 0; g < 3; ++g) acc[i][g] = ei::ploadu<P>(s.R.col(g * H + j) + r0 + i * PS);
    }
    for (int i = 0; i < MR; ++i) {
      const Index r = r0 + i * PS;
      const P z = sigmoid.packetOp(ei::padd(ei::ploadu<P>(s.G.col(j) + r), acc[i][0]));
      const P rg = sigmoid.packetOp(ei::padd(ei::ploadu<P>(s.G.col(H + j) + r), acc[i][1]));
      const P hh = ei::ptanh(ei::padd(ei::ploadu<P>(s.G.col(2 * H + j) + r), ei::pmul(rg, acc[i][2])));
      ei::pstoreu(s.G.col(j) + r, z);
      ei::pstoreu(s.G.col(H + j) + r, rg);
      ei::pstoreu(s.G.col(2 * H + j) + r, hh);
      ei::pstoreu(s.rh.col(j) + r, acc[i][2]);
      const P h = ei::padd(ei::pmul(z, ei::ploadu<P>(s.hp.col(j) + r)), ei::pmul(ei::psub(one, z), hh));
      ei::pstoreu(s.h.col(j) + r, h);
    }
  }
}

template <bool Product, typename T>
inline void gru_step_row(Index r, const GruStep<T>& s, Index j0, Index j1) {
  const Eigen::internal::scalar_logistic_op<T> sigmoid;
  const Index H = s.H;
  for (Index j = j0; j < j1; ++j) {
    T acc[3];
    if constexpr (Product) {
      for (int g = 0; g < 3; ++g) acc[g] = s.rb.col(g * H + j)[0];
      unit_gate_sums_row<3>(r, j, H, s.hp, s.U, acc);
    } else {
      for (int g = 0; g < 3; ++g) acc[g] = s.R.col(g * H + j)[r];
    }
    const T z = sigmoid(s.G.col(j)[r] + acc[0]);
    const T rg = sigmoid(s.G.col(H + j)[r] + acc[1]);
    const T hh = std::tanh(s.G.col(2 * H + j)[r] + rg * acc[2]);
    s.G.col(j)[r] = z;
    s.G.col(H + j)[r] = rg;
    s.G.col(2 * H + j)[r] = hh;
    s.rh.col(j)[r] = acc[2];
    s.h.col(j)[r] = z * s.hp.col(j)[r] + (T(1) - z) * hh;
  }
}

template <typename T>
inline void gru_step_fused(const GruStep<T>& s) {
  for_row_blocks<T>(
      s.B, [&](auto mr, Index r) { gru_step_rows<decltype(mr)::value, true>(r, s, 0, s.H); },
      [&](Index r) { gru_step_row<true>(r, s, 0, s.H); });
}

/// The GRU step whose R = h' U + rb is already in s.R (written by small_gemm for layers of more than
/// kFusedStepMaxUnits units): the same pass as gru_step_fused without the product, for the reason given at
/// lstm_cell_fused.
template <typename T>
inline void gru_cell_fused(const GruStep<T>& s) {
  for_unit_packets<T>(
      s.B, s.H, [&](Index j, Index r) { gru_step_rows<1, false>(r, s, j, j + 1); },
      [&](Index j, Index r) { gru_step_row<false>(r, s, j, j + 1); });
}

}  // namespace detail
}  // namespace seqnet
