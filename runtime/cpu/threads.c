/* threads.c - a fixed pool of worker threads for data-parallel kernels.
 *
 * Decode issues a hundred or more short parallel loops per token (each
 * linear, attention), microseconds apart, so waking sleeping threads
 * through the kernel for every one costs more than the loop itself. Workers
 * therefore spin on the job counter for a while (QRT_SPIN_ROUNDS pauses,
 * a fraction of a millisecond) before sleeping on a condition variable, and
 * the caller spins until the ranges are done. The calling thread takes the
 * first range itself.
 */
#include "internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#define QRT_MAX_THREADS 256
#define QRT_SPIN_ROUNDS 100000

struct qrt_pool {
  int threads;
  pthread_t workers[QRT_MAX_THREADS];
  pthread_mutex_t lock; /* only for sleeping and waking */
  pthread_cond_t wake;
  _Atomic uint64_t generation; /* bumped (release) once the job below is set */
  _Atomic int pending;         /* ranges not yet finished by workers */
  _Atomic int stop;
  /* the current job */
  qrt_task_fn fn;
  void *arg;
  int64_t n, per_thread;
  int ranges;
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

static void run_range(qrt_pool *p, int index) {
  int64_t begin = (int64_t)index * p->per_thread;
  int64_t end = begin + p->per_thread;
  if (end > p->n)
    end = p->n;
  if (begin < end)
    p->fn(p->arg, begin, end, index);
}

typedef struct worker_arg {
  qrt_pool *pool;
  int index;
} worker_arg;

/* Waits for a generation other than `seen`; returns it (or `seen` on stop). */
static uint64_t wait_for_job(qrt_pool *p, uint64_t seen) {
  for (int i = 0; i < QRT_SPIN_ROUNDS; ++i) {
    uint64_t g = atomic_load_explicit(&p->generation, memory_order_acquire);
    if (g != seen || atomic_load_explicit(&p->stop, memory_order_relaxed))
      return g;
    cpu_relax();
  }
  pthread_mutex_lock(&p->lock);
  uint64_t g;
  while ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen &&
         !atomic_load(&p->stop))
    pthread_cond_wait(&p->wake, &p->lock);
  pthread_mutex_unlock(&p->lock);
  return g;
}

static void *worker_main(void *raw) {
  worker_arg *wa = (worker_arg *)raw;
  qrt_pool *p = wa->pool;
  int index = wa->index;
  free(wa);
  uint64_t seen = 0;
  for (;;) {
    seen = wait_for_job(p, seen);
    if (atomic_load(&p->stop))
      break;
    if (index < p->ranges) {
      run_range(p, index);
      atomic_fetch_sub_explicit(&p->pending, 1, memory_order_release);
    }
  }
  return NULL;
}

qrt_pool *qrt_pool_create(int threads) {
  if (threads < 1)
    threads = 1;
  if (threads > QRT_MAX_THREADS)
    threads = QRT_MAX_THREADS;
  qrt_pool *p = (qrt_pool *)calloc(1, sizeof(qrt_pool));
  if (!p)
    return NULL;
  p->threads = threads;
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->wake, NULL);
  for (int i = 1; i < threads; ++i) {
    worker_arg *wa = (worker_arg *)malloc(sizeof(worker_arg));
    wa->pool = p;
    wa->index = i;
    pthread_create(&p->workers[i], NULL, worker_main, wa);
  }
  return p;
}

void qrt_pool_destroy(qrt_pool *p) {
  if (!p)
    return;
  pthread_mutex_lock(&p->lock);
  atomic_store(&p->stop, 1);
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->lock);
  for (int i = 1; i < p->threads; ++i)
    pthread_join(p->workers[i], NULL);
  pthread_mutex_destroy(&p->lock);
  pthread_cond_destroy(&p->wake);
  free(p);
}

int qrt_pool_threads(const qrt_pool *p) { return p->threads; }

void qrt_parallel_for(qrt_pool *p, int64_t n, int64_t grain, qrt_task_fn fn, void *arg) {
  if (n <= 0)
    return;
  if (grain < 1)
    grain = 1;
  int64_t ranges = (n + grain - 1) / grain;
  if (ranges > p->threads)
    ranges = p->threads;
  if (ranges <= 1) {
    fn(arg, 0, n, 0);
    return;
  }
  p->fn = fn;
  p->arg = arg;
  p->n = n;
  p->per_thread = (n + ranges - 1) / ranges;
  p->ranges = (int)ranges;
  atomic_store_explicit(&p->pending, (int)ranges - 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
  /* wake sleepers; under the lock so none can miss the new generation */
  pthread_mutex_lock(&p->lock);
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->lock);
  run_range(p, 0);
  for (int spins = 0; atomic_load_explicit(&p->pending, memory_order_acquire) > 0; ++spins) {
    cpu_relax();
    if (spins > QRT_SPIN_ROUNDS)
      sched_yield(); /* a worker was descheduled: let it run */
  }
}

void qrt_parallel_tokens(qrt_pool *p, int64_t n, int64_t per_token, qrt_task_fn fn, void *arg) {
  int64_t grain = 16384 / (per_token > 0 ? per_token : 1);
  qrt_parallel_for(p, n, grain > 0 ? grain : 1, fn, arg);
}
