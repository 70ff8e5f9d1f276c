// Bounds-checked big-endian byte reader and writer over spans: every wire format is parsed through these.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace tandem {

using ByteSpan = std::span<const uint8_t>;
using MutableByteSpan = std::span<uint8_t>;

inline ByteSpan AsBytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }
inline std::string_view AsStringView(ByteSpan b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

inline uint16_t LoadBe16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t LoadBe32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
inline void StoreBe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void StoreBe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// Reads from a span; every read checks the remaining length and reports failure instead of overrunning.
class ByteReader {
 public:
  explicit ByteReader(ByteSpan data) : data_(data) {}

  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }
  bool empty() const { return remaining() == 0; }

  bool ReadU8(uint8_t& out) {
    if (remaining() < 1) return false;
    out = data_[pos_++];
    return true;
  }
  bool ReadU16(uint16_t& out) {
    if (remaining() < 2) return false;
    out = LoadBe16(&data_[pos_]);
    pos_ += 2;
    return true;
  }
  bool ReadU32(uint32_t& out) {
    if (remaining() < 4) return false;
    out = LoadBe32(&data_[pos_]);
    pos_ += 4;
    return true;
  }
  bool ReadU64(uint64_t& out) {
    uint32_t hi = 0, lo = 0;
    if (remaining() < 8) return false;
    ReadU32(hi);
    ReadU32(lo);
    out = (uint64_t{hi} << 32) | lo;
    return true;
  }
  bool ReadBytes(size_t n, ByteSpan& out) {
    if (remaining() < n) return false;
    out = data_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  bool Skip(size_t n) {
    if (remaining() < n) return false;
    pos_ += n;
    return true;
  }
  ByteSpan Rest() const { return data_.subspan(pos_); }

 private:
  ByteSpan data_;
  size_t pos_ = 0;
};

// Appends big-endian values to a caller-owned vector. Reusing the vector (clear() keeps its capacity) keeps hot paths
// free of allocation.
class ByteWriter {
 public:
  explicit ByteWriter(std::vector<uint8_t>& out) : out_(out) {}

  size_t size() const { return out_.size(); }
  void WriteU8(uint8_t v) { out_.push_back(v); }
  void WriteU16(uint16_t v) {
    uint8_t b[2];
    StoreBe16(b, v);
    out_.insert(out_.end(), b, b + 2);
  }
  void WriteU32(uint32_t v) {
    uint8_t b[4];
    StoreBe32(b, v);
    out_.insert(out_.end(), b, b + 4);
  }
  void WriteU64(uint64_t v) {
    WriteU32(static_cast<uint32_t>(v >> 32));
    WriteU32(static_cast<uint32_t>(v));
  }
  void WriteBytes(ByteSpan b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void WriteZeros(size_t n) { out_.insert(out_.end(), n, 0); }
  // Overwrites a previously written 16-bit field (e.g. a length known only at the end).
  void PatchU16(size_t offset, uint16_t v) { StoreBe16(&out_[offset], v); }
  void PatchU32(size_t offset, uint32_t v) { StoreBe32(&out_[offset], v); }
  std::vector<uint8_t>& buffer() { return out_; }

 private:
  std::vector<uint8_t>& out_;
};

}  // namespace tandem
