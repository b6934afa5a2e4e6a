/* qrt_dense.h - the runtime's f32 prefill kernels on a plain row-major
 * matrix, for code outside a program: the compiler's calibration forward
 * and its Hessians X^T X (lib/Exec/FastLinear.cpp) run on the same kernels
 * the built programs prefill with, at their speed.
 *
 * y[t * rows + r] = sum_k x[t * cols + k] * w[r * cols + k] for tokens
 * t < n and rows r in [r0, r1). A row's result depends on neither n, r0,
 * r1 nor the calling thread (the panel kernels sum 32 columns at a time
 * into the total, the same for every split), so callers may split rows
 * over threads and still get bit-identical outputs. */
#ifndef QRT_DENSE_H
#define QRT_DENSE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Floats of scratch one call needs (per thread). */
size_t qrt_dense_scratch_floats(int64_t cols);
/* The kernel family the calls run (the best this CPU has, or QRT_ISA's). */
const char *qrt_dense_family(void);
void qrt_dense_rows(const float *x, int64_t n, int64_t cols, const float *w, int64_t rows,
                    int64_t r0, int64_t r1, float *y, float *scratch);

#ifdef __cplusplus
}
#endif

#endif
