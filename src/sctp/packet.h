// SCTP packet framing (RFC 9260 §3.1): the 12-byte common header, the chunk list and the CRC32c checksum
// (RFC 9260 §6.8, Appendix A). Over DTLS (RFC 8261) one SCTP packet is one DTLS record; there is no IP or UDP
// header.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/bytes.h"
#include "sctp/chunks.h"

namespace tandem::sctp {

inline constexpr size_t kCommonHeaderSize = 12;
// Packets larger than this are not SCTP-over-DTLS packets we could have asked for; refuse them outright.
inline constexpr size_t kMaxPacketSize = 65535;

struct CommonHeader {
  uint16_t source_port = 0;
  uint16_t destination_port = 0;
  uint32_t verification_tag = 0;
  uint32_t checksum = 0;
};

// RFC 9260 Appendix A: the CRC32c of the packet with the checksum field zeroed, as stored on the wire. The
// CRC's least significant byte goes first, so this returns the value as read big-endian from bytes 8..11.
uint32_t ComputePacketChecksum(ByteSpan packet);
// Writes the checksum into bytes 8..11 of a finished packet.
void WritePacketChecksum(MutableByteSpan packet);

// A validated packet: the common header and an iterator over the chunks, all views into the input bytes.
class PacketView {
 public:
  // Checks the header, that every chunk's length lies within the packet (and is >= 4), and, if
  // `verify_checksum`, the CRC32c. Returns nullopt for anything malformed.
  static std::optional<PacketView> Parse(ByteSpan packet, bool verify_checksum = true);

  const CommonHeader& header() const { return header_; }
  ByteSpan bytes() const { return bytes_; }
  size_t chunk_count() const { return chunk_count_; }

  class Iterator {
   public:
    using value_type = ChunkView;
    const ChunkView& operator*() const { return current_; }
    const ChunkView* operator->() const { return &current_; }
    Iterator& operator++() {
      Advance();
      return *this;
    }
    bool operator==(const Iterator& o) const { return offset_ == o.offset_; }

   private:
    friend class PacketView;
    Iterator(ByteSpan packet, size_t offset) : packet_(packet), offset_(offset) { Load(); }
    void Load();
    void Advance();
    ByteSpan packet_;
    size_t offset_;
    ChunkView current_;
  };
  Iterator begin() const { return Iterator(bytes_, kCommonHeaderSize); }
  Iterator end() const { return Iterator(bytes_, bytes_.size()); }

 private:
  CommonHeader header_;
  ByteSpan bytes_;
  size_t chunk_count_ = 0;
};

// Builds one packet into a caller-owned buffer (reused across packets: no allocation once it has grown).
class PacketBuilder {
 public:
  PacketBuilder(std::vector<uint8_t>& buffer, uint16_t source_port, uint16_t destination_port,
                uint32_t verification_tag, size_t max_size);

  // Bytes still available for chunks (including their padding).
  size_t remaining() const { return max_size_ > writer_.size() ? max_size_ - writer_.size() : 0; }
  size_t size() const { return writer_.size(); }
  bool empty() const { return writer_.size() == kCommonHeaderSize; }
  // Appends a chunk; the caller checks the size against remaining() first (the packet may exceed max_size
  // only when a single chunk is larger, which callers avoid).
  template <typename Chunk>
  void Add(const Chunk& chunk) {
    chunk.SerializeTo(writer_);
  }
  // Appends pre-serialized chunk bytes (already padded).
  void AddRaw(ByteSpan chunk_bytes) { writer_.WriteBytes(chunk_bytes); }
  // Computes the checksum and returns the finished packet (a view of the buffer).
  ByteSpan Finish();

 private:
  std::vector<uint8_t>& buffer_;
  ByteWriter writer_;
  size_t max_size_;
};

}  // namespace tandem::sctp
