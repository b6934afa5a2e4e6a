/* kernel_bench.h - the kernel benchmarks of qrt-cuda-info: decode GEMVs
 * against the copy bandwidth (gemv_bench.c), prefill GEMMs checked against
 * the GEMVs and timed beside them (gemm_bench.c). */
#ifndef QRT_KERNEL_BENCH_H
#define QRT_KERNEL_BENCH_H

#include "cuda_backend.h"

/* Times the 4-bit and byte-code GEMVs of `module` on a rows x cols weight
 * (groups of 128) and prints GB/s beside the copy bandwidth; 0, or 1 after
 * printing an error. */
int qrt_bench_gemv(qrt_cuda *cuda, qrt_cu_module module, int64_t rows, int64_t cols, int repeats);

/* Runs the tensor-core GEMMs of `module` (w4 g128, w8 g128, W8A8 per
 * channel) on a random rows x cols weight and `tokens` random activation
 * rows, compares each with its GEMV over the same tokens, and times both;
 * 0, or 1 after printing an error or a mismatch. */
int qrt_bench_gemm(qrt_cuda *cuda, qrt_cu_module module, int64_t rows, int64_t cols, int64_t tokens,
                   int repeats);

/* Seconds per launch of `fn` over `repeats` launches after a warm-up; -1
 * on an error. */
double qrt_time_launches(qrt_cuda *c, qrt_cu_function fn, unsigned gx, unsigned gy, unsigned bx,
                         unsigned by, void **params, int repeats);

#endif
