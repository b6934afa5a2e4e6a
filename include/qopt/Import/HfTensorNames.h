//===- HfTensorNames.h - Hugging Face Llama-family tensor names -*- C++ -*-===//
#ifndef QOPT_IMPORT_HFTENSORNAMES_H
#define QOPT_IMPORT_HFTENSORNAMES_H

#include "qopt/Import/ModelConfig.h"

#include <map>
#include <string>
#include <vector>

namespace qopt {

/// What a Hugging Face tensor is in qopt: its canonical name and shape.
struct HfTensor {
  std::string canonical;
  std::vector<int64_t> shape;
};

/// Every tensor a Hugging Face checkpoint of `config` holds
/// ("model.layers.0.self_attn.q_proj.weight" -> layers.0.wq [q, dim]), for
/// the importer and the exporters.
std::map<std::string, HfTensor> hfTensorNames(const ModelConfig &config);

} // namespace qopt

#endif
