// A small sans-IO Multicast DNS responder (RFC 6762) for host names we own: it answers A/AAAA queries for the
// names registered with Announce — in ICE, the "<uuid>.local" names that stand for our host candidates'
// addresses (draft-ietf-mmusic-mdns-ice-candidates §3.1) — and announces and withdraws them. It also lets
// tests resolve a name answered by another in-memory node.
//
// Scope: the names are random UUIDs (unique by construction, the draft's premise), so there is no probing
// (§8.1) and every record is unique (cache-flush bit set, §10.2), hence answered without the random delay of
// shared records (§6). Not implemented: NSEC negative answers (§6.1), multi-packet known-answer lists (§7.2).
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "core/socket_address.h"
#include "core/time.h"
#include "mdns/common.h"
#include "mdns/dns_message.h"

namespace tandem::mdns {

struct ResponderConfig {
  bool use_ipv4 = true;   // answer and announce on 224.0.0.251
  bool use_ipv6 = false;  // and on ff02::fb
  // RFC 6762 §10: records with a host name get 120 s.
  uint32_t ttl_seconds = 120;
  size_t max_names = 16;
  // §6: a record is multicast at most once per second (except to answer a probe, which we never see for
  // UUIDs).
  TimeDelta min_multicast_interval = TimeDelta::Seconds(1);
};

struct ResponderStats {
  uint64_t queries_received = 0;
  uint64_t responses_sent = 0;
  uint64_t answers_suppressed = 0;  // known-answer suppression (§7.1) or the once-per-second limit (§6)
  uint64_t dropped_malformed = 0;
  uint64_t dropped_bad_header = 0;
};

class Responder {
 public:
  explicit Responder(ResponderConfig config = {});

  // Owns `name` (a valid .local name) with address `ip` (one address per family per name) and announces it
  // with an unsolicited response (§8.3). Errors: kInvalidArgument (name or an unspecified ip),
  // kLimitExceeded (max_names).
  Status Announce(Timestamp now, std::string_view name, const IpAddress& ip);
  // Stops answering for `name` and multicasts a goodbye (TTL 0, §10.1). kNotFound when unknown.
  Status Withdraw(Timestamp now, std::string_view name);
  // One datagram received on an mDNS socket: queries for our names are answered.
  void HandleReceive(Timestamp now, const SocketAddress& from, ByteSpan bytes);

  std::optional<Transmit> PollTransmit();
  // The responder has no timers: answers go out at once (unique records).
  Timestamp PollTimeout() const { return Timestamp::Infinity(); }

  const ResponderStats& stats() const { return stats_; }

 private:
  struct Owned {
    DnsName name;
    std::optional<IpAddress> v4;
    std::optional<IpAddress> v6;
    Timestamp last_multicast_v4 = Timestamp::Zero() - TimeDelta::Seconds(3600);
    Timestamp last_multicast_v6 = Timestamp::Zero() - TimeDelta::Seconds(3600);
  };

  ResourceRecord Record(const Owned& o, const IpAddress& ip, uint32_t ttl, bool cache_flush) const;
  void Multicast(const Message& m);
  void Send(const SocketAddress& to, const Message& m);

  ResponderConfig config_;
  std::unordered_map<std::string, Owned> names_;  // by lowercase name
  std::deque<std::pair<SocketAddress, std::vector<uint8_t>>> queue_;
  std::pair<SocketAddress, std::vector<uint8_t>> current_;
  ResponderStats stats_;
};

}  // namespace tandem::mdns
