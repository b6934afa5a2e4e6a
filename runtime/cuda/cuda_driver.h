/* cuda_driver.h - the CUDA driver API, loaded at run time.
 *
 * The NVPTX target's programs must start on machines without a GPU and say
 * why they cannot run, so nothing links against libcuda: qrt_cuda_open
 * dlopens libcuda.so.1 and resolves the few entry points the runtime uses.
 * The declarations below are the driver API's stable C ABI (cuda.h), kept
 * here so that the runtime builds without the CUDA toolkit. */
#ifndef QRT_CUDA_DRIVER_H
#define QRT_CUDA_DRIVER_H

#include <stddef.h>
#include <stdint.h>

typedef int qrt_cu_result; /* CUresult: 0 is CUDA_SUCCESS */
typedef int qrt_cu_device;
typedef struct qrt_cu_context_st *qrt_cu_context;
typedef struct qrt_cu_module_st *qrt_cu_module;
typedef struct qrt_cu_function_st *qrt_cu_function;
typedef unsigned long long qrt_cu_deviceptr;

/* CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR / _MINOR */
#define QRT_CU_ATTR_CC_MAJOR 75
#define QRT_CU_ATTR_CC_MINOR 76

typedef struct qrt_cuda {
  void *lib;
  qrt_cu_device device;
  qrt_cu_context context;
  int cc_major, cc_minor;
  char name[256];
  qrt_cu_result (*cuInit)(unsigned flags);
  qrt_cu_result (*cuDeviceGetCount)(int *count);
  qrt_cu_result (*cuDeviceGet)(qrt_cu_device *device, int ordinal);
  qrt_cu_result (*cuDeviceGetName)(char *name, int len, qrt_cu_device device);
  qrt_cu_result (*cuDeviceGetAttribute)(int *value, int attribute, qrt_cu_device device);
  qrt_cu_result (*cuCtxCreate)(qrt_cu_context *ctx, unsigned flags, qrt_cu_device device);
  qrt_cu_result (*cuCtxDestroy)(qrt_cu_context ctx);
  qrt_cu_result (*cuCtxSynchronize)(void);
  qrt_cu_result (*cuModuleLoadData)(qrt_cu_module *module, const void *image);
  qrt_cu_result (*cuModuleGetFunction)(qrt_cu_function *fn, qrt_cu_module module,
                                       const char *name);
  qrt_cu_result (*cuMemAlloc)(qrt_cu_deviceptr *ptr, size_t bytes);
  qrt_cu_result (*cuMemFree)(qrt_cu_deviceptr ptr);
  qrt_cu_result (*cuMemcpyHtoD)(qrt_cu_deviceptr dst, const void *src, size_t bytes);
  qrt_cu_result (*cuMemcpyDtoH)(void *dst, qrt_cu_deviceptr src, size_t bytes);
  qrt_cu_result (*cuMemcpyDtoD)(qrt_cu_deviceptr dst, qrt_cu_deviceptr src, size_t bytes);
  qrt_cu_result (*cuMemsetD8)(qrt_cu_deviceptr dst, unsigned char value, size_t bytes);
  qrt_cu_result (*cuModuleUnload)(qrt_cu_module module);
  qrt_cu_result (*cuLaunchKernel)(qrt_cu_function fn, unsigned gx, unsigned gy, unsigned gz,
                                  unsigned bx, unsigned by, unsigned bz, unsigned shared,
                                  void *stream, void **params, void **extra);
  qrt_cu_result (*cuGetErrorString)(qrt_cu_result error, const char **text);
} qrt_cuda;

/* Loads the driver, initializes it and opens a context on device `ordinal`.
 * Returns 0, or -1 with a one-line reason in err: no driver library, a
 * driver that fails to initialize, no device, a device that cannot be
 * opened. */
int qrt_cuda_open(qrt_cuda *cuda, int ordinal, char *err, size_t err_len);
void qrt_cuda_close(qrt_cuda *cuda);
/* Device-to-device copy bandwidth in GB/s over `bytes` from src to dst,
 * counting bytes read and written (as CUDA's bandwidthTest does): the best
 * of 5 copies after a warm-up. */
double qrt_cuda_copy_bandwidth(qrt_cuda *cuda, qrt_cu_deviceptr dst, qrt_cu_deviceptr src,
                               size_t bytes);
/* "CUDA_ERROR_..." text of a driver result. */
const char *qrt_cuda_error(const qrt_cuda *cuda, qrt_cu_result result);

#endif
