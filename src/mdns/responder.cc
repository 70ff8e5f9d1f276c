#include "mdns/responder.h"

#include <algorithm>

namespace tandem::mdns {

namespace {

// RFC 6762 §6.7: answers to legacy unicast queries carry a TTL of at most 10 s.
constexpr uint32_t kLegacyUnicastTtl = 10;
constexpr size_t kMaxQueued = 256;

bool SameRecord(const ResourceRecord& a, const ResourceRecord& b) {
  return a.type == b.type && a.rclass == b.rclass && a.address == b.address && a.name.Equals(b.name);
}

}  // namespace

Responder::Responder(ResponderConfig config) : config_(std::move(config)) {}

ResourceRecord Responder::Record(const Owned& o, const IpAddress& ip, uint32_t ttl, bool cache_flush) const {
  ResourceRecord rr;
  rr.name = o.name;
  rr.type = ip.is_v4() ? type::kA : type::kAaaa;
  rr.rclass = kClassIn;
  rr.cache_flush = cache_flush;
  rr.ttl = ttl;
  rr.address = ip;
  return rr;
}

Status Responder::Announce(Timestamp now, std::string_view name, const IpAddress& ip) {
  if (!IsValidLocalName(name)) return MakeError(ErrorCode::kInvalidArgument, "not a valid .local host name");
  if (!ip.is_v4() && !ip.is_v6()) return MakeError(ErrorCode::kInvalidArgument, "unspecified address");
  auto parsed = DnsName::Parse(name);
  const std::string key = parsed->CanonicalKey();
  auto it = names_.find(key);
  if (it == names_.end()) {
    if (names_.size() >= config_.max_names) return MakeError(ErrorCode::kLimitExceeded, "too many names");
    Owned o;
    o.name = std::move(*parsed);
    it = names_.emplace(key, std::move(o)).first;
  }
  Owned& o = it->second;
  (ip.is_v4() ? o.v4 : o.v6) = ip;
  // §8.3: an unsolicited response announces the record (repeated once a second later by RFC; one is enough
  // for the peers that matter here, which query anyway when they miss it).
  Message m;
  m.header.response = true;
  m.header.authoritative = true;
  m.answers.push_back(Record(o, ip, config_.ttl_seconds, true));
  (ip.is_v4() ? o.last_multicast_v4 : o.last_multicast_v6) = now;
  Multicast(m);
  return OkStatus();
}

Status Responder::Withdraw(Timestamp now, std::string_view name) {
  auto parsed = DnsName::Parse(name);
  if (!parsed) return MakeError(ErrorCode::kNotFound, "unknown name");
  const auto it = names_.find(parsed->CanonicalKey());
  if (it == names_.end()) return MakeError(ErrorCode::kNotFound, "unknown name");
  // §10.1: a goodbye is the record with TTL 0.
  Message m;
  m.header.response = true;
  m.header.authoritative = true;
  if (it->second.v4) m.answers.push_back(Record(it->second, *it->second.v4, 0, true));
  if (it->second.v6) m.answers.push_back(Record(it->second, *it->second.v6, 0, true));
  names_.erase(it);
  Multicast(m);
  return OkStatus();
}

void Responder::HandleReceive(Timestamp now, const SocketAddress& from, ByteSpan bytes) {
  auto parsed = Message::Parse(bytes);
  if (!parsed) {
    ++stats_.dropped_malformed;
    return;
  }
  const Message& q = *parsed;
  if (q.header.response) return;  // another responder's answer: nothing to do (no conflict detection, see .h)
  // §18.3, §18.11: queries with a non-zero opcode or rcode are ignored.
  if (q.header.opcode != 0 || q.header.rcode != 0) {
    ++stats_.dropped_bad_header;
    return;
  }
  ++stats_.queries_received;
  // §6.7: a query from a port other than 5353 is a legacy (one-shot) resolver: answer it by unicast, echoing
  // the ID and the question, with no cache-flush bit and a short TTL.
  const bool legacy = from.port() != kMdnsPort;

  Message unicast;
  Message multicast;
  for (Message* m : {&unicast, &multicast}) {
    m->header.response = true;
    m->header.authoritative = true;
  }
  if (legacy) unicast.header.id = q.header.id;

  for (const auto& question : q.questions) {
    if (question.qclass != kClassIn && question.qclass != type::kAny) continue;
    const auto it = names_.find(question.name.CanonicalKey());
    if (it == names_.end()) continue;
    Owned& o = it->second;
    const bool want_a = question.type == type::kA || question.type == type::kAny;
    const bool want_aaaa = question.type == type::kAaaa || question.type == type::kAny;
    const bool to_unicast = legacy || question.unicast_response;  // §5.4
    Message& out = to_unicast ? unicast : multicast;
    const uint32_t ttl = legacy ? std::min(config_.ttl_seconds, kLegacyUnicastTtl) : config_.ttl_seconds;
    bool answered = false;
    auto answer = [&](const std::optional<IpAddress>& ip, Timestamp& last_multicast, bool additional) {
      if (!ip) return;
      ResourceRecord rr = Record(o, *ip, ttl, !legacy);
      // §7.1: the querier already knows the record with at least half its TTL left.
      for (const auto& known : q.answers) {
        if (SameRecord(known, rr) && known.ttl >= config_.ttl_seconds / 2) {
          ++stats_.answers_suppressed;
          return;
        }
      }
      if (!to_unicast) {
        // §6: at most one multicast of a record per second.
        if (now - last_multicast < config_.min_multicast_interval) {
          ++stats_.answers_suppressed;
          return;
        }
        last_multicast = now;
      }
      auto& section = additional ? out.additionals : out.answers;
      for (const auto& existing : section) {
        if (SameRecord(existing, rr)) return;
      }
      section.push_back(std::move(rr));
      answered = true;
    };
    if (want_a) answer(o.v4, o.last_multicast_v4, false);
    if (want_aaaa) answer(o.v6, o.last_multicast_v6, false);
    // §6.2: the other address family of the same host goes in the additional section.
    if (answered && question.type == type::kA) answer(o.v6, o.last_multicast_v6, true);
    if (answered && question.type == type::kAaaa) answer(o.v4, o.last_multicast_v4, true);
    if (legacy && answered) unicast.questions.push_back(question);
  }
  if (!unicast.answers.empty()) Send(from, unicast);
  if (!multicast.answers.empty()) {
    Send(from.family() == AddressFamily::kIPv6 ? MulticastGroupV6() : MulticastGroupV4(), multicast);
  }
}

std::optional<Transmit> Responder::PollTransmit() {
  if (queue_.empty()) return std::nullopt;
  current_ = std::move(queue_.front());
  queue_.pop_front();
  return Transmit{current_.first, current_.second};
}

void Responder::Multicast(const Message& m) {
  if (config_.use_ipv4) Send(MulticastGroupV4(), m);
  if (config_.use_ipv6) Send(MulticastGroupV6(), m);
}

void Responder::Send(const SocketAddress& to, const Message& m) {
  if (queue_.size() >= kMaxQueued) return;  // a driver that does not drain loses answers, not memory
  std::vector<uint8_t> bytes;
  if (!m.Serialize(bytes)) return;  // our own records always fit
  queue_.emplace_back(to, std::move(bytes));
  ++stats_.responses_sent;
}

}  // namespace tandem::mdns
