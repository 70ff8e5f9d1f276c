#include "core/socket_address.h"

#include <arpa/inet.h>

#include <cstring>

namespace tandem {

IpAddress IpAddress::V4(uint32_t host_order) {
  IpAddress a;
  a.family_ = AddressFamily::kIPv4;
  a.bytes_[0] = static_cast<uint8_t>(host_order >> 24);
  a.bytes_[1] = static_cast<uint8_t>(host_order >> 16);
  a.bytes_[2] = static_cast<uint8_t>(host_order >> 8);
  a.bytes_[3] = static_cast<uint8_t>(host_order);
  return a;
}

IpAddress IpAddress::V4(std::array<uint8_t, 4> bytes) {
  IpAddress a;
  a.family_ = AddressFamily::kIPv4;
  std::memcpy(a.bytes_.data(), bytes.data(), 4);
  return a;
}

IpAddress IpAddress::V6(const std::array<uint8_t, 16>& bytes) {
  IpAddress a;
  a.family_ = AddressFamily::kIPv6;
  a.bytes_ = bytes;
  return a;
}

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  if (text.empty() || text.size() > 63) return std::nullopt;
  char buf[64];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = 0;
  uint8_t raw[16];
  if (inet_pton(AF_INET, buf, raw) == 1) return V4({raw[0], raw[1], raw[2], raw[3]});
  if (inet_pton(AF_INET6, buf, raw) == 1) {
    std::array<uint8_t, 16> b;
    std::memcpy(b.data(), raw, 16);
    return V6(b);
  }
  return std::nullopt;
}

uint32_t IpAddress::v4_host_order() const {
  return (uint32_t{bytes_[0]} << 24) | (uint32_t{bytes_[1]} << 16) | (uint32_t{bytes_[2]} << 8) | bytes_[3];
}

bool IpAddress::IsV4Mapped() const {
  if (!is_v6()) return false;
  for (int i = 0; i < 10; ++i)
    if (bytes_[i] != 0) return false;
  return bytes_[10] == 0xff && bytes_[11] == 0xff;
}

IpAddress IpAddress::Unmapped() const {
  if (!IsV4Mapped()) return *this;
  return V4({bytes_[12], bytes_[13], bytes_[14], bytes_[15]});
}

bool IpAddress::InPrefix(const IpAddress& prefix, int prefix_len) const {
  if (family_ != prefix.family_) return false;
  int max_bits = static_cast<int>(size()) * 8;
  if (prefix_len < 0 || prefix_len > max_bits) return false;
  int full = prefix_len / 8;
  if (std::memcmp(bytes_.data(), prefix.bytes_.data(), full) != 0) return false;
  int rem = prefix_len % 8;
  if (rem == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rem));
  return (bytes_[full] & mask) == (prefix.bytes_[full] & mask);
}

bool IpAddress::IsUnspecified() const {
  if (family_ == AddressFamily::kUnspecified) return true;
  for (size_t i = 0; i < size(); ++i)
    if (bytes_[i] != 0) return false;
  return true;
}

bool IpAddress::IsLoopback() const {
  if (IsV4Mapped()) return Unmapped().IsLoopback();
  if (is_v4()) return bytes_[0] == 127;
  if (is_v6()) {
    for (int i = 0; i < 15; ++i)
      if (bytes_[i] != 0) return false;
    return bytes_[15] == 1;
  }
  return false;
}

bool IpAddress::IsPrivate() const {
  if (IsV4Mapped()) return Unmapped().IsPrivate();
  if (is_v4()) {
    uint8_t a = bytes_[0], b = bytes_[1];
    return a == 10 || (a == 172 && (b & 0xf0) == 16) || (a == 192 && b == 168) ||
           (a == 100 && (b & 0xc0) == 64) /* RFC 6598 shared space */ || a == 0 /* "this network" */;
  }
  if (is_v6()) return (bytes_[0] & 0xfe) == 0xfc;  // RFC 4193 unique local
  return false;
}

bool IpAddress::IsLinkLocal() const {
  if (IsV4Mapped()) return Unmapped().IsLinkLocal();
  if (is_v4()) return bytes_[0] == 169 && bytes_[1] == 254;
  if (is_v6()) return bytes_[0] == 0xfe && (bytes_[1] & 0xc0) == 0x80;
  return false;
}

bool IpAddress::IsMulticast() const {
  if (IsV4Mapped()) return Unmapped().IsMulticast();
  if (is_v4()) return (bytes_[0] & 0xf0) == 0xe0;
  if (is_v6()) return bytes_[0] == 0xff;
  return false;
}

bool IpAddress::IsBroadcast() const {
  if (IsV4Mapped()) return Unmapped().IsBroadcast();
  return is_v4() && v4_host_order() == 0xffffffffu;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (is_v4()) inet_ntop(AF_INET, bytes_.data(), buf, sizeof(buf));
  else if (is_v6()) inet_ntop(AF_INET6, bytes_.data(), buf, sizeof(buf));
  else return "unspecified";
  return buf;
}

std::optional<SocketAddress> SocketAddress::Parse(std::string_view text) {
  std::string_view host, port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return std::nullopt;  // bare IPv6 needs brackets
  }
  if (port_text.empty() || port_text.size() > 5) return std::nullopt;
  uint32_t port = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9') return std::nullopt;
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port > 65535) return std::nullopt;
  auto ip = IpAddress::Parse(host);
  if (!ip) return std::nullopt;
  return SocketAddress(*ip, static_cast<uint16_t>(port));
}

std::optional<SocketAddress> SocketAddress::FromSockaddr(const sockaddr* sa, socklen_t len) {
  if (sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    std::array<uint8_t, 4> b;
    std::memcpy(b.data(), &in->sin_addr, 4);
    return SocketAddress(IpAddress::V4(b), ntohs(in->sin_port));
  }
  if (sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    std::array<uint8_t, 16> b;
    std::memcpy(b.data(), &in6->sin6_addr, 16);
    return SocketAddress(IpAddress::V6(b), ntohs(in6->sin6_port));
  }
  return std::nullopt;
}

socklen_t SocketAddress::ToSockaddr(sockaddr_storage* out) const {
  std::memset(out, 0, sizeof(*out));
  if (ip_.is_v4()) {
    auto* in = reinterpret_cast<sockaddr_in*>(out);
    in->sin_family = AF_INET;
    in->sin_port = htons(port_);
    std::memcpy(&in->sin_addr, ip_.bytes().data(), 4);
    return sizeof(sockaddr_in);
  }
  if (ip_.is_v6()) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(out);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port_);
    std::memcpy(&in6->sin6_addr, ip_.bytes().data(), 16);
    return sizeof(sockaddr_in6);
  }
  return 0;
}

std::string SocketAddress::ToString() const {
  if (ip_.is_v6()) return "[" + ip_.ToString() + "]:" + std::to_string(port_);
  return ip_.ToString() + ":" + std::to_string(port_);
}

size_t IpAddressHash::operator()(const IpAddress& a) const noexcept {
  // FNV-1a over the meaningful bytes; cheap and good enough for hash-map keys.
  uint64_t h = 1469598103934665603ull ^ static_cast<uint8_t>(a.family());
  for (size_t i = 0; i < a.size(); ++i) {
    h ^= a.bytes()[i];
    h *= 1099511628211ull;
  }
  return static_cast<size_t>(h);
}

size_t SocketAddressHash::operator()(const SocketAddress& a) const noexcept {
  uint64_t h = IpAddressHash{}(a.ip());
  h ^= a.port();
  h *= 1099511628211ull;
  return static_cast<size_t>(h ^ (h >> 29));
}

}  // namespace tandem
