#include "turn/peer_policy.h"

namespace tandem::turn {
namespace {

// 0.0.0.0/8 ("this network", RFC 1122 §3.2.1.3): on Linux a connect to 0.x reaches the host itself, so it is
// treated like the unspecified address.
bool IsThisNetwork(const IpAddress& ip) { return ip.is_v4() && ip.bytes()[0] == 0; }

// NAT64 well-known prefix 64:ff9b::/96 (RFC 6052 §2.1): the embedded IPv4 address decides, so that a relay
// with a NAT64 gateway cannot be used to reach private IPv4 space.
std::optional<IpAddress> Nat64Embedded(const IpAddress& ip) {
  static const IpAddress kPrefix = *IpAddress::Parse("64:ff9b::");
  if (!ip.is_v6() || !ip.InPrefix(kPrefix, 96)) return std::nullopt;
  const auto& b = ip.bytes();
  return IpAddress::V4({b[12], b[13], b[14], b[15]});
}

bool DefaultAllowed(const PeerPolicy& p, const IpAddress& ip) {
  // RFC 8656 §21.3 and coturn CVE-2020-26262: never relay to addresses that reach the server itself or its
  // neighbours unless the operator says so.
  if (ip.IsUnspecified() || IsThisNetwork(ip)) return false;
  if (ip.IsMulticast() || ip.IsBroadcast()) return false;
  if (ip.IsLoopback()) return p.allow_loopback;
  if (ip.IsPrivate()) return p.allow_private;
  if (ip.IsLinkLocal()) return p.allow_link_local;
  return true;
}

}  // namespace

bool PeerPolicy::IsAllowed(const IpAddress& address) const {
  const IpAddress ip = address.Unmapped();
  if (ip.family() == AddressFamily::kUnspecified) return false;
  for (const AddressRange& r : allowed) {
    if (r.Contains(ip)) return true;
  }
  for (const AddressRange& r : denied) {
    if (r.Contains(ip)) return false;
  }
  if (auto embedded = Nat64Embedded(ip)) {
    for (const AddressRange& r : denied) {
      if (r.Contains(*embedded)) return false;
    }
    if (!DefaultAllowed(*this, *embedded)) return false;
  }
  return DefaultAllowed(*this, ip);
}

}  // namespace tandem::turn
