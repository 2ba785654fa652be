// The LSTM recurrence as two XLA FFI handlers for the CPU (issue 13): the whole sequence in one call, so XLA's
// per-iteration loop overhead (about 55 us per time step at M's shape, more than the arithmetic) is gone.
//
// Forward: gates_in [..., T, N, 4H] (the input side's pre-activations, gates in the order i, f, g, o) and
// w_recurrent [..., H, 4H] -> h, c, i, f, g, o, each [..., T, N, H]. Backward: dh [..., T, N, H], the forward's h,
// c, i, f, g, o and w_recurrent -> dz [..., T, N, 4H], the pre-activations' gradient, and dw [..., H, 4H], the
// recurrent weight's (summed over rows and steps while dz is in cache). Leading dimensions are a batch of independent recurrences (a
// population under vmap); w_recurrent has the same leading dimensions or none. The math is model.py's `_lstm_step`
// and `_recurrence_bwd`; tests hold this kernel to them.
//
// Rows of the batch never interact, so the work splits into (member, block of rows) pieces that run start to
// finish on XLA's intra-op threads: one hand-off per call, not per time step. The per-step matmul
// [rows, K] x [K, cols] is a register-blocked loop written with GCC vector extensions; built with -march=native
// it uses the widest vectors the machine has.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

// The block of c kept in registers: kRows rows x kColumnVectors vectors. 8 x 2 measured 10-15% faster than 4 x 4 on
// M's and W's forward (AVX-512, benchmarks/RESULTS.md), the same on L.
#if defined(__AVX512F__)
constexpr int kLanes = 16;
constexpr int kRows = 8;
constexpr int kColumnVectors = 2;  // 16 accumulators of 32 registers
#elif defined(__AVX__)
constexpr int kLanes = 8;
constexpr int kRows = 4;
constexpr int kColumnVectors = 2;  // 8 accumulators of 16 registers
#else
constexpr int kLanes = 4;
constexpr int kRows = 4;
constexpr int kColumnVectors = 2;
#endif

// aligned(4): loads and stores at any float address.
typedef float Vec __attribute__((vector_size(kLanes * sizeof(float)), aligned(4)));

template <int R, int V>
inline void block_multiply_add(const float* a, int64_t lda, int64_t a_step, const float* b, int64_t ldb, float* c,
                               int64_t ldc, int64_t depth) {
  Vec sums[R][V];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) sums[r][v] = *reinterpret_cast<const Vec*>(c + r * ldc + v * kLanes);
  for (int64_t k = 0; k < depth; ++k) {
    Vec row[V];
    for (int v = 0; v < V; ++v) row[v] = *reinterpret_cast<const Vec*>(b + k * ldb + v * kLanes);
    for (int r = 0; r < R; ++r) {
      const float scale = a[r * lda + k * a_step];
      for (int v = 0; v < V; ++v) sums[r][v] += scale * row[v];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) *reinterpret_cast<Vec*>(c + r * ldc + v * kLanes) = sums[r][v];
}

template <int V>
inline void rows_multiply_add(const float* a, int64_t lda, int64_t a_step, const float* b, int64_t ldb, float* c,
                              int64_t ldc, int64_t rows, int64_t depth) {
  int64_t r = 0;
  for (; r + kRows <= rows; r += kRows)
    block_multiply_add<kRows, V>(a + r * lda, lda, a_step, b, ldb, c + r * ldc, ldc, depth);
  for (; r < rows; ++r) block_multiply_add<1, V>(a + r * lda, lda, a_step, b, ldb, c + r * ldc, ldc, depth);
}

constexpr int64_t kPanel = kColumnVectors * kLanes;  // columns of one register block

// b's full panels of kPanel columns, each [depth, kPanel] contiguous. Read in place, b's rows lie ldb floats apart;
// at 4 KB (L's recurrent weight) every row falls in the same L1 set and the panel never stays in cache. Packed,
// L's forward kernel ran 21% faster and M's 6% (benchmarks/RESULTS.md).
void pack_panels(const float* b, int64_t ldb, int64_t depth, int64_t cols, float* packed) {
  for (int64_t col = 0; col + kPanel <= cols; col += kPanel)
    for (int64_t k = 0; k < depth; ++k, packed += kPanel) std::memcpy(packed, b + k * ldb + col, kPanel * sizeof(float));
}

