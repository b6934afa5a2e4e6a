// openai.h - OpenAI's completions and chat completions API: request bodies
// read with every field's type and range checked, and the response and
// stream-chunk bodies. No HTTP here (http_server.cpp).
#ifndef QRT_SERVER_OPENAI_H
#define QRT_SERVER_OPENAI_H

#include "engine.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace qrt::server {

/// A request refused: the HTTP status and OpenAI's error body.
struct ApiError {
  int status;
  std::string message;
  std::string param; // the offending field, or ""
  std::string type = "invalid_request_error";
  std::string code;  // e.g. "model_not_found", or ""
};
nlohmann::json errorBody(const ApiError &e);

struct Message {
  std::string role, content;
};

/// What a completions or chat request asks for.
struct GenerationRequest {
  bool chat = false;
  std::string prompt;            // completions
  std::vector<Message> messages; // chat
  bool stream = false;
  bool streamUsage = false; // stream_options.include_usage: a last chunk with the usage
  bool maxTokensGiven = false;
  bool seedGiven = false;
  Sampling sampling;
};

/// Reads a request body (already parsed as JSON). `model` is the served
/// model's name: a request naming another is refused (404).
std::optional<ApiError> parseRequest(const nlohmann::json &body, bool chat, const std::string &model,
                                     int64_t maxTokensLimit, GenerationRequest &out);

/// The bodies a response is made of. `id` and `created` stay the same over
/// one request's chunks.
struct ResponseIds {
  std::string id, model;
  int64_t created;
};
nlohmann::json completionBody(const ResponseIds &ids, bool chat, const std::string &text,
                              const std::string &finishReason, int64_t promptTokens,
                              int64_t completionTokens);
/// A stream chunk: text (or the assistant role, first in chat), and
/// finishReason on the last one ("" before).
nlohmann::json chunkBody(const ResponseIds &ids, bool chat, const std::string &text,
                         const std::string &finishReason, bool roleOnly = false);

/// The chunk stream_options.include_usage asks for, after the last choice.
nlohmann::json usageChunkBody(const ResponseIds &ids, bool chat, int64_t promptTokens,
                              int64_t completionTokens);

/// JSON text with invalid UTF-8 replaced (a model may emit any bytes).
std::string dump(const nlohmann::json &j);

} // namespace qrt::server

#endif
