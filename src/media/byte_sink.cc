#include "media/byte_sink.h"

#include <cstring>

namespace tandem::media {

Status VectorSink::Write(ByteSpan b) {
  bytes_.insert(bytes_.end(), b.begin(), b.end());
  return OkStatus();
}

Status VectorSink::Patch(uint64_t offset, ByteSpan b) {
  if (offset > bytes_.size() || b.size() > bytes_.size() - offset) {
    return MakeError(ErrorCode::kInvalidArgument, "patch outside the written bytes");
  }
  std::memcpy(bytes_.data() + offset, b.data(), b.size());
  return OkStatus();
}

Result<std::unique_ptr<FileSink>> FileSink::Open(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return MakeError(ErrorCode::kUnavailable, "cannot create file");
  return std::unique_ptr<FileSink>(new FileSink(f));
}

FileSink::~FileSink() {
  if (file_) std::fclose(file_);
}

Status FileSink::Write(ByteSpan b) {
  if (!file_) return MakeError(ErrorCode::kUnavailable, "file closed");
  if (!b.empty() && std::fwrite(b.data(), 1, b.size(), file_) != b.size()) {
    return MakeError(ErrorCode::kUnavailable, "file write failed");
  }
  return OkStatus();
}

Status FileSink::Patch(uint64_t offset, ByteSpan b) {
  if (!file_) return MakeError(ErrorCode::kUnavailable, "file closed");
  const long end = std::ftell(file_);
  if (end < 0 || std::fseek(file_, static_cast<long>(offset), SEEK_SET) != 0) {
    return MakeError(ErrorCode::kUnavailable, "file seek failed");
  }
  const bool ok = std::fwrite(b.data(), 1, b.size(), file_) == b.size();
  if (std::fseek(file_, end, SEEK_SET) != 0 || !ok)
    return MakeError(ErrorCode::kUnavailable, "file patch failed");
  return OkStatus();
}

Status FileSink::Close() {
  if (!file_) return OkStatus();
  const bool ok = std::fclose(file_) == 0;
  file_ = nullptr;
  return ok ? OkStatus() : MakeError(ErrorCode::kUnavailable, "file close failed");
}

Result<std::vector<uint8_t>> ReadFile(const std::string& path, size_t max_size) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return MakeError(ErrorCode::kNotFound, "cannot open file");
  std::vector<uint8_t> out;
  uint8_t buf[65536];
  while (true) {
    const size_t n = std::fread(buf, 1, sizeof(buf), f);
    if (n == 0) break;
    if (out.size() + n > max_size) {
      std::fclose(f);
      return MakeError(ErrorCode::kLimitExceeded, "file too large");
    }
    out.insert(out.end(), buf, buf + n);
  }
  const bool error = std::ferror(f) != 0;
  std::fclose(f);
  if (error) return MakeError(ErrorCode::kUnavailable, "file read failed");
  return out;
}

}  // namespace tandem::media
