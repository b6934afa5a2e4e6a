/* threads.c - a fixed pool of worker threads for data-parallel kernels.
 *
 * The calling thread takes the first range itself. Workers wait on a
 * condition variable between jobs; a job is published by bumping a
 * generation counter, and the caller waits until every range is done.
 */
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>

#define QRT_MAX_THREADS 256

struct qrt_pool {
  int threads;
  pthread_t workers[QRT_MAX_THREADS];
  pthread_mutex_t lock;
  pthread_cond_t wake, done;
  uint64_t generation;
  int pending, stop;
  /* the current job */
  qrt_task_fn fn;
  void *arg;
  int64_t n, per_thread;
  int ranges;
};

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

static void *worker_main(void *raw) {
  worker_arg *wa = (worker_arg *)raw;
  qrt_pool *p = wa->pool;
  int index = wa->index;
  free(wa);
  uint64_t seen = 0;
  pthread_mutex_lock(&p->lock);
  for (;;) {
    while (!p->stop && p->generation == seen)
      pthread_cond_wait(&p->wake, &p->lock);
    if (p->stop)
      break;
    seen = p->generation;
    int mine = index < p->ranges;
    pthread_mutex_unlock(&p->lock);
    if (mine)
      run_range(p, index);
    pthread_mutex_lock(&p->lock);
    if (mine && --p->pending == 0)
      pthread_cond_signal(&p->done);
  }
  pthread_mutex_unlock(&p->lock);
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
  pthread_cond_init(&p->done, NULL);
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
  p->stop = 1;
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->lock);
  for (int i = 1; i < p->threads; ++i)
    pthread_join(p->workers[i], NULL);
  pthread_mutex_destroy(&p->lock);
  pthread_cond_destroy(&p->wake);
  pthread_cond_destroy(&p->done);
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
  pthread_mutex_lock(&p->lock);
  p->fn = fn;
  p->arg = arg;
  p->n = n;
  p->per_thread = (n + ranges - 1) / ranges;
  p->ranges = (int)ranges;
  p->pending = (int)ranges - 1;
  p->generation++;
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->lock);
  run_range(p, 0);
  pthread_mutex_lock(&p->lock);
  while (p->pending > 0)
    pthread_cond_wait(&p->done, &p->lock);
  pthread_mutex_unlock(&p->lock);
}
