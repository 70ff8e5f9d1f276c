#include "mdns/resolver.h"

#include <algorithm>

namespace tandem::mdns {

namespace {

std::string KeyOf(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string key(name);
  for (char& c : key) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return key;
}

}  // namespace

Timestamp Resolver::CacheEntry::Expires() const {
  Timestamp t = Timestamp::Zero();
  if (v4) t = std::max(t, v4_expires);
  if (v6) t = std::max(t, v6_expires);
  return t;
}

Resolver::Resolver(ResolverConfig config) : config_(std::move(config)) { scratch_.questions.resize(2); }

Status Resolver::Resolve(Timestamp now, std::string_view name) {
  if (!IsValidLocalName(name)) return MakeError(ErrorCode::kInvalidArgument, "not a valid .local host name");
  const std::string key = KeyOf(name);
  if (auto ip = Lookup(now, key)) {
    Emit(ResolverEvent::kResolved, key, *ip);
    return OkStatus();
  }
  if (pending_.count(key) != 0) return OkStatus();
  if (pending_.size() >= config_.max_pending)
    return MakeError(ErrorCode::kLimitExceeded, "too many pending names");
  Pending p;
  p.name = *DnsName::Parse(key);
  p.deadline = now + config_.timeout;
  p.interval = config_.first_retransmit;
  p.next_query = now;
  auto& entry = pending_.emplace(key, std::move(p)).first->second;
  SendQuery(entry);
  entry.next_query = now + entry.interval;
  return OkStatus();
}

void Resolver::Cancel(std::string_view name) { pending_.erase(KeyOf(name)); }

void Resolver::SendQuery(Pending& p) {
  // RFC 6762 §18: ID 0, no flags; one question per record type for the one name (§5.3 allows several
  // questions per message). QU on the first query only (§5.4).
  scratch_.header = Header{};
  scratch_.questions.clear();
  const bool qu = config_.unicast_response && p.queries == 0;
  for (uint16_t t : {type::kA, type::kAaaa}) {
    if ((t == type::kA && !config_.query_a) || (t == type::kAaaa && !config_.query_aaaa)) continue;
    Question q;
    q.name = p.name;
    q.type = t;
    q.unicast_response = qu;
    scratch_.questions.push_back(std::move(q));
  }
  ++p.queries;
  std::vector<uint8_t> bytes;
  if (!scratch_.Serialize(bytes)) return;  // cannot happen for a validated name
  auto push = [&](const SocketAddress& group) {
    queue_.emplace_back(group, bytes);
    ++stats_.queries_sent;
  };
  if (config_.use_ipv4) push(MulticastGroupV4());
  if (config_.use_ipv6) push(MulticastGroupV6());
}

void Resolver::HandleReceive(Timestamp now, const SocketAddress& from, ByteSpan bytes) {
  auto parsed = Message::Parse(bytes);
  if (!parsed) {
    ++stats_.dropped_malformed;
    return;
  }
  const Message& m = *parsed;
  if (!m.header.response) {
    ++stats_.ignored_queries;
    return;
  }
  // RFC 6762 §18.3 (opcode), §18.11 (rcode): silently ignored.
  if (m.header.opcode != 0 || m.header.rcode != 0) {
    ++stats_.dropped_bad_header;
    return;
  }
  // RFC 6762 §6: responses come from port 5353; others are ignored (they may be answers to someone's unicast
  // DNS query, not authoritative for .local).
  if (from.port() != kMdnsPort) {
    ++stats_.dropped_bad_source_port;
    return;
  }
  ++stats_.responses_received;
  // §6: answers may come in the answer and the additional sections.
  for (const auto* section : {&m.answers, &m.additionals}) {
    for (const auto& rr : *section) Learn(now, rr);
  }
}

void Resolver::Learn(Timestamp now, const ResourceRecord& rr) {
  if ((rr.type != type::kA && rr.type != type::kAaaa) || rr.rclass != kClassIn) return;
  const std::string name = rr.name.ToString();
  if (!IsValidLocalName(name)) return;
  const std::string key = KeyOf(name);
  auto it = cache_.find(key);
  if (rr.ttl == 0) {
    // RFC 6762 §10.1: a goodbye. (The RFC keeps the record one more second; nothing here needs that.)
    if (it != cache_.end()) {
      if (rr.address.is_v4() && it->second.v4 == rr.address) it->second.v4.reset();
      if (rr.address.is_v6() && it->second.v6 == rr.address) it->second.v6.reset();
      if (!it->second.v4 && !it->second.v6) cache_.erase(it);
      ++stats_.goodbyes;
    }
    return;
  }
  if (it == cache_.end()) {
    if (cache_.size() >= config_.max_cache_entries) Evict(now);
    if (cache_.size() >= config_.max_cache_entries) return;
    it = cache_.emplace(key, CacheEntry{}).first;
  }
  const TimeDelta ttl = std::min(TimeDelta::Seconds(rr.ttl), config_.max_cache_ttl);
  if (rr.address.is_v4()) {
    it->second.v4 = rr.address;
    it->second.v4_expires = now + ttl;
  } else {
    it->second.v6 = rr.address;
    it->second.v6_expires = now + ttl;
  }
  ++stats_.answers_cached;
  const auto pending = pending_.find(key);
  if (pending != pending_.end()) {
    pending_.erase(pending);
    Emit(ResolverEvent::kResolved, key, rr.address);
  }
}

// Makes room: expired entries first, else the one that expires soonest.
void Resolver::Evict(Timestamp now) {
  auto soonest = cache_.end();
  for (auto it = cache_.begin(); it != cache_.end();) {
    if (it->second.Expires() <= now) {
      it = cache_.erase(it);
      ++stats_.cache_evictions;
      continue;
    }
    if (soonest == cache_.end() || it->second.Expires() < soonest->second.Expires()) soonest = it;
    ++it;
  }
  if (cache_.size() >= config_.max_cache_entries && soonest != cache_.end()) {
    cache_.erase(soonest);
    ++stats_.cache_evictions;
  }
}

void Resolver::HandleTimeout(Timestamp now) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    Pending& p = it->second;
    if (now >= p.deadline) {
      const std::string key = it->first;
      it = pending_.erase(it);
      Emit(ResolverEvent::kFailed, key);
      continue;
    }
    if (now >= p.next_query) {
      SendQuery(p);
      p.interval = p.interval * 2;  // §5.2: 1 s, 2 s, 4 s, ...
      p.next_query = now + p.interval;
    }
    ++it;
  }
  for (auto it = cache_.begin(); it != cache_.end();) {
    if (it->second.Expires() <= now) {
      it = cache_.erase(it);
    } else {
      ++it;
    }
  }
}

