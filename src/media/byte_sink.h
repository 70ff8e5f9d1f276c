// Where file writers put their bytes: memory (tests, or a caller that uploads) or a file. This and ReadFile
// are the only file I/O in src/media; the IVF and Ogg readers and writers themselves work on bytes.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"

namespace tandem::media {

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual Status Write(ByteSpan bytes) = 0;
  // Overwrites bytes already written at `offset` (headers whose counts are known only at the end). Sinks that
  // cannot seek return kUnsupported and the writer leaves the field as first written.
  virtual Status Patch(uint64_t offset, ByteSpan bytes) {
    return MakeError(ErrorCode::kUnsupported, "sink cannot patch");
  }
};

class VectorSink final : public ByteSink {
 public:
  Status Write(ByteSpan b) override;
  Status Patch(uint64_t offset, ByteSpan b) override;
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

class FileSink final : public ByteSink {
 public:
  // Creates (truncates) `path`.
  static Result<std::unique_ptr<FileSink>> Open(const std::string& path);
  ~FileSink() override;
  Status Write(ByteSpan b) override;
  Status Patch(uint64_t offset, ByteSpan b) override;
  // Flushes and closes; later writes fail.
  Status Close();

 private:
  explicit FileSink(std::FILE* f) : file_(f) {}
  std::FILE* file_;
};

// Reads a whole file; kLimitExceeded above max_size.
Result<std::vector<uint8_t>> ReadFile(const std::string& path, size_t max_size = size_t{1} << 30);

// Little-endian helpers (IVF and Ogg are little-endian, unlike the network formats in core/bytes.h).
inline uint16_t LoadLe16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
inline uint32_t LoadLe32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}
inline uint64_t LoadLe64(const uint8_t* p) {
  return uint64_t{LoadLe32(p)} | (uint64_t{LoadLe32(p + 4)} << 32);
}
inline void AppendLe16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v));
  out.push_back(static_cast<uint8_t>(v >> 8));
}
inline void AppendLe32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
inline void AppendLe64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
inline void StoreLe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
inline void StoreLe32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace tandem::media
