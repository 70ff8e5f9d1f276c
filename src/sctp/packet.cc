#include "sctp/packet.h"

#include <cstring>

#include "sctp/crc32c.h"

namespace tandem::sctp {

uint32_t ComputePacketChecksum(ByteSpan packet) {
  if (packet.size() < kCommonHeaderSize) return 0;
  // RFC 9260 §6.8: the checksum covers the whole packet with the checksum field taken as zero.
  static constexpr uint8_t kZeros[4] = {};
  uint32_t state = Crc32cExtend(kCrc32cInit, packet.first(8));
  state = Crc32cExtend(state, kZeros);
  state = Crc32cExtend(state, packet.subspan(kCommonHeaderSize));
  // Appendix A: the CRC is transmitted least significant byte first; read back big-endian that is
  // byte-swapped.
  return __builtin_bswap32(Crc32cFinish(state));
}

void WritePacketChecksum(MutableByteSpan packet) {
  if (packet.size() < kCommonHeaderSize) return;
  StoreBe32(packet.data() + 8, ComputePacketChecksum(packet));
}

std::optional<PacketView> PacketView::Parse(ByteSpan packet, bool verify_checksum) {
  if (packet.size() < kCommonHeaderSize || packet.size() > kMaxPacketSize) return std::nullopt;
  PacketView v;
  v.bytes_ = packet;
  v.header_.source_port = LoadBe16(&packet[0]);
  v.header_.destination_port = LoadBe16(&packet[2]);
  v.header_.verification_tag = LoadBe32(&packet[4]);
  v.header_.checksum = LoadBe32(&packet[8]);
  // Every chunk header must lie within the packet; its length must be >= 4 and within the packet. Padding
  // after the last chunk may be absent.
  size_t offset = kCommonHeaderSize;
  while (offset < packet.size()) {
    if (packet.size() - offset < kChunkHeaderSize) return std::nullopt;
    const size_t length = LoadBe16(&packet[offset + 2]);
    if (length < kChunkHeaderSize || length > packet.size() - offset) return std::nullopt;
    ++v.chunk_count_;
    offset += PaddedLength(length);
  }
  if (v.chunk_count_ == 0) return std::nullopt;  // RFC 9260 §3: a packet carries one or more chunks
  if (verify_checksum && ComputePacketChecksum(packet) != v.header_.checksum) return std::nullopt;
  return v;
}

void PacketView::Iterator::Load() {
  if (offset_ >= packet_.size()) {
    offset_ = packet_.size();
    return;
  }
  // Parse() validated the layout.
  const size_t length = LoadBe16(&packet_[offset_ + 2]);
  current_.type = packet_[offset_];
  current_.flags = packet_[offset_ + 1];
  current_.raw = packet_.subspan(offset_, length);
  current_.value = current_.raw.subspan(kChunkHeaderSize);
}

void PacketView::Iterator::Advance() {
  offset_ += PaddedLength(current_.raw.size());
  if (offset_ > packet_.size()) offset_ = packet_.size();
  Load();
}

PacketBuilder::PacketBuilder(std::vector<uint8_t>& buffer, uint16_t source_port, uint16_t destination_port,
                             uint32_t verification_tag, size_t max_size)
    : buffer_(buffer), writer_(buffer), max_size_(max_size) {
  buffer_.clear();
  writer_.WriteU16(source_port);
  writer_.WriteU16(destination_port);
  writer_.WriteU32(verification_tag);
  writer_.WriteU32(0);
}

ByteSpan PacketBuilder::Finish() {
  WritePacketChecksum(buffer_);
  return buffer_;
}

}  // namespace tandem::sctp
