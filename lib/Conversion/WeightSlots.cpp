//===- WeightSlots.cpp - packing weights for the CPU runtime ---------------===//
#include "qopt/Conversion/WeightSlots.h"
#include "qopt/Support/Error.h"
#include "qopt/Support/SafeTensors.h"

extern "C" {
#include "qrt_format.h"
}

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstring>

namespace qopt::cpu {

WeightSlot floatSlot(qnt::ParamOp op) {
  WeightSlot s;
  s.name = op.getName().str();
  s.kind = QRTW_F32;
  auto shape = op.getType().getShape();
  s.rows = shape.size() == 2 ? shape[0] : 1;
  s.cols = shape.back();
  return s;
}

WeightSlot quantizedSlot(qnt::QParamOp op) {
  WeightSlot s;
  s.name = op.getName().str();
  s.quantized = true;
  s.scheme = qmath::Scheme::fromAttr(op.getScheme());
  s.outliers = op.getScheme().getOutliers();
  auto shape = op.getType().getShape();
  s.rows = shape[0];
  s.cols = shape[1];
  qmath::GroupLayout layout(s.scheme, s.rows, s.cols);
  s.groupsPerRow = layout.perTensor ? 0 : layout.perRow;
  s.groupWidth = layout.perTensor ? s.cols : layout.width;
  bool nf4 = s.scheme.format == qnt::WeightFormat::NF4;
  s.format = nf4 ? QRTW_FORMAT_NF4 : QRTW_FORMAT_INT;
  bool wholeBlocks = layout.perTensor || layout.perRow == 1 || layout.width % 32 == 0;
  s.kind = (!nf4 && s.scheme.bits == 4 && wholeBlocks) ? QRTW_Q4 : QRTW_CODES;
  return s;
}

uint64_t programHash(const std::vector<WeightSlot> &slots) {
  uint64_t h = 1469598103934665603ull; // FNV-1a
  auto mix = [&](const void *p, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      h ^= static_cast<const uint8_t *>(p)[i];
      h *= 1099511628211ull;
    }
  };
  for (const WeightSlot &s : slots) {
    mix(s.name.data(), s.name.size());
    int64_t fields[] = {s.kind, s.format, s.rows, s.cols, s.scheme.bits, s.scheme.symmetric,
                        s.groupWidth, s.groupsPerRow, s.outliers, s.scheme.doubleQuant};
    mix(fields, sizeof fields);
  }
  // generated code stores it in an i64; keep it positive for readability
  return h & 0x7fffffffffffffffull;
}

namespace {

uint16_t floatToHalf(float f) {
  // The scales are f16-exact (qmath::roundToHalf); this conversion is exact
  // for them and rounds to nearest even otherwise.
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  int32_t exp = int32_t((x >> 23) & 0xff) - 127 + 15;
  uint32_t man = x & 0x7fffffu;
  if (((x >> 23) & 0xff) == 0xff)
    return uint16_t(sign | 0x7c00u | (man ? 0x200u : 0));
  if (exp >= 31)
    return uint16_t(sign | 0x7c00u);
  if (exp <= 0) {
    if (exp < -10)
      return uint16_t(sign);
    man |= 0x800000u;
    uint32_t shift = uint32_t(14 - exp);
    uint32_t half = man >> shift, rest = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rest > mid || (rest == mid && (half & 1)))
      ++half;
    return uint16_t(sign | half);
  }
  uint32_t half = sign | (uint32_t(exp) << 10) | (man >> 13);
  uint32_t rest = man & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1)))
    ++half;
  return uint16_t(half);
}

struct Blob {
  std::vector<uint8_t> bytes;
  uint64_t append(const void *data, size_t n) {
    size_t at = (bytes.size() + QRTW_ALIGN - 1) / QRTW_ALIGN * QRTW_ALIGN;
    bytes.resize(at + n);
    if (n)
      std::memcpy(bytes.data() + at, data, n);
    return at;
  }
};

/// Codes of one weight in the slot's layout.
std::vector<uint8_t> packCodes(const WeightSlot &s, const qmath::QuantizedWeight &q) {
  std::vector<uint8_t> codes = q.codes;
  // Outlier columns decode to zero: their code is the zero point.
  qmath::GroupLayout layout = q.layout();
  for (int32_t c : q.outlierIndex)
    for (int64_t r = 0; r < s.rows; ++r)
      codes[r * s.cols + c] = uint8_t(std::lround(q.params[layout.index(r, c)].zero));
  if (s.kind != QRTW_Q4)
    return codes;
  int64_t blocks = (s.cols + 31) / 32;
  std::vector<uint8_t> out(size_t(s.rows * blocks * 16), 0);
  for (int64_t r = 0; r < s.rows; ++r)
    for (int64_t c = 0; c < s.cols; ++c) {
      int64_t b = c / 32, j = c % 32;
      uint8_t &byte = out[size_t((r * blocks + b) * 16 + (j % 16))];
      byte |= uint8_t((codes[r * s.cols + c] & 15) << (j < 16 ? 0 : 4));
    }
  return out;
}

