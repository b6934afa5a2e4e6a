// http_server.cpp - qrt_serve: the HTTP face of the engine (cpp-httplib),
// OpenAI's routes, authentication, limits, metrics and a draining stop.
#include "engine.h"
#include "openai.h"
#include "serve.h"

#include <httplib.h>
extern "C" {
#include "qrt_common.h" // qrt_text_invalid_at
}

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <ctime>
#include <unistd.h>
#include <random>

namespace qrt::server {
namespace {

using nlohmann::json;

// For models whose tokenizer carries no chat template; README "Serving".
const char *kDefaultChatTemplate =
    "{% for message in messages %}{{ message.role }}: {{ message.content }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}";

class Server {
public:
  Server(qrt_model *m, const qrt_serve_options &o)
      : m_(m), o_(o), model_(o.model_name ? o.model_name : "model"),
        engine_(m, o.max_queue), ctx_(qrt_max_seq_len(m)) {}

  int run(char *err, size_t len);

private:
  void routes();
  void reply(httplib::Response &res, const ApiError &e);
  void generate(const httplib::Request &req, httplib::Response &res, bool chat);
  // The prompt's tokens, or an error (not text, too long, ...).
  std::optional<ApiError> encode(const GenerationRequest &g, std::vector<int32_t> &tokens);
  std::string metrics();
  void count(int status) {
    std::lock_guard<std::mutex> lock(statusMu_);
    statuses_[status]++;
  }

