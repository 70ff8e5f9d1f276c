// A sans-IO Multicast DNS resolver (RFC 6762) for the "<uuid>.local" host names browsers put in ICE
// candidates (draft-ietf-mmusic-mdns-ice-candidates §3.2): Resolve(now, name) multicasts an A/AAAA query,
// repeats it after 1 s, 2 s, 4 s... (RFC 6762 §5.2) until an answer arrives or the timeout passes, and
// reports Resolved or Failed. Answers are taken from any mDNS response, solicited or not, and cached for
// their TTL (bounded), so that a name announced before we asked resolves at once.
//
// The driver owns the sockets: a UDP socket bound to port 5353 with SO_REUSEADDR/SO_REUSEPORT, joined to
// 224.0.0.251 (and one joined to ff02::fb when IPv6 is in use), receiving both multicast and unicast replies
// (the first query asks for a unicast reply with the QU bit, §5.4). It feeds every datagram received with its
// source address to HandleReceive, sends what PollTransmit returns, and calls HandleTimeout at PollTimeout.
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

struct ResolverConfig {
  bool use_ipv4 = true;    // query 224.0.0.251:5353
  bool use_ipv6 = false;   // also query [ff02::fb]:5353
  bool query_a = true;     // ask for A records
  bool query_aaaa = true;  // and AAAA records (in the same query message)
  // RFC 6762 §5.4: set the QU bit on the first query of a name (a unicast reply is cheaper for the link);
  // later retransmissions ask for multicast replies.
  bool unicast_response = true;
  TimeDelta first_retransmit = TimeDelta::Seconds(1);  // then doubling (§5.2)
  TimeDelta timeout = TimeDelta::Seconds(5);           // no answer by then: Failed
  size_t max_pending = 32;                             // names being resolved at once
  size_t max_cache_entries = 256;                      // cached names (the soonest to expire is evicted)
  TimeDelta max_cache_ttl = TimeDelta::Seconds(3600);  // TTLs above this are capped
};

struct ResolverEvent {
  enum Kind { kResolved, kFailed } kind = kResolved;
  std::string name;  // lowercase, without a trailing dot
  IpAddress ip;      // kResolved only
};

struct ResolverStats {
  uint64_t queries_sent = 0;        // query messages (one per group)
  uint64_t responses_received = 0;  // valid mDNS responses looked at
  uint64_t answers_cached = 0;      // A/AAAA records stored (solicited or not)
  uint64_t goodbyes = 0;            // TTL 0 records that removed a cached name (§10.1)
  uint64_t resolved = 0;
  uint64_t failed = 0;
  uint64_t cache_evictions = 0;
  uint64_t ignored_queries = 0;  // queries from other hosts (the Responder's business)
  uint64_t dropped_malformed = 0;
  uint64_t dropped_bad_header = 0;       // non-zero opcode or rcode (RFC 6762 §18.3, §18.11)
  uint64_t dropped_bad_source_port = 0;  // responses not from port 5353 (RFC 6762 §6)
};

class Resolver {
 public:
  // No randomness is needed: multicast queries carry ID 0 (RFC 6762 §18.1) and go out at once (a resolver
  // asked for one name is not one of many hosts starting together, the case §5.2's random delay is for).
  explicit Resolver(ResolverConfig config = {});

  // Starts resolving `name` (".local" names only, see IsValidLocalName). A cached answer is reported at once
  // (a kResolved event before this returns); a name already pending is left as it is. Errors:
  // kInvalidArgument for a name that is not a valid .local host name, kLimitExceeded when max_pending names
  // are pending.
  Status Resolve(Timestamp now, std::string_view name);
  // Stops resolving `name` without an event.
  void Cancel(std::string_view name);
  // One datagram received on an mDNS socket, with its source.
  void HandleReceive(Timestamp now, const SocketAddress& from, ByteSpan bytes);
  void HandleTimeout(Timestamp now);

  std::optional<Transmit> PollTransmit();
  std::optional<ResolverEvent> PollEvent();
  Timestamp PollTimeout() const;  // Timestamp::Infinity() when nothing is pending

  // The cached address of `name` (IPv4 preferred), if its TTL has not run out.
  std::optional<IpAddress> Lookup(Timestamp now, std::string_view name) const;
  size_t pending_count() const { return pending_.size(); }
  size_t cache_size() const { return cache_.size(); }
  const ResolverStats& stats() const { return stats_; }

 private:
  struct Pending {
    DnsName name;
    Timestamp deadline;
    Timestamp next_query;
    TimeDelta interval;
    int queries = 0;
  };
  struct CacheEntry {
    std::optional<IpAddress> v4;
    std::optional<IpAddress> v6;
    Timestamp v4_expires;
    Timestamp v6_expires;
    Timestamp Expires() const;
  };

  void SendQuery(Pending& p);
  void Learn(Timestamp now, const ResourceRecord& rr);
  void Evict(Timestamp now);
  void Emit(ResolverEvent::Kind kind, const std::string& key, const IpAddress& ip = {});

  ResolverConfig config_;
  std::unordered_map<std::string, Pending> pending_;  // by lowercase name
  std::unordered_map<std::string, CacheEntry> cache_;
  std::deque<std::pair<SocketAddress, std::vector<uint8_t>>> queue_;
  std::pair<SocketAddress, std::vector<uint8_t>> current_;
  std::deque<ResolverEvent> events_;
  ResolverStats stats_;
  Message scratch_;  // reused query message
};

}  // namespace tandem::mdns