llvm::Error packSlot(const WeightSlot &s, const ParameterStore &store, Blob &blob,
                     qrtw_slot &out) {
  std::memset(&out, 0, sizeof out);
  std::strncpy(out.name, s.name.c_str(), QRTW_NAME_LEN - 1);
  out.kind = s.kind;
  out.format = s.format;
  out.rows = s.rows;
  out.cols = s.cols;
  out.group_width = s.groupWidth;
  out.groups_per_row = s.groupsPerRow;
  out.outliers = s.outliers;
  out.flags = s.gatherOnly ? QRTW_SLOT_GATHER_ONLY : 0;
  if (!s.quantized) {
    auto t = store.get(s.name);
    if (!t)
      return t.takeError();
    if ((*t)->numel() != s.rows * s.cols)
      return makeError("parameter '" + s.name + "' has " + std::to_string((*t)->numel()) +
                       " values, the program expects " + std::to_string(s.rows * s.cols));
    std::vector<float> values = (*t)->toFloats();
    out.data_bytes = values.size() * 4;
    out.data_offset = blob.append(values.data(), values.size() * 4);
    return llvm::Error::success();
  }
  auto q = qmath::loadQuantized(store, s.name, s.scheme, s.rows, s.cols, s.outliers);
  if (!q)
    return q.takeError();
  out.bits = uint32_t(s.scheme.bits);
  out.symmetric = s.scheme.symmetric;
  std::vector<uint8_t> codes = packCodes(s, *q);
  out.data_bytes = codes.size();
  out.data_offset = blob.append(codes.data(), codes.size());
  std::vector<uint16_t> scales;
  std::vector<float> wideScales;
  std::vector<uint8_t> zeros;
  for (const qmath::GroupParams &p : q->params) {
    scales.push_back(floatToHalf(p.scale));
    wideScales.push_back(p.scale);
    zeros.push_back(uint8_t(std::lround(p.zero)));
  }
  // Double-quantized scales decode to values f16 cannot hold exactly.
  out.scales_f32 = s.scheme.doubleQuant;
  out.scales_offset = out.scales_f32 ? blob.append(wideScales.data(), wideScales.size() * 4)
                                     : blob.append(scales.data(), scales.size() * 2);
  out.zeros_offset = blob.append(zeros.data(), zeros.size());
  out.outlier_index_offset = blob.append(q->outlierIndex.data(), q->outlierIndex.size() * 4);
  out.outlier_weight_offset = blob.append(q->outlierWeight.data(), q->outlierWeight.size() * 4);
  return llvm::Error::success();
}

} // namespace

llvm::Error writeWeightsFile(const std::string &path, const std::vector<WeightSlot> &slots,
                             const ParameterStore &store, const std::string &tokenizer) {
  Blob blob;
  size_t tableBytes = sizeof(qrtw_header) + slots.size() * sizeof(qrtw_slot);
  blob.bytes.resize(tableBytes);
  std::vector<qrtw_slot> table(slots.size());
  for (size_t i = 0; i < slots.size(); ++i)
    if (auto err = packSlot(slots[i], store, blob, table[i]))
      return err;
  qrtw_header header;
  std::memset(&header, 0, sizeof header);
  std::memcpy(header.magic, QRTW_MAGIC, 8);
  header.program_hash = programHash(slots);
  header.num_slots = uint32_t(slots.size());
  if (!tokenizer.empty()) {
    header.tokenizer_bytes = tokenizer.size();
    header.tokenizer_offset = blob.append(tokenizer.data(), tokenizer.size());
  }
  header.file_bytes = blob.bytes.size();
  header.content_hash =
      qrtw_content_hash(table.data(), table.size(), blob.bytes.data() + header.tokenizer_offset,
                        header.tokenizer_bytes);
  std::memcpy(blob.bytes.data(), &header, sizeof header);
  std::memcpy(blob.bytes.data() + sizeof header, table.data(), table.size() * sizeof(qrtw_slot));

  return writeFileAtomically(path, [&](llvm::raw_ostream &os) {
    os.write(reinterpret_cast<const char *>(blob.bytes.data()), blob.bytes.size());
    return llvm::Error::success();
  });
}

} // namespace qopt::cpu
