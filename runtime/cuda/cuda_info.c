/* qrt-cuda-info - what the NVPTX target's runtime sees on this machine:
 *
 *   qrt-cuda-info [--device N] [--ptx FILE [--bench-gemv] [--bench-gemm [R,C,N]]]
 *
 * Prints the device and its compute capability, or exits 1 with the reason
 * there is none (no driver, no device). With --ptx, loads the module through
 * the driver's JIT and resolves every qnt_* kernel named in it; with
 * --bench-gemv, also times its decode GEMVs against the copy bandwidth
 * (gemv_bench.c); with --bench-gemm, checks its prefill GEMMs against the
 * GEMVs and times both on an R x C weight and N tokens (gemm_bench.c;
 * 4096,4096,512 by default). */
#include "cuda_driver.h"
#include "kernel_bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = n >= 0 ? (char *)malloc((size_t)n + 1) : NULL;
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  if (buf)
    buf[n] = 0;
  fclose(f);
  return buf;
}

int main(int argc, char **argv) {
  int device = 0;
  const char *ptx_path = NULL;
  int bench = 0, bench_gemm = 0;
  long long shape[3] = {4096, 4096, 512};
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--bench-gemv")) {
      bench = 1;
    } else if (!strcmp(argv[i], "--bench-gemm")) {
      bench_gemm = 1;
      if (i + 1 < argc && argv[i + 1][0] != '-') {
        char tail = 0;
        if (sscanf(argv[++i], "%lld,%lld,%lld%c", &shape[0], &shape[1], &shape[2], &tail) != 3 ||
            shape[0] < 1 || shape[1] < 1 || shape[2] < 1) {
          fprintf(stderr, "%s: error: --bench-gemm takes ROWS,COLS,TOKENS (positive), not '%s'\n",
                  argv[0], argv[i]);
          return 2;
        }
      }
    } else if (!strcmp(argv[i], "--device") && i + 1 < argc) {
      device = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "--ptx") && i + 1 < argc) {
      ptx_path = argv[++i];
    } else {
      fprintf(stderr, "usage: %s [--device N] [--ptx FILE [--bench-gemv] [--bench-gemm [R,C,N]]]\n",
              argv[0]);
      return 2;
    }
  }
  if ((bench || bench_gemm) && !ptx_path) {
    fprintf(stderr, "%s: error: %s needs --ptx FILE (the kernels to time)\n", argv[0],
            bench ? "--bench-gemv" : "--bench-gemm");
    return 2;
  }
  char *ptx = NULL;
  if (ptx_path && !(ptx = read_file(ptx_path))) {
    fprintf(stderr, "%s: error: cannot read %s\n", argv[0], ptx_path);
    return 1;
  }
  qrt_cuda cuda;
  char err[512];
  if (qrt_cuda_open(&cuda, device, err, sizeof err) != 0) {
    fprintf(stderr, "%s: error: %s\n", argv[0], err);
    free(ptx);
    return 1;
  }
  printf("device %d: %s, sm_%d%d\n", device, cuda.name, cuda.cc_major, cuda.cc_minor);
  int rc = 0;
  if (ptx) {
    qrt_cu_module module = NULL;
    qrt_cu_result r = cuda.cuModuleLoadData(&module, ptx);
    int loaded = r == 0;
    if (r != 0) {
      fprintf(stderr, "%s: error: loading %s: %s\n", argv[0], ptx_path, qrt_cuda_error(&cuda, r));
      rc = 1;
    }
    /* every ".entry NAME(" of the module */
    for (const char *p = ptx; rc == 0 && (p = strstr(p, ".entry ")); ) {
      p += 7;
      size_t n = strcspn(p, "( \n");
      char name[128];
      snprintf(name, sizeof name, "%.*s", (int)n, p);
      qrt_cu_function fn;
      if ((r = cuda.cuModuleGetFunction(&fn, module, name)) != 0) {
        fprintf(stderr, "%s: error: kernel %s: %s\n", argv[0], name, qrt_cuda_error(&cuda, r));
        rc = 1;
      } else {
        printf("kernel %s: loaded\n", name);
      }
    }
    /* 16384 x 8192: 64 MiB of 4-bit codes, 128 MiB of bytes */
    if (rc == 0 && bench)
      rc = qrt_bench_gemv(&cuda, module, 16384, 8192, 50);
    if (rc == 0 && bench_gemm)
      rc = qrt_bench_gemm(&cuda, module, shape[0], shape[1], shape[2], 20);
    if (loaded)
      cuda.cuModuleUnload(module);
  }
  qrt_cuda_close(&cuda);
  free(ptx);
  return rc;
}
