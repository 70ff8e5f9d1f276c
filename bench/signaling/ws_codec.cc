#include "bench/signaling/ws_codec.h"

#include <charconv>
#include <cstring>

namespace tandem::bench::sig {
namespace {

constexpr char kMarkerPrefix[] = "~tl";

// RFC 6455 §5.2: 7-bit length, or 126 + 16-bit, or 127 + 64-bit (network byte order), then the 4-byte mask
// key.
size_t WriteHeader(uint8_t* h, Opcode opcode, size_t length, uint32_t mask_key) {
  size_t n = 0;
  h[n++] = static_cast<uint8_t>(0x80 | static_cast<uint8_t>(opcode));
  if (length < 126) {
    h[n++] = static_cast<uint8_t>(0x80 | length);
  } else if (length <= 0xFFFF) {
    h[n++] = 0x80 | 126;
    h[n++] = static_cast<uint8_t>(length >> 8);
    h[n++] = static_cast<uint8_t>(length);
  } else {
    h[n++] = 0x80 | 127;
    for (int i = 7; i >= 0; --i) h[n++] = static_cast<uint8_t>(static_cast<uint64_t>(length) >> (8 * i));
  }
  std::memcpy(h + n, &mask_key, 4);
  return n + 4;
}

// RFC 6455 §5.3: octet i of the payload is XORed with octet i mod 4 of the key. Eight octets at a time.
void Mask(char* data, size_t length, const uint8_t key[4]) {
  uint64_t pattern;
  uint8_t bytes[8] = {key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]};
  std::memcpy(&pattern, bytes, 8);
  size_t i = 0;
  for (; i + 8 <= length; i += 8) {
    uint64_t v;
    std::memcpy(&v, data + i, 8);
    v ^= pattern;
    std::memcpy(data + i, &v, 8);
  }
  for (; i < length; ++i) data[i] = static_cast<char>(data[i] ^ key[i % 4]);
}

}  // namespace

void AppendClientFrame(std::string& out, Opcode opcode, std::string_view payload, uint32_t mask_key) {
  const size_t offset = out.size();
  out.append(payload);
  FrameInPlace(out, offset, opcode, mask_key);
}

void FrameInPlace(std::string& out, size_t payload_offset, Opcode opcode, uint32_t mask_key) {
  const size_t length = out.size() - payload_offset;
  uint8_t header[14];
  const size_t header_size = WriteHeader(header, opcode, length, mask_key);
  out.insert(payload_offset, reinterpret_cast<const char*>(header), header_size);
  Mask(out.data() + payload_offset + header_size, length, header + header_size - 4);
}

ParseStatus ParseServerFrame(std::string_view data, size_t max_payload, ServerFrame& frame,
                             size_t& consumed) {
  if (data.size() < 2) return ParseStatus::kNeedMore;
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  if ((p[0] & 0x70) != 0) return ParseStatus::kError;  // RSV1-3: no extension was negotiated
  const uint8_t op = p[0] & 0x0F;
  if (op != 0x0 && op != 0x1 && op != 0x2 && op != 0x8 && op != 0x9 && op != 0xA) return ParseStatus::kError;
  if ((p[1] & 0x80) != 0) return ParseStatus::kError;  // §5.1: a server never masks
  uint64_t length = p[1] & 0x7F;
  size_t header = 2;
  if (length == 126) {
    if (data.size() < 4) return ParseStatus::kNeedMore;
    length = (uint64_t{p[2]} << 8) | p[3];
    header = 4;
  } else if (length == 127) {
    if (data.size() < 10) return ParseStatus::kNeedMore;
    length = 0;
    for (int i = 0; i < 8; ++i) length = (length << 8) | p[2 + i];
    header = 10;
  }
  if (length > max_payload) return ParseStatus::kError;
  if (data.size() - header < length) return ParseStatus::kNeedMore;
  frame.opcode = static_cast<Opcode>(op);
  frame.fin = (p[0] & 0x80) != 0;
  frame.payload = data.substr(header, static_cast<size_t>(length));
  consumed = header + static_cast<size_t>(length);
  return ParseStatus::kFrame;
}

std::string UpgradeRequest(std::string_view host, std::string_view target, std::string_view key) {
  std::string r;
  r.reserve(256 + target.size());
  r.append("GET ").append(target).append(" HTTP/1.1\r\nHost: ").append(host);
  r.append("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ").append(key);
  r.append("\r\nSec-WebSocket-Version: 13\r\n\r\n");
  return r;
}

size_t WriteMarker(char* out, Marker marker) {
  char* p = out;
  std::memcpy(p, kMarkerPrefix, 3);
  p += 3;
  p = std::to_chars(p, out + kMaxMarkerBytes, marker.step).ptr;
  *p++ = '.';
  p = std::to_chars(p, out + kMaxMarkerBytes, marker.send_ns).ptr;
  *p++ = '~';
  return static_cast<size_t>(p - out);
}

std::optional<Marker> FindMarker(std::string_view text) {
  size_t from = 0;
  while (true) {
    const size_t at = text.find(kMarkerPrefix, from);
    if (at == std::string_view::npos) return std::nullopt;
    from = at + 1;
    const char* p = text.data() + at + 3;
    const char* end = text.data() + text.size();
    Marker m;
    auto [after_step, ec1] = std::from_chars(p, end, m.step);
    if (ec1 != std::errc() || after_step == end || *after_step != '.') continue;
    auto [after_ns, ec2] = std::from_chars(after_step + 1, end, m.send_ns);
    if (ec2 != std::errc() || after_ns == end || *after_ns != '~') continue;
    return m;
  }
}

}  // namespace tandem::bench::sig
