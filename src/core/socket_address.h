// An IPv4 or IPv6 address with a port, as a value type. No Asio here: protocol cores use this; the IO layer converts
// to and from sockaddr.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace tandem {

enum class AddressFamily : uint8_t { kUnspecified = 0, kIPv4 = 4, kIPv6 = 6 };

class IpAddress {
 public:
  IpAddress() = default;
  static IpAddress V4(uint32_t host_order);
  static IpAddress V4(std::array<uint8_t, 4> bytes);
  static IpAddress V6(const std::array<uint8_t, 16>& bytes);
  static IpAddress AnyV4() { return V4(0u); }
  static IpAddress AnyV6() { return V6({}); }
  static IpAddress LoopbackV4() { return V4(0x7f000001u); }
  // Parses dotted-quad or RFC 4291 text (no brackets, no zone).
  static std::optional<IpAddress> Parse(std::string_view text);

  AddressFamily family() const { return family_; }
  bool is_v4() const { return family_ == AddressFamily::kIPv4; }
  bool is_v6() const { return family_ == AddressFamily::kIPv6; }
  // Network-order bytes: 4 meaningful for IPv4, 16 for IPv6.
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  size_t size() const { return is_v4() ? 4 : (is_v6() ? 16 : 0); }
  uint32_t v4_host_order() const;

  // Classification used by TURN's peer-address policy (RFC 8656 §21.3, CVE-2020-26262).
  bool IsUnspecified() const;
  bool IsLoopback() const;      // 127/8, ::1, ::ffff:127/104
  bool IsPrivate() const;       // RFC 1918, 100.64/10 (CGNAT), fc00::/7 (ULA)
  bool IsLinkLocal() const;     // 169.254/16, fe80::/10
  bool IsMulticast() const;     // 224/4, ff00::/8
  bool IsBroadcast() const;     // 255.255.255.255
  bool IsV4Mapped() const;      // ::ffff:a.b.c.d
  IpAddress Unmapped() const;   // ::ffff:a.b.c.d -> a.b.c.d, others unchanged
  // True when `this` is within prefix/len.
  bool InPrefix(const IpAddress& prefix, int prefix_len) const;

  std::string ToString() const;
  bool operator==(const IpAddress& o) const = default;

 private:
  AddressFamily family_ = AddressFamily::kUnspecified;
  std::array<uint8_t, 16> bytes_{};
};

class SocketAddress {
 public:
  SocketAddress() = default;
  SocketAddress(IpAddress ip, uint16_t port) : ip_(ip), port_(port) {}
  // "1.2.3.4:5", "[::1]:5".
  static std::optional<SocketAddress> Parse(std::string_view text);
  static std::optional<SocketAddress> FromSockaddr(const sockaddr* sa, socklen_t len);
  // Writes a sockaddr_in/sockaddr_in6; returns its length (0 when unspecified).
  socklen_t ToSockaddr(sockaddr_storage* out) const;

  const IpAddress& ip() const { return ip_; }
  uint16_t port() const { return port_; }
  AddressFamily family() const { return ip_.family(); }
  void set_port(uint16_t p) { port_ = p; }
  bool IsSet() const { return ip_.family() != AddressFamily::kUnspecified; }

  std::string ToString() const;
  bool operator==(const SocketAddress& o) const = default;

 private:
  IpAddress ip_;
  uint16_t port_ = 0;
};

struct SocketAddressHash {
  size_t operator()(const SocketAddress& a) const noexcept;
};
struct IpAddressHash {
  size_t operator()(const IpAddress& a) const noexcept;
};

}  // namespace tandem

template <>
struct std::hash<tandem::SocketAddress> : tandem::SocketAddressHash {};
template <>
struct std::hash<tandem::IpAddress> : tandem::IpAddressHash {};
