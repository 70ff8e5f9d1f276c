// Which peer addresses a TURN allocation may relay to. Secure by default (RFC 8656 §21.3; coturn CVE-2020-26262):
// loopback, private, link-local, multicast, broadcast and unspecified addresses are refused unless allowed.
#pragma once

#include <vector>

#include "core/socket_address.h"

namespace tandem::turn {

struct AddressRange {
  IpAddress prefix;
  int prefix_length = 0;
  bool Contains(const IpAddress& ip) const { return ip.Unmapped().InPrefix(prefix, prefix_length); }
};

struct PeerPolicy {
  bool allow_loopback = false;  // --allow-loopback-peers
  bool allow_private = false;   // --allow-private-peers (RFC 1918, CGNAT, ULA)
  bool allow_link_local = false;
  std::vector<AddressRange> allowed;  // --allowed-peer-ip: always allowed (wins over the defaults and `denied`)
  std::vector<AddressRange> denied;   // --denied-peer-ip: always refused unless in `allowed`

  bool IsAllowed(const IpAddress& ip) const;
};

}  // namespace tandem::turn
