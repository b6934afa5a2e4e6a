//===- ThreadPool.h - a persistent pool for parallel loops ------*- C++ -*-===//
//
// parallelFor splits [0, n) into one contiguous chunk per worker. Results do
// not depend on the thread count as long as each index is computed by code
// that does not depend on which chunk it lands in (true of every kernel
// here), so outputs are bit-identical across thread counts.
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_SUPPORT_THREADPOOL_H
#define QOPT_SUPPORT_THREADPOOL_H

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace qopt {

class ThreadPool {
public:
  /// `threads` = 0 means one per hardware thread.
  explicit ThreadPool(unsigned threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  unsigned size() const { return unsigned(workers.size()) + 1; }

  /// Calls body(begin, end) on disjoint chunks covering [0, n). Runs inline
  /// when n is below `grain` or the pool has one thread.
  void parallelFor(int64_t n, int64_t grain,
                   const std::function<void(int64_t, int64_t)> &body);

private:
  void workerLoop(unsigned index);

  std::vector<std::thread> workers;
  std::mutex mutex;
  std::condition_variable wake, done;
  const std::function<void(int64_t, int64_t)> *task = nullptr;
  int64_t taskSize = 0;
  unsigned chunks = 0;
  uint64_t generation = 0;
  unsigned pending = 0;
  bool stopping = false;
};

/// body(begin, end) on pieces of exactly `piece` indices covering [0, n)
/// (the last ragged), spread over the pool, inline when it is null. Unlike
/// parallelFor's one chunk per worker, the pieces do not depend on the
/// pool's size: for code whose result depends on where a chunk starts
/// (a GEMM's blocking).
void forFixedPieces(ThreadPool *pool, int64_t n, int64_t piece,
                    const std::function<void(int64_t, int64_t)> &body);

} // namespace qopt

#endif