// c[rows, cols] += a[rows, depth] @ b[depth, cols]; b and c row-major, a's element (r, k) at a[r * lda + k * a_step]
// (a_step 1: row-major; lda 1: a transposed). `packed`, if given, is pack_panels(b): the full panels are read from
// it, the last columns from b.
void multiply_add(const float* a, int64_t lda, int64_t a_step, const float* b, int64_t ldb, float* c, int64_t ldc,
                  int64_t rows, int64_t depth, int64_t cols, const float* packed = nullptr) {
  int64_t col = 0;
  for (; col + kPanel <= cols; col += kPanel) {
    if (packed)
      rows_multiply_add<kColumnVectors>(a, lda, a_step, packed + col * depth, kPanel, c + col, ldc, rows, depth);
    else
      rows_multiply_add<kColumnVectors>(a, lda, a_step, b + col, ldb, c + col, ldc, rows, depth);
  }
  for (; col + kLanes <= cols; col += kLanes)
    rows_multiply_add<1>(a, lda, a_step, b + col, ldb, c + col, ldc, rows, depth);
  for (; col < cols; ++col)
    for (int64_t r = 0; r < rows; ++r) {
      float sum = c[r * ldc + col];
      for (int64_t k = 0; k < depth; ++k) sum += a[r * lda + k * a_step] * b[k * ldb + col];
      c[r * ldc + col] = sum;
    }
}

// max(low, min(high, x)), NaN kept: the vector instructions (one each), not compare-and-blend (two each), which
// is what GCC makes of `x < low ? low : x` on vectors. min/max return their second operand where either is NaN.
inline float clamp(float x, float low, float high) { return x < low ? low : (x > high ? high : x); }
inline Vec clamp(Vec x, float low, float high) {
#if !defined(__x86_64__) && !defined(__i386__)
  const Vec lows = Vec{} + low, highs = Vec{} + high;
  x = x < lows ? lows : x;
  return x > highs ? highs : x;
#elif defined(__AVX512F__)
  return (Vec)_mm512_max_ps(_mm512_set1_ps(low), _mm512_min_ps(_mm512_set1_ps(high), (__m512)x));
#elif defined(__AVX__)
  return (Vec)_mm256_max_ps(_mm256_set1_ps(low), _mm256_min_ps(_mm256_set1_ps(high), (__m256)x));
#else
  return (Vec)_mm_max_ps(_mm_set1_ps(low), _mm_min_ps(_mm_set1_ps(high), (__m128)x));
#endif
}

// The gates' nonlinearities, on a float (a row's last units) or a Vec (kLanes units at once): written on vectors, not
// left to the auto-vectorizer, which vectorized the gate loops for AVX-512 but not for AVX2 (GCC 12 turned clamps into
// branches there; forward passes ran 4-6x slower than on AVX-512 instead of 2x). tanh is an odd polynomial over an
// even one on [-7.9, 7.9] (±1 beyond, to float precision), within 3.3e-7 of tanh (XLA's tanh on CPU: 2.6e-7), and
// sigmoid(x) = (1 + tanh(x / 2)) / 2: no exp, one division each. Against sigmoid and tanh through Cephes' exp (2 ulp)
// and a division, with the rows in pairs: a 32-member population's forward 0.84x the time (AVX2; native 0.87x), its
// h as close to the scan's (largest difference 2.4e-7 against 3.0e-7; benchmarks/RESULTS.md).
template <typename T> inline T tanh_(T x) {
  x = clamp(x, -7.90531110763549805f, 7.90531110763549805f);
  const T x2 = x * x;
  T p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  T q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  return x * p / q;
}
template <typename T> inline T sigmoid(T x) { return 0.5f * tanh_(0.5f * x) + 0.5f; }

// memcpy, not a cast: T as deduced by the gate loops has lost Vec's aligned(4), and an aligned load would fault.
template <typename T> inline T load(const float* p) { T v; std::memcpy(&v, p, sizeof v); return v; }
template <typename T> inline void store(float* p, T v) { std::memcpy(p, &v, sizeof v); }

// Runs unit(j, Vec{}) over a row's units kLanes at a time, then unit(j, 0.0f) over the last ones.
template <typename Unit>
inline void over_units(int64_t H, Unit unit) {
  int64_t j = 0;
  for (; j + kLanes <= H; j += kLanes) unit(j, Vec{});
  for (; j < H; ++j) unit(j, 0.0f);
}

