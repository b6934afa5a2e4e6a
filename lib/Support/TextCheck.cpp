//===- TextCheck.cpp -------------------------------------------------------===//
#include "qopt/Support/TextCheck.h"

#include "qopt/Support/Error.h"

#include "llvm/Support/ConvertUTF.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

namespace qopt {

llvm::Error checkText(llvm::StringRef text, const llvm::Twine &name) {
  const auto *begin = reinterpret_cast<const llvm::UTF8 *>(text.data());
  const auto *end = begin + text.size();
  const llvm::UTF8 *at = begin;
  size_t nul = text.find('\0');
  bool legal = llvm::isLegalUTF8String(&at, end);
  size_t offset = legal ? nul : std::min(size_t(at - begin), nul);
  if (offset == llvm::StringRef::npos)
    return llvm::Error::success();
  std::string msg;
  llvm::raw_string_ostream os(msg);
  os << name << " is not UTF-8 text (byte "
     << llvm::format("0x%02X", unsigned(static_cast<unsigned char>(text[offset])))
     << " at offset " << offset << ")";
  return makeError(os.str());
}

} // namespace qopt
