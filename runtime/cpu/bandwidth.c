/* bandwidth.c - the machine's memory read bandwidth, measured with the same
 * thread pool the kernels use, as the yardstick for decode speed.
 *
 * Sums a buffer much larger than the last-level cache as 64-bit integers
 * (the loop vectorizes without reassociating floats) split over the
 * model's threads; best of five passes. A model's yardstick is read on
 * huge pages, as the weight tiles are (huge_pages.c), so
 * that page size never flatters a kernel; qrt-weight-stream prints both
 * (on this project's VM they mostly agree: 33.6-35.7 against 34.0-34.4
 * GB/s).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct bandwidth_job {
  const uint64_t *data;
  uint64_t partial[256]; /* per worker */
} bandwidth_job;

static void sum_task(void *raw, int64_t begin, int64_t end, int worker) {
  bandwidth_job *j = (bandwidth_job *)raw;
  uint64_t a = 0, b = 0, c = 0, d = 0;
  int64_t i = begin;
  for (; i + 4 <= end; i += 4) {
    a += j->data[i];
    b += j->data[i + 1];
    c += j->data[i + 2];
    d += j->data[i + 3];
  }
  for (; i < end; ++i)
    a += j->data[i];
  j->partial[worker & 255] += a + b + c + d;
}

double qrt_read_bandwidth(qrt_model *m, int64_t bytes) {
  return qrt_pool_read_bandwidth(m->pool, bytes, 1);
}

double qrt_pool_read_bandwidth(qrt_pool *pool, int64_t bytes, int huge_pages) {
  int64_t n = bytes / 8;
  uint64_t *buf = n <= 0       ? NULL
                  : huge_pages ? (uint64_t *)qrt_huge_alloc((size_t)n * 8)
                               : (uint64_t *)malloc((size_t)n * 8);
  if (!buf)
    return 0.0;
  memset(buf, 1, (size_t)n * 8); /* fault every page in before timing */
  bandwidth_job *job = (bandwidth_job *)calloc(1, sizeof(bandwidth_job));
  double best = 0.0;
  for (int pass = 0; job && pass < 5; ++pass) {
    job->data = buf;
    double t0 = qrt_seconds();
    qrt_parallel_for(pool, n, 1 << 16, sum_task, job);
    double gbps = (double)n * 8 / (qrt_seconds() - t0) / 1e9;
    if (gbps > best)
      best = gbps;
  }
  volatile uint64_t sink = job ? job->partial[0] : 0; /* keep the sums alive */
  (void)sink;
  free(job);
  if (huge_pages)
    qrt_huge_free(buf, (size_t)n * 8);
  else
    free(buf);
  return best;
}
