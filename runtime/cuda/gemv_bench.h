/* gemv_bench.h - see gemv_bench.c. */
#ifndef QRT_GEMV_BENCH_H
#define QRT_GEMV_BENCH_H

#include "cuda_backend.h"

/* Times the 4-bit and byte-code GEMVs of `module` on a rows x cols weight
 * (groups of 128) and prints GB/s beside the copy bandwidth; 0, or 1 after
 * printing an error. */
int qrt_bench_gemv(qrt_cuda *cuda, qrt_cu_module module, int64_t rows, int64_t cols,
                   int repeats);

#endif