  qrt_model *m_;
  const qrt_serve_options o_;
  const std::string model_;
  Engine engine_;
  const int64_t ctx_;
  httplib::Server http_;
  std::mutex tokenizerMu_; // the tokenizer's calls are not documented as thread-safe
  std::mutex statusMu_;
  std::map<int, int64_t> statuses_;
  std::atomic<int64_t> nextId_{1}, streaming_{0};
  std::atomic<bool> draining_{false}, listenEnded_{false};
};

void Server::reply(httplib::Response &res, const ApiError &e) {
  res.status = e.status;
  res.set_content(dump(errorBody(e)), "application/json");
}

std::optional<ApiError> Server::encode(const GenerationRequest &g, std::vector<int32_t> &tokens) {
  std::string text = g.prompt;
  int bos = 1;
  std::string where = g.chat ? "messages" : "prompt";
  if (g.chat) {
    std::vector<qrt_chat_message> msgs;
    for (const auto &msg : g.messages)
      msgs.push_back({msg.role.c_str(), msg.content.c_str()});
    char err[512];
    char *rendered;
    const char *own = qrt_chat_template(m_);
    if (own[0]) { // the template writes its own BOS, as tokenizer_config.json's do
      rendered = qrt_chat_prompt(m_, msgs.data(), msgs.size(), 1, err, sizeof err);
      bos = 0;
    } else {
      rendered = qrt_chat_render(kDefaultChatTemplate, msgs.data(), msgs.size(), 1, "", "", err,
                                 sizeof err);
    }
    if (!rendered)
      return ApiError{400, std::string("the chat template refused the messages: ") + err,
                      "messages"};
    text = rendered;
    free(rendered);
  }
  if (text.find('\0') != std::string::npos)
    return ApiError{400, "the " + where + " holds a NUL character", where};
  if (qrt_text_invalid_at(text.data(), text.size()) >= 0)
    return ApiError{400, "the " + where + " is not valid UTF-8 text", where};
  tokens.resize(text.size() + 3);
  int64_t n;
  {
    std::lock_guard<std::mutex> lock(tokenizerMu_);
    n = qrt_encode(m_, text.c_str(), bos, 0, tokens.data(), (int64_t)tokens.size());
  }
  if (n < 0)
    return ApiError{500, QRT_NO_TOKENIZER, "", "server_error"};
  tokens.resize((size_t)n);
  if (n == 0)
    return ApiError{400, "the " + where + " is empty and this tokenizer adds no BOS to start from",
                    where};
  if (n > ctx_)
    return ApiError{400, "the " + where + " has " + std::to_string(n) +
                             " tokens, more than the context of " + std::to_string(ctx_),
                    where, "invalid_request_error", "context_length_exceeded"};
  return std::nullopt;
}

void Server::generate(const httplib::Request &req, httplib::Response &res, bool chat) {
  json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded())
    return reply(res, {400, "the request body is not valid JSON"});
  GenerationRequest g;
  if (auto e = parseRequest(body, chat, model_, ctx_, g))
    return reply(res, *e);
  std::vector<int32_t> tokens;
  if (auto e = encode(g, tokens))
    return reply(res, *e);
  int64_t n = (int64_t)tokens.size(), room = ctx_ - n + 1; // the last token is not run
  if (!g.maxTokensGiven)
    g.sampling.maxTokens = room;
  else if (g.sampling.maxTokens > room)
    return reply(res, {400, "the prompt's " + std::to_string(n) + " tokens and max_tokens " +
                                std::to_string(g.sampling.maxTokens) +
                                " do not fit the context of " + std::to_string(ctx_),
                       "max_tokens", "invalid_request_error", "context_length_exceeded"});
  if (!g.seedGiven) // a fresh draw per request, as OpenAI's API without a seed
    g.sampling.seed = std::random_device{}() * 2654435761u + (uint64_t)nextId_.load();
  auto job = std::make_shared<Job>(std::move(tokens), g.sampling);
  switch (engine_.submit(job)) {
  case Engine::Admit::QueueFull:
    return reply(res, {429, "too many requests are waiting (--queue " +
                                std::to_string(o_.max_queue) + "); retry later",
                       "", "rate_limit_error"});
  case Engine::Admit::Draining:
    return reply(res, {503, "the server is shutting down", "", "server_error"});
  case Engine::Admit::Queued:
    break;
  }
  ResponseIds ids{std::string(chat ? "chatcmpl-" : "cmpl-") + std::to_string(nextId_++), model_,
                  (int64_t)std::time(nullptr)};
  if (!g.stream) {
    std::string text;
    bool done = false;
    while (!done)
      text += job->wait(1000, done);
    if (job->finishReason() == "error")
      return reply(res, {500, job->error(), "", "server_error"});
    res.set_content(dump(completionBody(ids, chat, text, job->finishReason(), n,
                                        job->completionTokens())),
                    "application/json");
    return;
  }
  streaming_++;
  auto started = std::make_shared<bool>(false);
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [job, ids, chat, started, n, usage = g.streamUsage](size_t, httplib::DataSink &sink) {
        auto send = [&](const json &chunk) {
          std::string event = "data: " + dump(chunk) + "\n\n";
          return sink.write(event.data(), event.size());
        };
        if (chat && !*started && !send(chunkBody(ids, chat, "", "", true))) {
          job->cancel();
          return false;
        }
        *started = true;
        bool done = false;
        std::string text = job->wait(200, done);
        if (!text.empty() && !send(chunkBody(ids, chat, text, ""))) {
          job->cancel(); // the client went away: free the slot now
          return false;
        }
        if (!done)
          return sink.is_writable() || (job->cancel(), false);
        std::string reason = job->finishReason();
        if (reason == "error") {
          ApiError e{500, job->error(), "", "server_error"};
          send(errorBody(e));
        } else {
          send(chunkBody(ids, chat, "", reason));
          if (usage)
            send(usageChunkBody(ids, chat, n, job->completionTokens()));
        }
        static const char kDone[] = "data: [DONE]\n\n";
        sink.write(kDone, sizeof kDone - 1);
        sink.done();
        return true;
      },
      [this, job](bool) {
        job->cancel(); // no-op when it ended; frees the slot when the stream broke
        streaming_--;
      });
}

