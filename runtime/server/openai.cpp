// openai.cpp - see openai.h.
#include "openai.h"

#include <cmath>
#include <cstdio>

namespace qrt::server {

using nlohmann::json;

json errorBody(const ApiError &e) {
  json error = {{"message", e.message}, {"type", e.type}};
  error["param"] = e.param.empty() ? json(nullptr) : json(e.param);
  error["code"] = e.code.empty() ? json(nullptr) : json(e.code);
  return json{{"error", error}};
}

std::string dump(const json &j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

static ApiError bad(const std::string &param, const std::string &message) {
  return ApiError{400, message, param};
}

static const char *typeName(const json &v) {
  switch (v.type()) {
  case json::value_t::null: return "null";
  case json::value_t::boolean: return "a boolean";
  case json::value_t::string: return "a string";
  case json::value_t::array: return "an array";
  case json::value_t::object: return "an object";
  case json::value_t::binary: return "binary";
  case json::value_t::discarded: return "invalid";
  default: return "a number";
  }
}

static std::optional<ApiError> number(const json &body, const char *key, double lo, double hi,
                                      float &out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null())
    return std::nullopt;
  if (!it->is_number())
    return bad(key, std::string("'") + key + "' must be a number, not " + typeName(*it));
  double v = it->get<double>();
  if (!std::isfinite(v) || v < lo || v > hi) {
    char range[64];
    snprintf(range, sizeof range, "[%g, %g]", lo, hi);
    return bad(key, std::string("'") + key + "' must be in " + range + ", got " + it->dump());
  }
  out = (float)v;
  return std::nullopt;
}

// A whole number (OpenAI clients may send 5.0; 5.5 is refused).
static std::optional<ApiError> integer(const json &body, const char *key, int64_t lo, int64_t hi,
                                       int64_t &out, bool &given) {
  auto it = body.find(key);
  given = false;
  if (it == body.end() || it->is_null())
    return std::nullopt;
  bool whole = it->is_number_integer() ||
               (it->is_number_float() && std::isfinite(it->get<double>()) &&
                std::trunc(it->get<double>()) == it->get<double>() &&
                std::fabs(it->get<double>()) < 9e18);
  if (!whole)
    return bad(key, std::string("'") + key + "' must be an integer, not " +
                        (it->is_number() ? it->dump() : typeName(*it)));
  int64_t v;
  if (it->is_number_unsigned() && it->get<uint64_t>() > (uint64_t)INT64_MAX)
    v = INT64_MAX;
  else
    v = it->is_number_float() ? (int64_t)it->get<double>() : it->get<int64_t>();
  if (v < lo || v > hi)
    return bad(key, std::string("'") + key + "' must be in [" + std::to_string(lo) + ", " +
                        std::to_string(hi) + "], got " + std::to_string(v));
  out = v;
  given = true;
  return std::nullopt;
}

static std::optional<ApiError> stops(const json &body, std::vector<std::string> &out) {
  auto it = body.find("stop");
  if (it == body.end() || it->is_null())
    return std::nullopt;
  if (it->is_string()) {
    out.push_back(it->get<std::string>());
  } else if (it->is_array()) {
    if (it->size() > 4)
      return bad("stop", "'stop' may hold at most 4 strings, got " + std::to_string(it->size()));
    for (const auto &s : *it) {
      if (!s.is_string())
        return bad("stop", std::string("'stop' must hold strings, not ") + typeName(s));
      out.push_back(s.get<std::string>());
    }
  } else {
    return bad("stop", std::string("'stop' must be a string or an array of strings, not ") +
                           typeName(*it));
  }
  for (const auto &s : out)
    if (s.empty())
      return bad("stop", "'stop' strings must not be empty");
  return std::nullopt;
}

// A message's content: a string, or an array of {"type": "text", "text"}.
static std::optional<ApiError> content(const json &m, size_t i, std::string &out) {
  std::string where = "messages[" + std::to_string(i) + "].content";
  auto it = m.find("content");
  if (it == m.end() || it->is_null())
    return bad(where, "'" + where + "' is missing");
  if (it->is_string()) {
    out = it->get<std::string>();
    return std::nullopt;
  }
  if (!it->is_array())
    return bad(where, "'" + where + "' must be a string or an array of text parts, not " +
                          typeName(*it));
  for (const auto &part : *it) {
    auto type = part.is_object() ? part.find("type") : part.end();
    auto text = part.is_object() ? part.find("text") : part.end();
    if (type == part.end() || !type->is_string() || *type != "text" || text == part.end() ||
        !text->is_string())
      return bad(where, "'" + where + "' parts must be {\"type\": \"text\", \"text\": ...}; "
                        "this model reads text only");
    out += text->get<std::string>();
  }
  return std::nullopt;
}

static std::optional<ApiError> messages(const json &body, std::vector<Message> &out) {
  auto it = body.find("messages");
  if (it == body.end())
    return bad("messages", "'messages' is missing");
  if (!it->is_array())
    return bad("messages", std::string("'messages' must be an array, not ") + typeName(*it));
  if (it->empty())
    return bad("messages", "'messages' must hold at least one message");
  for (size_t i = 0; i < it->size(); ++i) {
    const json &m = (*it)[i];
    std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object())
      return bad(where, "'" + where + "' must be an object, not " + typeName(m));
    auto role = m.find("role");
    if (role == m.end() || !role->is_string())
      return bad(where + ".role", "'" + where + ".role' must be a string");
    std::string r = role->get<std::string>();
    if (r == "developer") // OpenAI's newer name for the system turn
      r = "system";
    if (r != "system" && r != "user" && r != "assistant")
      return bad(where + ".role", "'" + where + ".role' must be system, user or assistant, not '" +
                                      r + "'");
    Message msg{r, ""};
    if (auto e = content(m, i, msg.content))
      return e;
    out.push_back(std::move(msg));
  }
  return std::nullopt;
}