// Runs rows_of(r, count) over a step's rows two at a time (count 2), then the last one alone (count 1): the gate
// loops compute two rows' gates side by side, two independent chains of polynomials and divisions that keep the
// vector units busy where one row's chain waits on its own latency (with the min/max clamps: a population's forward
// 0.89x the time, AVX2, before the rational tanh; benchmarks/RESULTS.md).
template <typename RowsOf>
inline void in_pairs_of_rows(int64_t rows, RowsOf rows_of) {
  int64_t r = 0;
  for (; r + 2 <= rows; r += 2) rows_of(r, std::integral_constant<int, 2>{});
  for (; r < rows; ++r) rows_of(r, std::integral_constant<int, 1>{});
}

struct Shape {
  int64_t members, steps, batch, hidden;
  bool shared_weights;
};

// One time step of `rows` rows: gates and state from the pre-activations z [rows, 4H] and the cells before
// them. Every other array is [rows, H], contiguous: one call per step keeps the vector loop's set-up off the rows.
template <int Q>
inline void gates_forward_rows(int64_t H, const float* __restrict z, const float* __restrict c_before,
                               float* __restrict c, float* __restrict h, float* __restrict gi, float* __restrict gf,
                               float* __restrict gg, float* __restrict go) {
  over_units(H, [&](int64_t j, auto kind) {
    using T = decltype(kind);
    T i[Q], f[Q], g[Q], o[Q], cell[Q];
    for (int q = 0; q < Q; ++q) {
      const float* zq = z + q * 4 * H;
      i[q] = sigmoid(load<T>(zq + j));
      f[q] = sigmoid(load<T>(zq + H + j));
      g[q] = tanh_(load<T>(zq + 2 * H + j));
      o[q] = sigmoid(load<T>(zq + 3 * H + j));
    }
    for (int q = 0; q < Q; ++q) cell[q] = f[q] * load<T>(c_before + q * H + j) + i[q] * g[q];
    for (int q = 0; q < Q; ++q) {
      const int64_t k = q * H + j;
      store(c + k, cell[q]);
      store(h + k, o[q] * tanh_(cell[q]));
      store(gi + k, i[q]);
      store(gf + k, f[q]);
      store(gg + k, g[q]);
      store(go + k, o[q]);
    }
  });
}

void gates_forward(int64_t H, int64_t rows, const float* __restrict z, const float* __restrict c_before,
                   float* __restrict c, float* __restrict h, float* __restrict gi, float* __restrict gf,
                   float* __restrict gg, float* __restrict go) {
  in_pairs_of_rows(rows, [&](int64_t r, auto count) {
    gates_forward_rows<count>(H, z + r * 4 * H, c_before + r * H, c + r * H, h + r * H, gi + r * H, gf + r * H,
                              gg + r * H, go + r * H);
  });
}

// w_recurrent [H, 4H] (per member, or one shared) as the pieces read it, prepared once per call: every piece of a
// member reads the same copies. `plain` is w itself (forward) or its transpose [4H, H] (backward), whose last
// columns are read in place; `packed` is pack_panels(plain).
struct Weights {
  int64_t size;
  std::vector<float> transpose, packed;
  const float* plain;

  Weights(const Shape& s, const float* w, bool transposed) : size(4 * s.hidden * s.hidden) {
    const int64_t H = s.hidden, G = 4 * H, count = s.shared_weights ? 1 : s.members;
    if (transposed) {
      transpose.resize(count * size);
      for (int64_t m = 0; m < count; ++m)
        for (int64_t k = 0; k < H; ++k)
          for (int64_t j = 0; j < G; ++j) transpose[m * size + j * H + k] = w[m * size + k * G + j];
    }
    plain = transposed ? transpose.data() : w;
    packed.resize(count * size);
    for (int64_t m = 0; m < count; ++m)
      pack_panels(plain + m * size, transposed ? H : G, transposed ? G : H, transposed ? H : G,
                  packed.data() + m * size);
  }
  const float* plain_of(const Shape& s, int64_t m) const { return plain + (s.shared_weights ? 0 : m * size); }
  const float* packed_of(const Shape& s, int64_t m) const { return packed.data() + (s.shared_weights ? 0 : m * size); }
};