std::string Server::metrics() {
  EngineStats s = engine_.stats();
  std::string out;
  auto metric = [&](const char *name, const char *type, const char *help, double value) {
    char number[32];
    snprintf(number, sizeof number, "%.17g", value);
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
           name + " " + number + "\n";
  };
  out += "# HELP qrt_http_requests_total HTTP requests answered, by status\n"
         "# TYPE qrt_http_requests_total counter\n";
  {
    std::lock_guard<std::mutex> lock(statusMu_);
    for (auto [status, n] : statuses_)
      out += "qrt_http_requests_total{status=\"" + std::to_string(status) + "\"} " +
             std::to_string(n) + "\n";
  }
  metric("qrt_generations_finished_total", "counter", "generations that ended (stop or length)",
         (double)s.finished);
  metric("qrt_generations_cancelled_total", "counter",
         "generations whose client went away or that failed", (double)s.cancelled);
  metric("qrt_prompt_tokens_total", "counter", "prompt tokens run", (double)s.promptTokens);
  metric("qrt_generated_tokens_total", "counter", "tokens sampled", (double)s.generatedTokens);
  metric("qrt_tokens_per_second", "gauge", "tokens sampled per second over the last 10 s",
         s.recentTokensPerSecond);
  metric("qrt_queue_depth", "gauge", "requests waiting for a sequence slot", (double)s.queued);
  metric("qrt_sequences_active", "gauge", "sequence slots in use", (double)s.active);
  metric("qrt_sequences", "gauge", "sequence slots (--parallel)", (double)s.slots);
  metric("qrt_decode_batch_max", "gauge", "the most sequences one decode step has run",
         (double)s.maxBatch);
  return out;
}

void Server::routes() {
  http_.set_pre_routing_handler([this](const httplib::Request &req, httplib::Response &res) {
    if (!o_.api_key || req.path == "/health")
      return httplib::Server::HandlerResponse::Unhandled;
    std::string want = std::string("Bearer ") + o_.api_key;
    if (req.get_header_value("Authorization") == want)
      return httplib::Server::HandlerResponse::Unhandled;
    reply(res, {401,
                req.has_header("Authorization")
                    ? "Incorrect API key provided"
                    : "You didn't provide an API key (Authorization: Bearer KEY)",
                "", "invalid_request_error", "invalid_api_key"});
    return httplib::Server::HandlerResponse::Handled;
  });
  http_.Post("/v1/completions", [this](const httplib::Request &req, httplib::Response &res) {
    generate(req, res, false);
  });
  http_.Post("/v1/chat/completions", [this](const httplib::Request &req, httplib::Response &res) {
    generate(req, res, true);
  });
  http_.Get("/v1/models", [this](const httplib::Request &, httplib::Response &res) {
    json model = {{"id", model_}, {"object", "model"}, {"created", 0}, {"owned_by", "qopt"}};
    res.set_content(dump(json{{"object", "list"}, {"data", json::array({model})}}),
                    "application/json");
  });
  http_.Get("/health", [this](const httplib::Request &, httplib::Response &res) {
    if (draining_)
      return reply(res, {503, "the server is shutting down", "", "server_error"});
    res.set_content("{\"status\":\"ok\"}", "application/json");
  });
  http_.Get("/metrics", [this](const httplib::Request &, httplib::Response &res) {
    res.set_content(metrics(), "text/plain; version=0.0.4");
  });
  // Statuses httplib sets itself (404 route, 413 body, 400 request line):
  // OpenAI's error body instead of an empty one.
  http_.set_error_handler([this](const httplib::Request &req, httplib::Response &res) {
    if (!res.body.empty())
      return;
    std::string message = res.status == 413   ? "the request body is larger than --max-body (" +
                                                  std::to_string(o_.max_body) + " bytes)"
                          : res.status == 404 ? "no route " + req.method + " " + req.path
                          : res.status == 405 ? "method not allowed"
                                              : "bad request";
    reply(res, {res.status, message});
  });
  http_.set_exception_handler(
      [this](const httplib::Request &, httplib::Response &res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception &e) {
          what = e.what();
        } catch (...) {
        }
        reply(res, {500, what, "", "server_error"});
      });
  http_.set_logger([this](const httplib::Request &, const httplib::Response &res) {
    count(res.status);
  });
}