std::optional<Transmit> Resolver::PollTransmit() {
  if (queue_.empty()) return std::nullopt;
  current_ = std::move(queue_.front());
  queue_.pop_front();
  return Transmit{current_.first, current_.second};
}

std::optional<ResolverEvent> Resolver::PollEvent() {
  if (events_.empty()) return std::nullopt;
  ResolverEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

Timestamp Resolver::PollTimeout() const {
  Timestamp t = Timestamp::Infinity();
  for (const auto& [key, p] : pending_) t = std::min({t, p.deadline, p.next_query});
  return t;
}

std::optional<IpAddress> Resolver::Lookup(Timestamp now, std::string_view name) const {
  const auto it = cache_.find(KeyOf(name));
  if (it == cache_.end()) return std::nullopt;
  if (it->second.v4 && it->second.v4_expires > now) return it->second.v4;
  if (it->second.v6 && it->second.v6_expires > now) return it->second.v6;
  return std::nullopt;
}

void Resolver::Emit(ResolverEvent::Kind kind, const std::string& key, const IpAddress& ip) {
  if (kind == ResolverEvent::kResolved) {
    ++stats_.resolved;
  } else {
    ++stats_.failed;
  }
  ResolverEvent e;
  e.kind = kind;
  e.name = key;
  e.ip = ip;
  events_.push_back(std::move(e));
}

}  // namespace tandem::mdns