// One piece of work: member `m`, rows [row, row + rows) of the batch, every time step.
void forward_piece(const Shape& s, int64_t m, int64_t row, int64_t rows, const float* gates_in, const Weights& w,
                   float* h, float* c, float* gi, float* gf, float* gg, float* go) {
  const int64_t H = s.hidden, G = 4 * H;
  const float *w_m = w.plain_of(s, m), *w_packed = w.packed_of(s, m);
  std::vector<float> z(rows * G), zeros(rows * H, 0.0f);
  for (int64_t t = 0; t < s.steps; ++t) {
    const int64_t at = (m * s.steps + t) * s.batch + row;  // index of (m, t, row) in units of rows
    std::memcpy(z.data(), gates_in + at * G, rows * G * sizeof(float));
    if (t > 0) multiply_add(h + (at - s.batch) * H, H, 1, w_m, G, z.data(), G, rows, H, G, w_packed);
    const int64_t out = at * H;
    gates_forward(H, rows, z.data(), t > 0 ? c + out - s.batch * H : zeros.data(), c + out, h + out, gi + out,
                  gf + out, gg + out, go + out);
  }
}

// One time step's pre-activation gradient dz [rows, 4H]; dh_next and dc_next come in as the gradient from the
// step after, and dc_next leaves as dc * f (dh_next is then overwritten by the matmul). Other arrays [rows, H].
template <int Q>
inline void gates_backward_rows(int64_t H, const float* __restrict dh_out, const float* __restrict c,
                                const float* __restrict c_before, const float* __restrict gi,
                                const float* __restrict gf, const float* __restrict gg, const float* __restrict go,
                                const float* __restrict dh_next, float* __restrict dc_next, float* __restrict dz) {
  over_units(H, [&](int64_t j, auto kind) {
    using T = decltype(kind);
    T tanh_c[Q];
    for (int q = 0; q < Q; ++q) tanh_c[q] = tanh_(load<T>(c + q * H + j));
    for (int q = 0; q < Q; ++q) {
      const int64_t k = q * H + j;
      float* dz_q = dz + q * 4 * H;
      const T i = load<T>(gi + k), f = load<T>(gf + k), g = load<T>(gg + k), o = load<T>(go + k);
      const T dh = load<T>(dh_out + k) + load<T>(dh_next + k);
      const T dc = load<T>(dc_next + k) + dh * o * (1.0f - tanh_c[q] * tanh_c[q]);
      store(dz_q + j, dc * g * i * (1.0f - i));
      store(dz_q + H + j, dc * load<T>(c_before + k) * f * (1.0f - f));
      store(dz_q + 2 * H + j, dc * i * (1.0f - g * g));
      store(dz_q + 3 * H + j, dh * tanh_c[q] * o * (1.0f - o));
      store(dc_next + k, dc * f);
    }
  });
}

void gates_backward(int64_t H, int64_t rows, const float* __restrict dh_out, const float* __restrict c,
                    const float* __restrict c_before, const float* __restrict gi, const float* __restrict gf,
                    const float* __restrict gg, const float* __restrict go, const float* __restrict dh_next,
                    float* __restrict dc_next, float* __restrict dz) {
  in_pairs_of_rows(rows, [&](int64_t r, auto count) {
    gates_backward_rows<count>(H, dh_out + r * H, c + r * H, c_before + r * H, gi + r * H, gf + r * H, gg + r * H,
                               go + r * H, dh_next + r * H, dc_next + r * H, dz + r * 4 * H);
  });
}

// Also accumulates this piece's share of the recurrent weight's gradient, h_before^T @ dz over its rows and steps,
// into dw [H, 4H]: about kChunkRows rows of (h_before, dz) at a time, copied from several steps into one contiguous
// chunk, so dw (1 MB at 256 units: with the weight, more than L2 holds) is read and written once per chunk, not once
// per step of a piece's few rows. Against once per step, L's backward (64 steps x 128 rows x 256 units) ran 77-79
// -> 57 ms, 16 rows x 256 units 5.8-6.0 -> 3.7 (AVX-512; AVX2 build 75-80 -> 63-64, 7.6-9.2 -> 4.0-5.7); 64 and
// 256 rows scored within noise of 128 (benchmarks/RESULTS.md).
constexpr int64_t kChunkRows = 128;

