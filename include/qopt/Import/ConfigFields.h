//===- ConfigFields.h - typed access to a JSON config's fields --*- C++ -*-===//
//
// config.json, quantize_config.json and their nested objects are read
// through ConfigFields: a field of the wrong JSON type, or an integer beyond
// int64, is a one-line error naming the file and the field, never an
// exception.
//
//===----------------------------------------------------------------------===//
#ifndef QOPT_IMPORT_CONFIGFIELDS_H
#define QOPT_IMPORT_CONFIGFIELDS_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace qopt {

/// Reads `path`, which must hold one JSON object.
llvm::Expected<nlohmann::json> readJsonObject(llvm::StringRef path);

class ConfigFields {
public:
  /// `where` names the object in errors ("dir/config.json: rope_scaling").
  ConfigFields(const nlohmann::json &cfg, llvm::StringRef where)
      : cfg(cfg), where(where.str()) {}

  /// Present and not null.
  bool has(const char *key) const { return cfg.contains(key) && !cfg.at(key).is_null(); }

  llvm::Expected<int64_t> requireInt(const char *key) const;
  llvm::Expected<int64_t> optionalInt(const char *key, int64_t fallback) const;
  llvm::Expected<float> optionalFloat(const char *key, float fallback) const;
  /// A finite number above zero.
  llvm::Expected<double> requirePositive(const char *key) const;
  llvm::Expected<bool> optionalBool(const char *key, bool fallback) const;
  llvm::Expected<std::string> optionalString(const char *key, std::string fallback) const;

  /// "<where>: <what>" as an error.
  llvm::Error fail(const llvm::Twine &what) const;

private:
  const nlohmann::json &cfg;
  std::string where;

  llvm::Error wrongType(const char *key, const char *expected) const;
  llvm::Expected<int64_t> intField(const char *key) const;
};

} // namespace qopt

#endif
