//===- ConfigFields.cpp - typed access to a JSON config's fields ----------===//
#include "qopt/Import/ConfigFields.h"

#include "qopt/Support/Error.h"

#include "llvm/Support/MemoryBuffer.h"

#include <cmath>
#include <limits>

using nlohmann::json;

namespace qopt {

llvm::Expected<json> readJsonObject(llvm::StringRef path) {
  auto bufferOr = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!bufferOr)
    return makeError("cannot open '" + path + "': " + bufferOr.getError().message());
  json value = json::parse((*bufferOr)->getBuffer().begin(),
                           (*bufferOr)->getBuffer().end(), nullptr,
                           /*allow_exceptions=*/false);
  if (value.is_discarded() || !value.is_object())
    return makeError(path + ": not a JSON object");
  return value;
}

llvm::Error ConfigFields::fail(const llvm::Twine &what) const {
  return makeError(where + ": " + what);
}

llvm::Error ConfigFields::wrongType(const char *key, const char *expected) const {
  return fail("field '" + llvm::Twine(key) + "' must be " + expected + ", not " +
              cfg.at(key).type_name() + " " + cfg.at(key).dump());
}

llvm::Expected<int64_t> ConfigFields::intField(const char *key) const {
  const json &v = cfg.at(key);
  if (!v.is_number_integer())
    return wrongType(key, "an integer");
  if (v.is_number_unsigned() &&
      v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
    return fail("field '" + llvm::Twine(key) + "' is " + v.dump() + ", too large");
  return v.get<int64_t>();
}

llvm::Expected<int64_t> ConfigFields::requireInt(const char *key) const {
  if (!cfg.contains(key))
    return fail("missing field '" + llvm::Twine(key) + "'");
  return intField(key);
}

llvm::Expected<int64_t> ConfigFields::optionalInt(const char *key, int64_t fallback) const {
  return has(key) ? intField(key) : llvm::Expected<int64_t>(fallback);
}

llvm::Expected<float> ConfigFields::optionalFloat(const char *key, float fallback) const {
  if (!has(key))
    return fallback;
  const json &v = cfg.at(key);
  if (!v.is_number())
    return wrongType(key, "a number");
  double d = v.get<double>();
  if (!std::isfinite(d) || std::fabs(d) > double(std::numeric_limits<float>::max()))
    return fail("field '" + llvm::Twine(key) + "' is " + v.dump() +
                ", beyond what a float holds");
  return float(d);
}

llvm::Expected<double> ConfigFields::requirePositive(const char *key) const {
  if (!has(key))
    return fail("missing field '" + llvm::Twine(key) + "'");
  const json &v = cfg.at(key);
  if (!v.is_number())
    return wrongType(key, "a number");
  double d = v.get<double>();
  if (!std::isfinite(d) || !(d > 0))
    return fail("field '" + llvm::Twine(key) + "' is " + v.dump() + ", not a positive number");
  return d;
}

llvm::Expected<bool> ConfigFields::optionalBool(const char *key, bool fallback) const {
  if (!has(key))
    return fallback;
  if (!cfg.at(key).is_boolean())
    return wrongType(key, "true or false");
  return cfg.at(key).get<bool>();
}

llvm::Expected<std::string> ConfigFields::optionalString(const char *key,
                                                         std::string fallback) const {
  if (!has(key))
    return fallback;
  if (!cfg.at(key).is_string())
    return wrongType(key, "a string");
  return cfg.at(key).get<std::string>();
}

} // namespace qopt