void backward_piece(const Shape& s, int64_t m, int64_t row, int64_t rows, const float* dh_out, const float* h,
                    const float* c, const float* gi, const float* gf, const float* gg, const float* go,
                    const Weights& w_transposed, float* dz, float* dw) {
  const int64_t H = s.hidden, G = 4 * H;
  const float *w_t = w_transposed.plain_of(s, m), *w_t_packed = w_transposed.packed_of(s, m);
  std::vector<float> dh_next(rows * H, 0.0f), dc_next(rows * H, 0.0f), zeros(rows * H, 0.0f);
  const int64_t chunk_steps = std::max<int64_t>(1, kChunkRows / rows);
  std::vector<float> h_chunk(chunk_steps * rows * H), dz_chunk(chunk_steps * rows * G);
  // dz's rows are 4H floats apart: packed too where that is 2 KB or more (at M's 1 KB it cost more than it saved).
  const bool pack_dz = G >= 512;
  std::vector<float> dz_packed(pack_dz ? chunk_steps * rows * G : 0);
  int64_t filled = 0;  // rows in the chunk
  auto flush = [&]() {
    if (filled == 0) return;
    if (pack_dz) pack_panels(dz_chunk.data(), G, filled, G, dz_packed.data());
    multiply_add(h_chunk.data(), 1, H, dz_chunk.data(), G, dw, G, H, filled, G, pack_dz ? dz_packed.data() : nullptr);
    filled = 0;
  };
  for (int64_t t = s.steps - 1; t >= 0; --t) {
    const int64_t at = (m * s.steps + t) * s.batch + row;
    const int64_t in = at * H;
    gates_backward(H, rows, dh_out + in, c + in, t > 0 ? c + in - s.batch * H : zeros.data(), gi + in, gf + in,
                   gg + in, go + in, dh_next.data(), dc_next.data(), dz + at * G);
    if (t > 0) {
      std::fill(dh_next.begin(), dh_next.end(), 0.0f);
      multiply_add(dz + at * G, G, 1, w_t, H, dh_next.data(), H, rows, G, H, w_t_packed);
      std::memcpy(h_chunk.data() + filled * H, h + in - s.batch * H, rows * H * sizeof(float));
      std::memcpy(dz_chunk.data() + filled * G, dz + at * G, rows * G * sizeof(float));
      filled += rows;
      if (filled == chunk_steps * rows) flush();
    }
  }
  flush();
}

// How a call's work splits: every member's rows in blocks of whole micro-kernel rows, four blocks per thread, so a
// helper that starts late, or runs slower (a vCPU whose core is shared), still takes its share. Four against two
// per thread, train steps A/B in one process: L 6-10% faster, W 3-15%, M within noise (benchmarks/RESULTS.md).
// A block has at least 8 rows: each block reads the whole recurrent weight every step, and AVX2's 4-row blocks
// read it twice as often as they need to (16 rows x 256 units, AVX2: 23-27 ms a pass -> 11-13).
struct Pieces {
  int64_t threads, blocks, rows_per_block, total;
};

constexpr int64_t kPieceRows = kRows < 8 ? 8 : kRows;

Pieces split_rows(const Shape& s, ffi::ThreadPool& pool) {
  const int64_t threads =
      std::max<int64_t>(1, std::min<int64_t>(pool.num_threads(), std::thread::hardware_concurrency()));
  const int64_t per_member = std::max<int64_t>(1, std::min<int64_t>((s.batch + kPieceRows - 1) / kPieceRows,
                                                                  (4 * threads + s.members - 1) / s.members));
  const int64_t block = (s.batch + per_member - 1) / per_member;
  const int64_t rows_per_block = (block + kRows - 1) / kRows * kRows;
  const int64_t blocks = (s.batch + rows_per_block - 1) / rows_per_block;
  return {threads, blocks, rows_per_block, s.members * blocks};
}

// Runs piece(k, m, row, rows) for every piece k (member m, rows [row, row + rows)) on the caller and XLA's
// intra-op threads. Pieces are claimed from a counter, so the caller finishes alone if the pool is busy; helpers
// that start after the work is gone touch nothing but the shared counters.
void run_pieces(ffi::ThreadPool& pool, const Shape& s, const Pieces& p,
                const std::function<void(int64_t, int64_t, int64_t, int64_t)>& piece) {
  struct Counters {
    std::atomic<int64_t> next{0}, done{0};
  };
  auto counters = std::make_shared<Counters>();
  const int64_t total = p.total;
  auto work = [counters, total, &p, &s, &piece]() {
    for (int64_t k; (k = counters->next.fetch_add(1)) < total;) {
      const int64_t row = (k % p.blocks) * p.rows_per_block;
      piece(k, k / p.blocks, row, std::min(p.rows_per_block, s.batch - row));
      counters->done.fetch_add(1, std::memory_order_release);
    }
  };
  for (int64_t t = 1; t < std::min(p.threads, total); ++t) {
    // A helper gets only the counters if it starts late: everything else it needs is alive until done == total.
    pool.Schedule([counters, total, work]() {
      if (counters->next.load() < total) work();
    });
  }
  work();
  while (counters->done.load(std::memory_order_acquire) < total) std::this_thread::yield();
}

