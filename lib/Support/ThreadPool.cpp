//===- ThreadPool.cpp ------------------------------------------------------===//
#include "qopt/Support/ThreadPool.h"

#include <algorithm>

namespace qopt {

ThreadPool::ThreadPool(unsigned threads) {
  if (threads == 0)
    threads = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 1; i < threads; ++i)
    workers.emplace_back([this, i] { workerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    stopping = true;
  }
  wake.notify_all();
  for (std::thread &t : workers)
    t.join();
}

static void chunkBounds(int64_t n, unsigned chunks, unsigned index, int64_t &begin,
                        int64_t &end) {
  begin = n * index / chunks;
  end = n * (index + 1) / chunks;
}

void ThreadPool::workerLoop(unsigned index) {
  uint64_t seen = 0;
  while (true) {
    const std::function<void(int64_t, int64_t)> *body;
    int64_t n;
    unsigned count;
    {
      std::unique_lock<std::mutex> lock(mutex);
      wake.wait(lock, [&] { return stopping || generation != seen; });
      if (stopping)
        return;
      seen = generation;
      body = task;
      n = taskSize;
      count = chunks;
    }
    if (index < count) {
      int64_t begin, end;
      chunkBounds(n, count, index, begin, end);
      if (begin < end)
        (*body)(begin, end);
    }
    std::lock_guard<std::mutex> lock(mutex);
    if (--pending == 0)
      done.notify_one();
  }
}

void ThreadPool::parallelFor(int64_t n, int64_t grain,
                             const std::function<void(int64_t, int64_t)> &body) {
  if (n <= 0)
    return;
  if (workers.empty() || n < std::max<int64_t>(grain, 2)) {
    body(0, n);
    return;
  }
  unsigned count = unsigned(std::min<int64_t>(size(), n));
  {
    std::lock_guard<std::mutex> lock(mutex);
    task = &body;
    taskSize = n;
    chunks = count;
    pending = unsigned(workers.size());
    ++generation;
  }
  wake.notify_all();
  int64_t begin, end;
  chunkBounds(n, count, 0, begin, end);
  body(begin, end);
  std::unique_lock<std::mutex> lock(mutex);
  done.wait(lock, [&] { return pending == 0; });
}

void forFixedPieces(ThreadPool *pool, int64_t n, int64_t piece,
                    const std::function<void(int64_t, int64_t)> &body) {
  int64_t pieces = (n + piece - 1) / piece;
  auto run = [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p)
      body(p * piece, std::min(n, (p + 1) * piece));
  };
  if (pool)
    pool->parallelFor(pieces, 1, run);
  else
    run(0, pieces);
}

} // namespace qopt
