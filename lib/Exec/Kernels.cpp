//===- Kernels.cpp - float kernels of the reference executor ---------------===//
#include "qopt/Exec/Kernels.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace qopt::kernels {

float dot(const float *a, const float *b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j)
      acc[j] += a[i + j] * b[i + j];
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i)
    s += a[i] * b[i];
  return s;
}

void linear(ThreadPool &pool, const float *x, int64_t M, int64_t K, const float *w,
            int64_t N, const float *bias, float *y) {
  // Parallel over output features; within a chunk, a small block of weight
  // rows stays in cache while every input row streams past it.
  constexpr int64_t kRowBlock = 16;
  int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, K * M));
  pool.parallelFor(N, grain, [&](int64_t begin, int64_t end) {
    for (int64_t n0 = begin; n0 < end; n0 += kRowBlock) {
      int64_t n1 = std::min(end, n0 + kRowBlock);
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = n0; n < n1; ++n)
          y[m * N + n] = dot(x + m * K, w + n * K, K) + (bias ? bias[n] : 0.0f);
    }
  });
}

void matmul(ThreadPool &pool, const float *a, int64_t M, int64_t K, const float *b,
            int64_t N, float *y) {
  pool.parallelFor(M, 1, [&](int64_t begin, int64_t end) {
    for (int64_t m = begin; m < end; ++m) {
      float *row = y + m * N;
      std::fill(row, row + N, 0.0f);
      for (int64_t k = 0; k < K; ++k) {
        float s = a[m * K + k];
        for (int64_t n = 0; n < N; ++n)
          row[n] += s * b[k * N + n];
      }
    }
  });
}

void rmsNorm(const float *x, int64_t M, int64_t D, const float *w, float eps, float *y) {
  for (int64_t m = 0; m < M; ++m) {
    const float *xr = x + m * D;
    float ss = dot(xr, xr, D) / float(D) + eps;
    float inv = 1.0f / std::sqrt(ss);
    for (int64_t i = 0; i < D; ++i)
      y[m * D + i] = w[i] * (inv * xr[i]);
  }
}

void rope(const float *x, int64_t M, int64_t width, int64_t headDim, int64_t pos0,
          float theta, bool interleaved, const float *freqScale, float *y) {
  int64_t half = headDim / 2;
  std::vector<float> freq(half);
  for (int64_t j = 0; j < half; ++j) {
    freq[j] = 1.0f / std::pow(theta, float(2 * j) / float(headDim));
    if (freqScale) // the runtime's qrt_rope multiplies in the same order
      freq[j] *= freqScale[j];
  }
  for (int64_t m = 0; m < M; ++m) {
    float pos = float(pos0 + m);
    for (int64_t h = 0; h < width / headDim; ++h) {
      const float *xh = x + m * width + h * headDim;
      float *yh = y + m * width + h * headDim;
      for (int64_t j = 0; j < half; ++j) {
        float angle = pos * freq[j];
        float c = std::cos(angle), s = std::sin(angle);
        int64_t a = interleaved ? 2 * j : j;
        int64_t b = interleaved ? 2 * j + 1 : j + half;
        float x0 = xh[a], x1 = xh[b];
        yh[a] = x0 * c - x1 * s;
        yh[b] = x0 * s + x1 * c;
      }
    }
  }
}

