// Issue 25's oneDNN lever sized without PyTorch: oneDNN's vanilla LSTM primitive called directly, forward_training
// then backward, one layer, x [T, N, 1], the same shapes and call counts as onednn.py. The weights arrive in ldigo (our
// fused [C, 4H] layout, gates i, f, c~, o) and are reordered to the primitive's choice every call, as an FFI path
// would have to (they change every step); the weight gradients are reordered back. Built and run by onednn.py
// against the bench extra's onednn-cpu-gomp; prints one JSON object per shape: seconds per pass, best of 7.
#include <chrono>
#include <cstdio>
#include <vector>
#include <algorithm>
#include "oneapi/dnnl/dnnl.hpp"
using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

double run_shape(engine& eng, stream& s, int T, int N, int H, int calls, int repeats) {
  const int C = 1, G = 4;
  memory::dims src_dims = {T, N, C}, dst_dims = {T, N, H};
  memory::dims wl_dims = {1, 1, C, G, H}, wi_dims = {1, 1, H, G, H}, b_dims = {1, 1, G, H};
  auto src_md = memory::desc(src_dims, dt::f32, tag::tnc);
  auto dst_md = memory::desc(dst_dims, dt::f32, tag::tnc);
  auto wl_any = memory::desc(wl_dims, dt::f32, tag::any), wi_any = memory::desc(wi_dims, dt::f32, tag::any);
  auto b_md = memory::desc(b_dims, dt::f32, tag::ldgo);
  memory::desc none;
  auto fwd = lstm_forward::primitive_desc(eng, prop_kind::forward_training, rnn_direction::unidirectional_left2right,
                                          src_md, none, none, wl_any, wi_any, b_md, dst_md, none, none);
  auto bwd = lstm_backward::primitive_desc(eng, prop_kind::backward, rnn_direction::unidirectional_left2right,
                                           src_md, none, none, wl_any, wi_any, b_md, dst_md, none, none,
                                           src_md, none, none, wl_any, wi_any, b_md, dst_md, none, none, fwd);
  std::vector<float> x(T * N * C, 0.1f), wl(C * G * H, 0.05f), wi(H * G * H, 0.01f), b(G * H, 0.0f), dy(T * N * H, 0.1f);
  memory x_m(src_md, eng, x.data()), b_m(b_md, eng, b.data()), dy_m(dst_md, eng, dy.data());
  memory wl_plain({wl_dims, dt::f32, tag::ldigo}, eng, wl.data()), wi_plain({wi_dims, dt::f32, tag::ldigo}, eng, wi.data());
  memory wl_f(fwd.weights_layer_desc(), eng), wi_f(fwd.weights_iter_desc(), eng);
  memory wl_b(bwd.weights_layer_desc(), eng), wi_b(bwd.weights_iter_desc(), eng);
  memory y_m(fwd.dst_layer_desc(), eng), ws(fwd.workspace_desc(), eng);
  memory dx_m(bwd.diff_src_layer_desc(), eng), db_m(bwd.diff_bias_desc(), eng);
  memory dwl(bwd.diff_weights_layer_desc(), eng), dwi(bwd.diff_weights_iter_desc(), eng);
  std::vector<float> dwl_out(C * G * H), dwi_out(H * G * H);
  memory dwl_plain({wl_dims, dt::f32, tag::ldigo}, eng, dwl_out.data()), dwi_plain({wi_dims, dt::f32, tag::ldigo}, eng, dwi_out.data());
  auto f = lstm_forward(fwd);
  auto bw = lstm_backward(bwd);
  auto once = [&]() {
    reorder(wl_plain, wl_f).execute(s, wl_plain, wl_f);
    reorder(wi_plain, wi_f).execute(s, wi_plain, wi_f);
    f.execute(s, {{DNNL_ARG_SRC_LAYER, x_m}, {DNNL_ARG_WEIGHTS_LAYER, wl_f}, {DNNL_ARG_WEIGHTS_ITER, wi_f},
                  {DNNL_ARG_BIAS, b_m}, {DNNL_ARG_DST_LAYER, y_m}, {DNNL_ARG_WORKSPACE, ws}});
    reorder(wl_plain, wl_b).execute(s, wl_plain, wl_b);
    reorder(wi_plain, wi_b).execute(s, wi_plain, wi_b);
    bw.execute(s, {{DNNL_ARG_SRC_LAYER, x_m}, {DNNL_ARG_WEIGHTS_LAYER, wl_b}, {DNNL_ARG_WEIGHTS_ITER, wi_b},
                   {DNNL_ARG_BIAS, b_m}, {DNNL_ARG_DST_LAYER, y_m}, {DNNL_ARG_WORKSPACE, ws},
                   {DNNL_ARG_DIFF_DST_LAYER, dy_m}, {DNNL_ARG_DIFF_SRC_LAYER, dx_m},
                   {DNNL_ARG_DIFF_WEIGHTS_LAYER, dwl}, {DNNL_ARG_DIFF_WEIGHTS_ITER, dwi}, {DNNL_ARG_DIFF_BIAS, db_m}});
    reorder(dwl, dwl_plain).execute(s, dwl, dwl_plain);
    reorder(dwi, dwi_plain).execute(s, dwi, dwi_plain);
    s.wait();
  };
  once();
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    for (int k = 0; k < calls; ++k) once();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / calls);
  }
  return best;
}

int main() {
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  struct { const char* name; int N, T, H, calls; } shapes[] = {
      {"S", 3, 4, 10, 200}, {"M", 64, 32, 64, 20}, {"W", 256, 24, 64, 20}, {"panel", 1024, 54, 64, 3}, {"L", 128, 64, 256, 3}};
  for (auto& sh : shapes)
    std::printf("{\"%s\": %.6f}\n", sh.name, run_shape(eng, s, sh.T, sh.N, sh.H, sh.calls, 7));
}