// SIGTERM / SIGINT may land on any thread (the model's pool and the engine
// run before the server, with no mask), so a handler forwards the signal
// number through a pipe to the one thread that drains.
int gStopPipe[2] = {-1, -1};

extern "C" void forwardStopSignal(int sig) {
  unsigned char b = (unsigned char)sig;
  ssize_t ignored = write(gStopPipe[1], &b, 1);
  (void)ignored;
}

int Server::run(char *err, size_t len) {
  std::signal(SIGPIPE, SIG_IGN); // a client that closes its socket must not end the server
  routes();
  // a waiting request holds its handler thread: one per slot and queue place
  size_t threads = (size_t)(qrt_sequences(m_) + o_.max_queue) + 8;
  http_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http_.set_payload_max_length((size_t)o_.max_body);
  http_.set_read_timeout(30, 0);
  http_.set_write_timeout(10, 0); // a client that stops reading a stream loses it
  http_.set_keep_alive_timeout(5);
  const char *host = o_.host ? o_.host : "127.0.0.1";
  // cpp-httplib's default adds SO_REUSEPORT, which would let a second
  // server share a port that is taken; SO_REUSEADDR alone only allows a
  // quick restart
  http_.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  int port = o_.port;
  if (port == 0)
    port = http_.bind_to_any_port(host);
  else if (!http_.bind_to_port(host, port))
    port = -1;
  if (port < 0) {
    snprintf(err, len, "cannot listen on %s:%d: %s", host, o_.port,
             errno ? strerror(errno) : "bind failed");
    return -1;
  }
  if (pipe(gStopPipe) != 0) {
    snprintf(err, len, "cannot create the stop pipe: %s", strerror(errno));
    return -1;
  }
  struct sigaction stop = {};
  stop.sa_handler = forwardStopSignal;
  sigemptyset(&stop.sa_mask);
  sigaction(SIGTERM, &stop, nullptr);
  sigaction(SIGINT, &stop, nullptr);
  fprintf(stderr,
          "serving %s on http://%s:%d (OpenAI API: /v1/completions, /v1/chat/completions; "
          "%lld sequences of %lld positions)\n",
          model_.c_str(), host, port, (long long)qrt_sequences(m_), (long long)ctx_);
  fflush(stderr);

  std::thread stopper([this] {
    unsigned char sig = 0;
    while (read(gStopPipe[0], &sig, 1) < 0 && errno == EINTR) {
    }
    if (listenEnded_)
      return;
    fprintf(stderr, "%s: finishing the requests under way\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    draining_ = true;
    engine_.drain();
    for (int i = 0; i < 100 && streaming_ > 0; ++i) // the last chunks of open streams
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    http_.stop();
  });
  bool ok = http_.listen_after_bind();
  if (!draining_) { // listen ended on its own: wake the stopper to end it
    listenEnded_ = true;
    forwardStopSignal(0);
  }
  stopper.join();
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  close(gStopPipe[0]);
  close(gStopPipe[1]);
  if (!ok && !draining_) {
    snprintf(err, len, "the server stopped accepting connections");
    return -1;
  }
  fprintf(stderr, "server stopped\n");
  return 0;
}

} // namespace
} // namespace qrt::server

extern "C" int qrt_serve(qrt_model *m, const qrt_serve_options *o, char *err, size_t len) {
  try {
    qrt::server::Server server(m, *o);
    return server.run(err, len);
  } catch (const std::exception &e) {
    snprintf(err, len, "server: %s", e.what());
    return -1;
  }
}
