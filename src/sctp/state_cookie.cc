#include "sctp/state_cookie.h"

#include "core/crypto.h"

namespace tandem::sctp {
namespace {
constexpr uint32_t kMagic = 0x54534331;  // "TSC1": tandem state cookie, format 1
}

std::vector<uint8_t> StateCookie::Serialize(ByteSpan key) const {
  std::vector<uint8_t> out;
  out.reserve(kSerializedSize);
  ByteWriter w(out);
  w.WriteU32(kMagic);
  w.WriteU64(static_cast<uint64_t>(created_at.us()));
  w.WriteU32(my_tag);
  w.WriteU32(my_initial_tsn);
  w.WriteU32(peer_tag);
  w.WriteU32(peer_initial_tsn);
  w.WriteU32(peer_a_rwnd);
  w.WriteU16(peer_outbound_streams);
  w.WriteU16(peer_inbound_streams);
  w.WriteU8(static_cast<uint8_t>((peer_forward_tsn ? 1 : 0) | (peer_reconfig ? 2 : 0) |
                                 (peer_interleaving ? 4 : 0)));
  w.WriteU32(local_tie_tag);
  w.WriteU32(peer_tie_tag);
  const crypto::Sha256Digest mac = crypto::HmacSha256(key, out);
  w.WriteBytes(mac);
  return out;
}

std::optional<StateCookie> StateCookie::Parse(ByteSpan cookie, ByteSpan key) {
  if (cookie.size() != kSerializedSize) return std::nullopt;
  const ByteSpan body = cookie.first(kSerializedSize - kMacSize);
  const crypto::Sha256Digest mac = crypto::HmacSha256(key, body);
  if (!crypto::ConstantTimeEqual(mac, cookie.subspan(kSerializedSize - kMacSize))) return std::nullopt;
  ByteReader r(body);
  uint32_t magic = 0;
  uint64_t created = 0;
  uint8_t caps = 0;
  StateCookie c;
  r.ReadU32(magic);
  if (magic != kMagic) return std::nullopt;
  r.ReadU64(created);
  c.created_at = Timestamp::Micros(static_cast<int64_t>(created));
  r.ReadU32(c.my_tag);
  r.ReadU32(c.my_initial_tsn);
  r.ReadU32(c.peer_tag);
  r.ReadU32(c.peer_initial_tsn);
  r.ReadU32(c.peer_a_rwnd);
  r.ReadU16(c.peer_outbound_streams);
  r.ReadU16(c.peer_inbound_streams);
  r.ReadU8(caps);
  c.peer_forward_tsn = caps & 1;
  c.peer_reconfig = caps & 2;
  c.peer_interleaving = caps & 4;
  r.ReadU32(c.local_tie_tag);
  r.ReadU32(c.peer_tie_tag);
  return c;
}

}  // namespace tandem::sctp