ffi::Error shape_of(ffi::AnyBuffer::Dimensions sequence, ffi::AnyBuffer::Dimensions weights, int64_t gates,
                    Shape* s) {
  if (sequence.size() < 3 || weights.size() < 2) return ffi::Error::InvalidArgument("lstm kernel: rank too small");
  const int64_t rank = sequence.size();
  s->hidden = weights[weights.size() - 2];
  if (weights.back() != 4 * s->hidden || sequence.back() != gates * s->hidden)
    return ffi::Error::InvalidArgument("lstm kernel: the gate axis must be 4 x hidden");
  s->steps = sequence[rank - 3];
  s->batch = sequence[rank - 2];
  s->members = 1;
  for (int64_t d = 0; d < rank - 3; ++d) s->members *= sequence[d];
  int64_t weight_members = 1;
  for (size_t d = 0; d + 2 < weights.size(); ++d) weight_members *= weights[d];
  if (weight_members != 1 && weight_members != s->members)
    return ffi::Error::InvalidArgument("lstm kernel: weights and sequences disagree on leading dimensions");
  s->shared_weights = weight_members == 1;
  return ffi::Error::Success();
}

ffi::Error forward(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> gates_in, ffi::Buffer<ffi::F32> w,
                   ffi::ResultBuffer<ffi::F32> h, ffi::ResultBuffer<ffi::F32> c, ffi::ResultBuffer<ffi::F32> gi,
                   ffi::ResultBuffer<ffi::F32> gf, ffi::ResultBuffer<ffi::F32> gg, ffi::ResultBuffer<ffi::F32> go) {
  Shape s;
  if (ffi::Error error = shape_of(gates_in.dimensions(), w.dimensions(), 4, &s); error.failure()) return error;
  const Weights weights(s, w.typed_data(), false);
  run_pieces(pool, s, split_rows(s, pool), [&](int64_t, int64_t m, int64_t row, int64_t rows) {
    forward_piece(s, m, row, rows, gates_in.typed_data(), weights, h->typed_data(), c->typed_data(),
                  gi->typed_data(), gf->typed_data(), gg->typed_data(), go->typed_data());
  });
  return ffi::Error::Success();
}

ffi::Error backward(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> dh, ffi::Buffer<ffi::F32> h,
                    ffi::Buffer<ffi::F32> c, ffi::Buffer<ffi::F32> gi, ffi::Buffer<ffi::F32> gf,
                    ffi::Buffer<ffi::F32> gg, ffi::Buffer<ffi::F32> go, ffi::Buffer<ffi::F32> w,
                    ffi::ResultBuffer<ffi::F32> dz, ffi::ResultBuffer<ffi::F32> dw) {
  Shape s;
  if (ffi::Error error = shape_of(dh.dimensions(), w.dimensions(), 1, &s); error.failure()) return error;
  const Pieces p = split_rows(s, pool);
  const int64_t size = s.hidden * 4 * s.hidden;
  std::vector<float> partial(p.total * size, 0.0f);  // each piece's share of dw, summed per member below
  const Weights transposed(s, w.typed_data(), true);
  run_pieces(pool, s, p, [&](int64_t k, int64_t m, int64_t row, int64_t rows) {
    backward_piece(s, m, row, rows, dh.typed_data(), h.typed_data(), c.typed_data(), gi.typed_data(),
                   gf.typed_data(), gg.typed_data(), go.typed_data(), transposed, dz->typed_data(),
                   partial.data() + k * size);
  });
  float* out = dw->typed_data();
  std::fill(out, out + (s.shared_weights ? 1 : s.members) * size, 0.0f);
  for (int64_t k = 0; k < p.total; ++k) {
    float* target = out + (s.shared_weights ? 0 : k / p.blocks * size);
    const float* from = partial.data() + k * size;
    for (int64_t j = 0; j < size; ++j) target[j] += from[j];
  }
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(JaxseriesLstmForward, forward,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>());

XLA_FFI_DEFINE_HANDLER_SYMBOL(JaxseriesLstmBackward, backward,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>());

// Checked by the loader: a library built from another version of this file is not used.
extern "C" int jaxseries_lstm_kernel_version() { return 4; }
