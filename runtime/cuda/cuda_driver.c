/* cuda_driver.c - see cuda_driver.h. */
#include "cuda_driver.h"
#include "qrt_common.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *qrt_cuda_error(const qrt_cuda *cuda, qrt_cu_result result) {
  const char *text = NULL;
  if (cuda && cuda->cuGetErrorString && cuda->cuGetErrorString(result, &text) == 0 && text)
    return text;
  return "unknown CUDA error";
}

/* The versioned names are what cuda.h's macros map the plain names to. */
static int resolve(qrt_cuda *c, char *err, size_t len) {
  struct {
    void **slot;
    const char *name;
  } table[] = {
      {(void **)&c->cuInit, "cuInit"},
      {(void **)&c->cuDeviceGetCount, "cuDeviceGetCount"},
      {(void **)&c->cuDeviceGet, "cuDeviceGet"},
      {(void **)&c->cuDeviceGetName, "cuDeviceGetName"},
      {(void **)&c->cuDeviceGetAttribute, "cuDeviceGetAttribute"},
      {(void **)&c->cuCtxCreate, "cuCtxCreate_v2"},
      {(void **)&c->cuCtxDestroy, "cuCtxDestroy_v2"},
      {(void **)&c->cuCtxSynchronize, "cuCtxSynchronize"},
      {(void **)&c->cuModuleLoadData, "cuModuleLoadData"},
      {(void **)&c->cuModuleGetFunction, "cuModuleGetFunction"},
      {(void **)&c->cuMemAlloc, "cuMemAlloc_v2"},
      {(void **)&c->cuMemFree, "cuMemFree_v2"},
      {(void **)&c->cuMemcpyHtoD, "cuMemcpyHtoD_v2"},
      {(void **)&c->cuMemcpyDtoH, "cuMemcpyDtoH_v2"},
      {(void **)&c->cuMemcpyDtoD, "cuMemcpyDtoD_v2"},
      {(void **)&c->cuMemsetD8, "cuMemsetD8_v2"},
      {(void **)&c->cuModuleUnload, "cuModuleUnload"},
      {(void **)&c->cuLaunchKernel, "cuLaunchKernel"},
      {(void **)&c->cuGetErrorString, "cuGetErrorString"},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; ++i) {
    *table[i].slot = dlsym(c->lib, table[i].name);
    if (!*table[i].slot) {
      qrt_set_error(err, len, "the NVIDIA driver library lacks %s (driver too old?)", table[i].name);
      return -1;
    }
  }
  return 0;
}

int qrt_cuda_open(qrt_cuda *c, int ordinal, char *err, size_t len) {
  memset(c, 0, sizeof *c);
  /* QRT_CUDA_DRIVER names another driver library: the tests' stand-in
   * (test/cuda/mock_driver.c) on machines without a GPU. */
  const char *path = getenv("QRT_CUDA_DRIVER");
  if (!path || !*path)
    path = "libcuda.so.1";
  c->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!c->lib) {
    const char *why = dlerror();
    qrt_set_error(err, len, "no NVIDIA driver: cannot load %s (%s)", path,
                  why ? why : "not found");
    return -1;
  }
  if (resolve(c, err, len) != 0)
    goto fail;
  qrt_cu_result r = c->cuInit(0);
  if (r != 0) {
    qrt_set_error(err, len, "the NVIDIA driver failed to initialize: %s", qrt_cuda_error(c, r));
    goto fail;
  }
  int count = 0;
  r = c->cuDeviceGetCount(&count);
  if (r != 0 || count == 0) {
    qrt_set_error(err, len, "no CUDA device found%s%s", r ? ": " : "", r ? qrt_cuda_error(c, r) : "");
    goto fail;
  }
  if (ordinal < 0 || ordinal >= count) {
    qrt_set_error(err, len, "CUDA device %d does not exist (%d found)", ordinal, count);
    goto fail;
  }
  if ((r = c->cuDeviceGet(&c->device, ordinal)) != 0 ||
      (r = c->cuDeviceGetName(c->name, (int)sizeof c->name, c->device)) != 0 ||
      (r = c->cuDeviceGetAttribute(&c->cc_major, QRT_CU_ATTR_CC_MAJOR, c->device)) != 0 ||
      (r = c->cuDeviceGetAttribute(&c->cc_minor, QRT_CU_ATTR_CC_MINOR, c->device)) != 0 ||
      (r = c->cuCtxCreate(&c->context, 0, c->device)) != 0) {
    qrt_set_error(err, len, "cannot open CUDA device %d: %s", ordinal, qrt_cuda_error(c, r));
    goto fail;
  }
  return 0;
fail:
  dlclose(c->lib);
  memset(c, 0, sizeof *c);
  return -1;
}

void qrt_cuda_close(qrt_cuda *c) {
  if (!c || !c->lib)
    return;
  if (c->context)
    c->cuCtxDestroy(c->context);
  dlclose(c->lib);
  memset(c, 0, sizeof *c);
}

double qrt_cuda_copy_bandwidth(qrt_cuda *c, qrt_cu_deviceptr dst, qrt_cu_deviceptr src,
                               size_t bytes) {
  double best = 0.0;
  for (int i = 0; i < 6; ++i) {
    double t0 = qrt_seconds();
    if (c->cuMemcpyDtoD(dst, src, bytes) != 0 || c->cuCtxSynchronize() != 0)
      return 0.0;
    double gbps = 2.0 * (double)bytes / (qrt_seconds() - t0) / 1e9;
    if (i > 0 && gbps > best)
      best = gbps;
  }
  return best;
}
