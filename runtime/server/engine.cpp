// engine.cpp - see engine.h.
#include "engine.h"

#include <chrono>

namespace qrt::server {

static double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string Job::wait(int ms, bool &done) {
  std::unique_lock<std::mutex> lock(mu_);
  // woken by each token; one whose text is held back (a possible stop
  // string, a partial UTF-8 character) does not end the wait
  cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return done_ || stream_.ready(); });
  done = done_;
  std::string text = stream_.take();
  if (done_)
    text += stream_.takeRest();
  return text;
}

std::string Job::finishReason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reason_;
}

std::string Job::error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

int64_t Job::completionTokens() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tokens_;
}

bool Job::addText(const char *piece) {
  bool stop;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++tokens_;
    stop = stream_.append(piece);
  }
  cv_.notify_all();
  return stop;
}

void Job::finish(const char *reason, const std::string &error) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_)
      return;
    done_ = true;
    reason_ = reason;
    error_ = error;
  }
  cv_.notify_all();
}

Engine::Engine(qrt_model *m, int64_t maxQueue)
    : m_(m), maxQueue_(maxQueue), vocab_(qrt_vocab_size(m)), ctx_(qrt_max_seq_len(m)),
      chunk_(qrt_chunk(m)) {
  slots_.resize((size_t)qrt_sequences(m));
  int64_t rows = std::min<int64_t>(chunk_, (int64_t)slots_.size());
  logits_.resize((size_t)(rows * vocab_));
  thread_ = std::thread([this] { loop(); });
}

Engine::~Engine() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  for (auto &job : queue_)
    job->finish("error", "the server is shutting down");
  for (auto &s : slots_)
    if (s.job)
      s.job->finish("error", "the server is shutting down");
}

Engine::Admit Engine::submit(std::shared_ptr<Job> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (draining_)
      return Admit::Draining;
    // a free slot takes a request at the next step: only the rest wait
    int64_t free = (int64_t)slots_.size() - active_;
    if ((int64_t)queue_.size() >= maxQueue_ + free)
      return Admit::QueueFull;
    queue_.push_back(std::move(job));
  }
  cv_.notify_all();
  return Admit::Queued;
}

void Engine::drain() {
  std::unique_lock<std::mutex> lock(mu_);
  draining_ = true;
  idle_.wait(lock, [&] { return queue_.empty() && active_ == 0; });
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  EngineStats s;
  s.slots = (int64_t)slots_.size();
  s.active = active_;
  s.queued = (int64_t)queue_.size();
  s.promptTokens = promptTokens_;
  s.generatedTokens = generatedTokens_;
  s.finished = finished_;
  s.cancelled = cancelled_;
  s.maxBatch = maxBatch_;
  double t = now();
  int64_t recent = 0;
  for (const auto &[when, count] : recent_)
    if (when > t - 10)
      recent += count;
  s.recentTokensPerSecond = (double)recent / 10.0;
  return s;
}

// Waiting requests into free slots, oldest first (under mu_).
void Engine::admit() {
  for (auto &s : slots_) {
    if (queue_.empty())
      return;
    if (s.job)
      continue;
    s = Slot();
    s.job = std::move(queue_.front());
    queue_.pop_front();
    s.rng = s.job->sampling.seed ? s.job->sampling.seed : 1; // as the program's CLI seeds it
    ++active_;
  }
}

// The slot is free before the job's waiter hears of its end: a client that
// sends its next request at once finds the slot it just left.
void Engine::end(Slot &s, const char *reason, const std::string &error) {
  std::shared_ptr<Job> job = s.job;
  release(s);
  job->finish(reason, error);
}

void Engine::release(Slot &s) {
  std::lock_guard<std::mutex> lock(mu_);
  if (s.job->cancelled())
    ++cancelled_;
  else
    ++finished_;
  s.job.reset();
  --active_;
  idle_.notify_all();
}

void Engine::loop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || active_ > 0 || !queue_.empty(); });
      if (stopping_)
        return;
      admit();
    }
    for (auto &s : slots_)
      if (s.job && s.job->cancelled()) {
        end(s, "cancelled");
      }
    // one piece of one prompt, then one step of every generating sequence
    runPrefillPiece();
    runDecodeStep();
  }
}

// The prompt of the slot that has waited longest, `chunk` tokens at a time
// from position 0 as the program's own generation runs it, so that its
// logits are the same.
bool Engine::runPrefillPiece() {
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot &s = slots_[i];
    if (!s.job || s.decoding)
      continue;
    const auto &prompt = s.job->prompt;
    int64_t n = (int64_t)prompt.size(), piece = std::min(chunk_, n - s.done);
    bool final = s.done + piece == n;
    char err[512];
    if (qrt_forward_seq(m_, (int64_t)i, prompt.data() + s.done, piece, s.done,
                        final ? logits_.data() : nullptr, 1, err, sizeof err) != 0) {
      end(s, "error", err);
      return true;
    }
    s.done += piece;
    {
      std::lock_guard<std::mutex> lock(mu_);
      promptTokens_ += piece;
    }
    if (final) {
      s.decoding = true;
      s.pos = n - 1; // the logits are those of position n - 1
      s.previous = prompt[(size_t)n - 1];
      takeToken(s, logits_.data());
    }
    return true;
  }
  return false;
}

void Engine::runDecodeStep() {
  std::vector<int32_t> tokens;
  std::vector<int64_t> seq, pos;
  for (size_t i = 0; i < slots_.size(); ++i)
    if (slots_[i].job && slots_[i].decoding) {
      tokens.push_back(slots_[i].next);
      seq.push_back((int64_t)i);
      pos.push_back(slots_[i].pos);
    }
  for (size_t begin = 0; begin < tokens.size(); begin += (size_t)chunk_) {
    int64_t rows = std::min<int64_t>(chunk_, (int64_t)(tokens.size() - begin));
    char err[512];
    if (qrt_decode_batch(m_, tokens.data() + begin, seq.data() + begin, pos.data() + begin, rows,
                         logits_.data(), err, sizeof err) != 0) {
      fail(err);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      maxBatch_ = std::max(maxBatch_, rows);
    }
    for (int64_t r = 0; r < rows; ++r)
      takeToken(slots_[(size_t)seq[begin + (size_t)r]], logits_.data() + r * vocab_);
  }
}

void Engine::fail(const std::string &message) {
  for (auto &s : slots_)
    if (s.job && s.decoding) {
      end(s, "error", message);
    }
}

// As the program's generation loop (runtime/common/main.c): sample; an EOS
// ends the reply unprinted; otherwise its text is added and the token runs
// at the next position, if the reply may go on.
void Engine::takeToken(Slot &s, const float *logits) {
  const Sampling &p = s.job->sampling;
  int32_t token = qrt_sample(logits, vocab_, p.temperature, p.topP, &s.rng);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++generatedTokens_;
    double t = now();
    if (!recent_.empty() && recent_.back().first > t - 0.1)
      recent_.back().second++;
    else
      recent_.emplace_back(t, 1);
    while (!recent_.empty() && recent_.front().first < t - 10)
      recent_.pop_front();
  }
  if (qrt_is_eos(m_, token)) {
    end(s, "stop");
    return;
  }
  bool stop = s.job->addText(qrt_decode(m_, s.previous, token));
  s.previous = token;
  ++s.generated;
  if (stop) {
    end(s, "stop");
  } else if (s.generated >= p.maxTokens || s.pos + 1 >= ctx_) {
    end(s, "length");
  } else {
    s.next = token;
    s.pos += 1;
  }
}

} // namespace qrt::server
