// engine.h - continuous batching over a model's sequences (its KV cache
// slots). Requests wait in a bounded queue, take a free slot, have their
// prompt run in pieces of the program's chunk (between decode steps, so a
// long prompt does not stall the others for more than one piece), and then
// decode together: one qrt_decode_batch per step for every sequence that
// is generating. A request leaves its slot when it ends or is cancelled.
#ifndef QRT_SERVER_ENGINE_H
#define QRT_SERVER_ENGINE_H

#include "qrt.h"
#include "text_stream.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace qrt::server {

struct Sampling {
  float temperature = 1.0f;
  float topP = 1.0f;
  uint64_t seed = 1;
  int64_t maxTokens = 16;
  std::vector<std::string> stop;
};

/// One request's generation, shared by the HTTP handler that waits on it
/// and the engine that runs it.
class Job {
public:
  Job(std::vector<int32_t> prompt, Sampling sampling)
      : prompt(std::move(prompt)), sampling(std::move(sampling)),
        stream_(this->sampling.stop) {}
  const std::vector<int32_t> prompt;
  const Sampling sampling;

  /// Handler side: waits up to `ms` for text or the end; returns the new
  /// text, and sets `done` (then `finishReason` is "stop" or "length").
  std::string wait(int ms, bool &done);
  std::string finishReason() const;
  std::string error() const;
  int64_t completionTokens() const;
  /// The client went away: the engine frees the slot at its next step.
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }

  // engine side
  /// Adds a token's text; true when a stop string ends the reply.
  bool addText(const char *piece);
  void finish(const char *reason, const std::string &error = "");

private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  TextStream stream_;
  int64_t tokens_ = 0;
  bool done_ = false;
  std::string reason_, error_;
  std::atomic<bool> cancelled_{false};
};

struct EngineStats {
  int64_t slots = 0, active = 0, queued = 0;
  int64_t promptTokens = 0, generatedTokens = 0, finished = 0, cancelled = 0;
  double recentTokensPerSecond = 0; // generated over the last 10 s
  int64_t maxBatch = 0;             // the widest decode step so far
};

class Engine {
public:
  Engine(qrt_model *m, int64_t maxQueue);
  ~Engine();
  enum class Admit { Queued, QueueFull, Draining };
  Admit submit(std::shared_ptr<Job> job);
  /// Refuses new requests and returns once every admitted one has ended.
  void drain();
  EngineStats stats() const;

private:
  struct Slot {
    std::shared_ptr<Job> job;
    int64_t done = 0;  // prompt tokens run so far
    int64_t pos = 0;   // position of `next`, the token to run
    int32_t next = 0, previous = -1;
    int64_t generated = 0;
    uint64_t rng = 1;
    bool decoding = false;
  };
  void loop();
  void admit();
  bool runPrefillPiece();
  void runDecodeStep();
  /// Samples the next token of slot s from `logits`; ends the job or makes
  /// the token the slot's next input.
  void takeToken(Slot &s, const float *logits);
  /// Frees the slot, then ends its job with `reason`.
  void end(Slot &s, const char *reason, const std::string &error = "");
  void release(Slot &s);
  void fail(const std::string &message);

  qrt_model *m_;
  const int64_t maxQueue_, vocab_, ctx_, chunk_;
  std::vector<Slot> slots_;
  std::vector<float> logits_;
  mutable std::mutex mu_;
  std::condition_variable cv_, idle_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool draining_ = false, stopping_ = false;
  int64_t active_ = 0;
  // statistics (under mu_)
  int64_t promptTokens_ = 0, generatedTokens_ = 0, finished_ = 0, cancelled_ = 0, maxBatch_ = 0;
  std::deque<std::pair<double, int64_t>> recent_;
  std::thread thread_;
};

} // namespace qrt::server

#endif
