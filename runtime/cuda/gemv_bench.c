/* gemv_bench.c - `qrt-cuda-info --ptx FILE --bench-gemv`: the decode GEMVs
 * alone, on weights large enough to stream from device memory (several
 * times the L2 of current GPUs), timed beside the device-to-device copy
 * bandwidth measured the same way. Batch 1 (one token), as decode runs. */
#include "kernel_bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bench_case {
  const char *kernel, *label;
  int64_t row_bytes_per_col_x2; /* 1: 4-bit (half a byte per weight), 2: one byte */
} bench_case;

double qrt_time_launches(qrt_cuda *c, qrt_cu_function fn, unsigned gx, unsigned gy, unsigned bx,
                         unsigned by, void **params, int repeats) {
  for (int i = 0; i < 3; ++i)
    if (c->cuLaunchKernel(fn, gx, gy, 1, bx, by, 1, 0, NULL, params, NULL) != 0)
      return -1;
  if (c->cuCtxSynchronize() != 0)
    return -1;
  double t0 = qrt_seconds();
  for (int i = 0; i < repeats; ++i)
    c->cuLaunchKernel(fn, gx, gy, 1, bx, by, 1, 0, NULL, params, NULL);
  if (c->cuCtxSynchronize() != 0)
    return -1;
  return (qrt_seconds() - t0) / repeats;
}

int qrt_bench_gemv(qrt_cuda *c, qrt_cu_module module, int64_t rows, int64_t cols, int repeats) {
  const bench_case cases[] = {{"qnt_gemv_q4", "w4 g128", 1}, {"qnt_gemv_codes", "w8 g128", 2}};
  int64_t group = 128, groups = cols / group;
  size_t max_data = (size_t)(rows * cols), scales = (size_t)(rows * groups);
  qrt_cu_deviceptr w = 0, s = 0, z = 0, x = 0, y = 0, copy = 0;
  int rc = 1;
  if (c->cuMemAlloc(&w, max_data) || c->cuMemAlloc(&s, scales * 2) || c->cuMemAlloc(&z, scales) ||
      c->cuMemAlloc(&x, (size_t)cols * 4) || c->cuMemAlloc(&y, (size_t)rows * 4) ||
      c->cuMemAlloc(&copy, max_data)) {
    fprintf(stderr, "qrt-cuda-info: error: cannot allocate %.0f MiB for the benchmark\n",
            2.0 * (double)max_data / 1048576.0);
    goto done;
  }
  /* codes and zero points 0x11 (weights 0), f16 scales 1.0, x 0: finite */
  c->cuMemsetD8(w, 0x11, max_data);
  c->cuMemsetD8(z, 0x01, scales);
  c->cuMemsetD8(s, 0x00, scales * 2);
  c->cuMemsetD8(x, 0x00, (size_t)cols * 4);
  double best_copy = qrt_cuda_copy_bandwidth(c, copy, w, max_data);
  printf("device-to-device copy: %.0f GB/s (read + write, %.0f MiB)\n", best_copy,
         (double)max_data / 1048576.0);
  rc = 0;
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; ++k) {
    qrt_cu_function fn;
    if (c->cuModuleGetFunction(&fn, module, cases[k].kernel) != 0) {
      fprintf(stderr, "qrt-cuda-info: error: the PTX lacks %s\n", cases[k].kernel);
      rc = 1;
      continue;
    }
    int64_t row_bytes = cases[k].row_bytes_per_col_x2 == 1 ? cols / 2 : cols;
    qrt_gpu_args a;
    memset(&a, 0, sizeof a);
    qrt_gpu_memref(&a, w, rows * row_bytes);
    qrt_gpu_memref(&a, s, (int64_t)scales);
    qrt_gpu_memref(&a, z, (int64_t)scales);
    qrt_gpu_memref(&a, x, cols);
    qrt_gpu_memref(&a, y, rows);
    qrt_gpu_index(&a, rows);
    qrt_gpu_index(&a, cols);
    qrt_gpu_index(&a, row_bytes);
    qrt_gpu_index(&a, groups);
    qrt_gpu_index(&a, group);
    double sec = qrt_time_launches(c, fn, (unsigned)((rows + 3) / 4), 1, 32, 4, a.params, repeats);
    if (sec <= 0) {
      fprintf(stderr, "qrt-cuda-info: error: launching %s failed\n", cases[k].kernel);
      rc = 1;
      continue;
    }
    double bytes = (double)(rows * row_bytes) + (double)scales * 3 + (double)cols * 4;
    double gbps = bytes / sec / 1e9;
    printf("%s %s %lldx%lld: %.1f us per call, %.0f GB/s, %.0f%% of the copy bandwidth\n",
           cases[k].kernel, cases[k].label, (long long)rows, (long long)cols, sec * 1e6, gbps,
           best_copy > 0 ? 100.0 * gbps / best_copy : 0.0);
  }
done:
  qrt_cu_deviceptr bufs[] = {w, s, z, x, y, copy};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; ++i)
    if (bufs[i])
      c->cuMemFree(bufs[i]);
  return rc;
}