void attention(ThreadPool &pool, const float *q, const float *k, const float *v,
               int64_t M, int64_t pos0, KVSlice cache, int64_t numHeads,
               int64_t numKvHeads, int64_t headDim, float scale, int64_t window,
               float *out) {
  int64_t kvWidth = numKvHeads * headDim, qWidth = numHeads * headDim;
  std::copy(k, k + M * kvWidth, cache.keys + pos0 * kvWidth);
  std::copy(v, v + M * kvWidth, cache.values + pos0 * kvWidth);
  int64_t group = numHeads / numKvHeads;
  // One task per (row, head); each computes its own softmax.
  pool.parallelFor(M * numHeads, 4, [&](int64_t begin, int64_t end) {
    std::vector<float> scores(pos0 + M);
    for (int64_t task = begin; task < end; ++task) {
      int64_t m = task / numHeads, h = task % numHeads;
      int64_t kvh = h / group, last = pos0 + m;
      int64_t first = window > 0 && last - window + 1 > 0 ? last - window + 1 : 0;
      const float *qh = q + m * qWidth + h * headDim;
      float maxScore = -INFINITY;
      for (int64_t t = first; t <= last; ++t) {
        scores[t] = dot(qh, cache.keys + t * kvWidth + kvh * headDim, headDim) * scale;
        maxScore = std::max(maxScore, scores[t]);
      }
      float sum = 0.0f;
      for (int64_t t = first; t <= last; ++t) {
        scores[t] = std::exp(scores[t] - maxScore);
        sum += scores[t];
      }
      float *oh = out + m * qWidth + h * headDim;
      std::fill(oh, oh + headDim, 0.0f);
      for (int64_t t = first; t <= last; ++t) {
        float a = scores[t] / sum;
        const float *vt = cache.values + t * kvWidth + kvh * headDim;
        for (int64_t i = 0; i < headDim; ++i)
          oh[i] += a * vt[i];
      }
    }
  });
}

void silu(const float *x, int64_t n, float *y) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = x[i] * (1.0f / (1.0f + std::exp(-x[i])));
}

void gelu(const float *x, int64_t n, bool tanhApprox, float *y) {
  for (int64_t i = 0; i < n; ++i) {
    float v = x[i];
    if (tanhApprox)
      y[i] = 0.5f * v * (1.0f + std::tanh(0.7978845608f * (v + 0.044715f * v * v * v)));
    else
      y[i] = 0.5f * v * (1.0f + std::erf(v * 0.70710678118f));
  }
}

void swiglu(const float *gate, const float *up, int64_t n, float *y) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = gate[i] * (1.0f / (1.0f + std::exp(-gate[i]))) * up[i];
}

void add(const float *a, const float *b, int64_t n, float *y) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = a[i] + b[i];
}

void mul(const float *a, const float *b, int64_t n, float *y) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = a[i] * b[i];
}

double negativeLogLikelihood(llvm::ArrayRef<float> logits, int32_t target) {
  double maxLogit = logits[0];
  for (float l : logits)
    maxLogit = std::max(maxLogit, double(l));
  double sum = 0;
  for (float l : logits)
    sum += std::exp(double(l) - maxLogit);
  return std::log(sum) + maxLogit - double(logits[target]);
}

void dynamicQuantRows(const float *x, int64_t rows, int64_t cols, int64_t bits,
                      llvm::ArrayRef<bool> keep, float *y) {
  float qmax = float((int64_t(1) << (bits - 1)) - 1);
  for (int64_t r = 0; r < rows; ++r) {
    const float *xr = x + r * cols;
    float *yr = y + r * cols;
    float absmax = 0;
    for (int64_t c = 0; c < cols; ++c)
      if (!keep[c])
        absmax = std::max(absmax, std::fabs(xr[c]));
    float scale = absmax > 0 ? absmax / qmax : 1.0f;
    for (int64_t c = 0; c < cols; ++c)
      yr[c] = keep[c] ? xr[c] : std::clamp(std::nearbyint(xr[c] / scale), -qmax, qmax) * scale;
  }
}

void int8KvRow(const float *x, int64_t n, float *y) {
  float absmax = 0;
  for (int64_t i = 0; i < n; ++i)
    absmax = std::max(absmax, std::fabs(x[i]));
  float scale = absmax > 0 ? absmax / 127.0f : 1.0f;
  for (int64_t i = 0; i < n; ++i)
    y[i] = std::clamp(std::nearbyint(x[i] / scale), -127.0f, 127.0f) * scale;
}

} // namespace qopt::kernels
