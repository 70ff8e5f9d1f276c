// The DTLS 1.2 record header (RFC 6347 §4.1), parsed only as far as this layer needs: to check that a
// datagram is a well-formed sequence of records before OpenSSL sees it, to count records, and to pack the
// records OpenSSL writes into datagrams of at most the path MTU (RFC 6347 §4.1.1: several records may share
// one datagram, a record never spans two).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/bytes.h"

namespace tandem::dtls {

// RFC 5246 §6.2.1 / RFC 6347 §4.1 content types.
enum class ContentType : uint8_t {
  kChangeCipherSpec = 20,
  kAlert = 21,
  kHandshake = 22,
  kApplicationData = 23,
};

struct RecordHeader {
  static constexpr size_t kSize = 13;  // type(1) version(2) epoch(2) sequence_number(6) length(2)
  // RFC 6347 §4.1.2.1 with RFC 5246 §6.2.3: TLSCiphertext.fragment is at most 2^14 + 2048 bytes.
  static constexpr size_t kMaxFragment = 16384 + 2048;

  ContentType type = ContentType::kHandshake;
  uint16_t version =
      0;  // 0xFEFD for DTLS 1.2; 0xFEFF (DTLS 1.0) is legal in a ClientHello record (RFC 6347 §4.2.1)
  uint16_t epoch = 0;
  uint64_t sequence_number = 0;  // 48 bits
  uint16_t length = 0;

  // Parses the header at the front of `data`; nullopt when it is truncated, has a content type other than the
  // four above, a version outside DTLS (major byte 0xFE), a length above kMaxFragment, or a fragment running
  // past the end.
  static std::optional<RecordHeader> Parse(ByteSpan data);
  size_t record_size() const { return kSize + length; }
};

// Epoch 0 carries the handshake in plaintext, so its records can be checked before OpenSSL sees them; OpenSSL
// answers some malformed plaintext (a handshake fragment shorter than its header, say) with a fatal alert,
// while RFC 6347 §4.1.2.7 asks for invalid records to be discarded. Checks: a ChangeCipherSpec is the single
// byte 1 (RFC 5246 §7.1), an alert is two bytes with level warning or fatal (§7.2), a handshake record holds
// exactly one fragment whose header is consistent (RFC 6347 §4.2.2), and application data never appears in
// epoch 0 (§7.1 of RFC 5246: it is only sent encrypted). Records of later epochs are authenticated by OpenSSL
// and always pass.
bool IsWellFormedRecord(const RecordHeader& header, ByteSpan record);

// Calls `on_record(header, whole_record)` for each record of a datagram, in order. Returns false (after
// calling it for the valid prefix) when the datagram is empty or is not exactly a sequence of valid records.
template <typename F>
bool ForEachRecord(ByteSpan datagram, F&& on_record) {
  if (datagram.empty()) return false;
  while (!datagram.empty()) {
    auto header = RecordHeader::Parse(datagram);
    if (!header) return false;
    on_record(*header, datagram.first(header->record_size()));
    datagram = datagram.subspan(header->record_size());
  }
  return true;
}

}  // namespace tandem::dtls