std::optional<ApiError> parseRequest(const json &body, bool chat, const std::string &model,
                                     int64_t maxTokensLimit, GenerationRequest &out) {
  if (!body.is_object())
    return bad("", std::string("the request body must be a JSON object, not ") + typeName(body));
  out.chat = chat;
  if (auto it = body.find("model"); it != body.end() && !it->is_null()) {
    if (!it->is_string())
      return bad("model", std::string("'model' must be a string, not ") + typeName(*it));
    if (*it != model)
      return ApiError{404, "The model '" + it->get<std::string>() + "' does not exist; this server "
                           "serves '" + model + "'", "model", "invalid_request_error",
                      "model_not_found"};
  }
  if (chat) {
    if (auto e = messages(body, out.messages))
      return e;
  } else {
    auto it = body.find("prompt");
    if (it == body.end())
      return bad("prompt", "'prompt' is missing");
    if (it->is_array() && it->size() == 1 && (*it)[0].is_string())
      out.prompt = (*it)[0].get<std::string>();
    else if (it->is_string())
      out.prompt = it->get<std::string>();
    else
      return bad("prompt", std::string("'prompt' must be a string (or an array of one), not ") +
                               (it->is_array() ? "an array of " + std::to_string(it->size()) +
                                                     " items"
                                               : typeName(*it)));
  }
  if (auto it = body.find("stream"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean())
      return bad("stream", std::string("'stream' must be true or false, not ") + typeName(*it));
    out.stream = it->get<bool>();
  }
  if (auto it = body.find("stream_options"); it != body.end() && !it->is_null()) {
    if (!out.stream)
      return bad("stream_options", "'stream_options' goes with \"stream\": true");
    if (!it->is_object())
      return bad("stream_options",
                 std::string("'stream_options' must be an object, not ") + typeName(*it));
    if (auto u = it->find("include_usage"); u != it->end() && !u->is_null()) {
      if (!u->is_boolean())
        return bad("stream_options", std::string("'stream_options.include_usage' must be true or "
                                                 "false, not ") + typeName(*u));
      out.streamUsage = u->get<bool>();
    }
  }
  Sampling &s = out.sampling;
  if (auto e = number(body, "temperature", 0, 2, s.temperature))
    return e;
  if (auto e = number(body, "top_p", 0, 1, s.topP))
    return e;
  int64_t n = 1, seed = 0;
  bool given = false;
  if (auto e = integer(body, "n", 1, 1, n, given))
    return e;
  if (auto e = integer(body, "seed", INT64_MIN, INT64_MAX, seed, out.seedGiven))
    return e;
  s.seed = (uint64_t)seed;
  const char *maxKey = chat && body.contains("max_completion_tokens") ? "max_completion_tokens"
                                                                      : "max_tokens";
  if (auto e = integer(body, maxKey, 1, maxTokensLimit, s.maxTokens, out.maxTokensGiven))
    return e;
  if (auto e = stops(body, s.stop))
    return e;
  for (const char *unsupported : {"logprobs", "echo", "best_of", "suffix", "tools"}) {
    auto it = body.find(unsupported);
    if (it != body.end() && !it->is_null() && *it != false && *it != 1 && *it != json::array())
      return bad(unsupported, std::string("'") + unsupported + "' is not supported by this server");
  }
  return std::nullopt;
}

static json usage(int64_t promptTokens, int64_t completionTokens) {
  return {{"prompt_tokens", promptTokens},
          {"completion_tokens", completionTokens},
          {"total_tokens", promptTokens + completionTokens}};
}

json completionBody(const ResponseIds &ids, bool chat, const std::string &text,
                    const std::string &finishReason, int64_t promptTokens,
                    int64_t completionTokens) {
  json choice = {{"index", 0}, {"finish_reason", finishReason}};
  if (chat)
    choice["message"] = {{"role", "assistant"}, {"content", text}};
  else
    choice["text"] = text, choice["logprobs"] = nullptr;
  return json{{"id", ids.id},
              {"object", chat ? "chat.completion" : "text_completion"},
              {"created", ids.created},
              {"model", ids.model},
              {"choices", json::array({choice})},
              {"usage", usage(promptTokens, completionTokens)}};
}

json usageChunkBody(const ResponseIds &ids, bool chat, int64_t promptTokens,
                    int64_t completionTokens) {
  return json{{"id", ids.id},
              {"object", chat ? "chat.completion.chunk" : "text_completion"},
              {"created", ids.created},
              {"model", ids.model},
              {"choices", json::array()},
              {"usage", usage(promptTokens, completionTokens)}};
}

json chunkBody(const ResponseIds &ids, bool chat, const std::string &text,
               const std::string &finishReason, bool roleOnly) {
  json choice = {{"index", 0}};
  choice["finish_reason"] = finishReason.empty() ? json(nullptr) : json(finishReason);
  if (chat) {
    json delta = json::object();
    if (roleOnly)
      delta = {{"role", "assistant"}, {"content", ""}};
    else if (finishReason.empty() || !text.empty())
      delta["content"] = text;
    choice["delta"] = delta;
  } else {
    choice["text"] = text, choice["logprobs"] = nullptr;
  }
  return json{{"id", ids.id},
              {"object", chat ? "chat.completion.chunk" : "text_completion"},
              {"created", ids.created},
              {"model", ids.model},
              {"choices", json::array({choice})}};
}

} // namespace qrt::server
