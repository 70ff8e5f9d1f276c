// Candidate gathering of ice::Agent (RFC 8445 §5.1): host candidates, server-reflexive ones from STUN Binding
// requests, relayed ones from TURN allocations (RFC 8656, over UDP or over TCP/TLS streams the driver opens),
// and the resolution of remote mDNS names through the driver.
#include <algorithm>
#include <limits>

#include "core/log.h"
#include "ice/agent_impl.h"
#include "turn/framing.h"

namespace tandem::ice {

namespace {

std::string NormalizeHostname(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string s(name);
  for (auto& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

const char* RelayProtocol(turn_client::Transport t) {
  switch (t) {
    case turn_client::Transport::kUdp:
      return "udp";
    case turn_client::Transport::kTcp:
      return "tcp";
    case turn_client::Transport::kTls:
      return "tls";
  }
  return "udp";
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Local candidates

std::string Agent::Impl::Foundation(CandidateType type, const IpAddress& base_ip, const IpAddress& server_ip,
                                    std::string_view transport) {
  // RFC 8445 §5.1.1.3: the same foundation for candidates of the same type, base IP, server and transport.
  std::string key = ToString(type);
  key += '|';
  key += base_ip.ToString();
  key += '|';
  key += server_ip.ToString();
  key += '|';
  key += transport;
  auto it = foundations_.find(key);
  if (it == foundations_.end()) {
    it = foundations_.emplace(std::move(key), static_cast<uint32_t>(foundations_.size() + 1)).first;
  }
  return std::to_string(it->second);
}

uint32_t Agent::Impl::LocalPreferenceForBase(const Base& base) const {
  if (base.kind == Base::kHost) return MultihomedLocalPreference(base.address.family(), base.family_index);
  // Relayed: TURN over UDP before TCP before TLS (fewer layers, no head-of-line blocking), IPv6 before IPv4,
  // then the order of the configured servers.
  const RelaySession& relay = relays_[base.relay];
  const turn_client::Transport t = config_.servers[relay.server].transport;
  const uint32_t proto_rank =
      t == turn_client::Transport::kUdp ? 2 : (t == turn_client::Transport::kTcp ? 1 : 0);
  const uint32_t server_rank = 4095 - static_cast<uint32_t>(std::min<size_t>(relay.server, 4095));
  return proto_rank * 8192 + (base.address.ip().is_v6() ? 4096 : 0) + server_rank;
}

uint32_t Agent::Impl::AddLocalCandidate(Timestamp now, Candidate cand, uint32_t base, bool signaled,
                                        std::string relay_protocol) {
  for (uint32_t i = 0; i < locals_.size(); ++i) {
    if (locals_[i].base == base && locals_[i].cand.address == cand.address &&
        locals_[i].cand.type == cand.type) {
      return i;
    }
  }
  if (locals_.size() >= config_.max_local_candidates) return kNone;
  if (signaled) cand.SetExtension("ufrag", local_ufrag_);  // names the generation (RFC 8838 §4.3)
  locals_.push_back(LocalCand{cand, base, signaled, std::move(relay_protocol)});
  const uint32_t idx = static_cast<uint32_t>(locals_.size() - 1);
  if (signaled) EmitEvent(LocalCandidate{std::move(cand)});
  PairNewLocal(now, idx);
  return idx;
}

void Agent::Impl::AddHostCandidate(Timestamp now, uint32_t base_id) {
  if (config_.relay_only)
    return;  // iceTransportPolicy "relay": host addresses are neither offered nor paired
  const Base* b = FindBase(base_id);
  if (b == nullptr) return;
  Candidate c;
  c.type = CandidateType::kHost;
  c.address = b->address;
  c.priority = ComputePriority(kHostTypePreference, LocalPreferenceForBase(*b), 1);
  c.foundation = Foundation(CandidateType::kHost, b->address.ip(), IpAddress(), "udp");
  AddLocalCandidate(now, std::move(c), base_id, true);
}

void Agent::Impl::AddRelayCandidate(Timestamp now, uint32_t relay_index) {
  RelaySession& relay = relays_[relay_index];
  const Base* b = FindBase(relay.base);
  if (b == nullptr || !relay.client || !b->address.IsSet()) return;
  const ServerConfig& server = config_.servers[relay.server];
  const char* proto = RelayProtocol(server.transport);
  Candidate c;
  c.type = CandidateType::kRelayed;
  c.address = b->address;
  // RFC 8839 §5.1 / RFC 8445 §5.1.1.2: a relayed candidate's related address is the mapped (server-reflexive)
  // address the TURN server saw.
  if (relay.client->mapped_address().IsSet()) c.related = relay.client->mapped_address();
  c.priority = ComputePriority(kRelayedTypePreference, LocalPreferenceForBase(*b), 1);
  IpAddress via;
  if (!relay.stream) {
    if (const Base* host = FindBase(relay.transport_endpoint)) via = host->address.ip();
  }
  c.foundation = Foundation(CandidateType::kRelayed, via, server.address.ip(), proto);
  AddLocalCandidate(now, std::move(c), relay.base, true, proto);
}

// ---------------------------------------------------------------------------------------------------------------
// Gathering

void Agent::Impl::GatherForBase(Timestamp now, uint32_t base_id) {
  const Base* b = FindBase(base_id);
  if (b == nullptr || b->kind != Base::kHost) return;
  const AddressFamily family = b->address.family();
  const EndpointId endpoint = b->endpoint;
  AddHostCandidate(now, base_id);
  if (config_.lite) return;  // RFC 8445 §2.5: a lite agent has host candidates only
  for (size_t s = 0; s < config_.servers.size(); ++s) {
    const ServerConfig& server = config_.servers[s];
    if (server.address.family() != family) continue;
    if (server.kind == ServerConfig::kStun) {
      // RFC 8445 §5.1.1.2: a Binding request from the base to the STUN server (paced by Ta).
      if (!config_.relay_only) queries_.push_back(GatherQuery{base_id, s});
      continue;
    }
    if (server.transport != turn_client::Transport::kUdp) continue;  // streams: StartRelays
    uint32_t found = kNone;
    for (uint32_t r = 0; r < relays_.size(); ++r) {
      if (!relays_[r].stream && relays_[r].server == s && relays_[r].transport_endpoint == endpoint &&
          relays_[r].state != RelaySession::kFailed) {
        found = r;
      }
    }
    if (found == kNone) {
      StartRelaySession(now, s, endpoint, false);
    } else if (relays_[found].state == RelaySession::kAllocated) {
      AddRelayCandidate(now, found);  // an ICE restart reuses the live allocation
    }
  }
}

void Agent::Impl::StartRelays(Timestamp now) {
  if (config_.lite) return;
  for (size_t s = 0; s < config_.servers.size(); ++s) {
    const ServerConfig& server = config_.servers[s];
    if (server.kind != ServerConfig::kTurn || server.transport == turn_client::Transport::kUdp) continue;
    uint32_t found = kNone;
    for (uint32_t r = 0; r < relays_.size(); ++r) {
      if (relays_[r].stream && relays_[r].server == s && relays_[r].state != RelaySession::kFailed) found = r;
    }
    if (found != kNone) {
      if (relays_[found].state == RelaySession::kAllocated) AddRelayCandidate(now, found);
      continue;
    }
    // RFC 8656 §3.1: TURN over TCP/TLS; the driver opens the stream (and does TLS) and reports back.
    Endpoint e;
    e.id = next_id_++;
    e.stream = true;
    endpoints_.push_back(std::move(e));
    const EndpointId id = endpoints_.back().id;
    StartRelaySession(now, s, id, true);
    EmitEvent(
        OpenStream{id, server.address, server.transport == turn_client::Transport::kTls, server.server_name});
  }
}

void Agent::Impl::CreateRelayClient(uint32_t relay_index) {
  RelaySession& relay = relays_[relay_index];
  const ServerConfig& server = config_.servers[relay.server];
  turn_client::Config cfg;
  cfg.server = server.address;
  cfg.transport = server.transport;
  cfg.username = server.username;
  cfg.password = server.password;
  cfg.relay_family = server.address.ip().is_v6() ? AddressFamily::kIPv6 : AddressFamily::kIPv4;
  relay.client = std::make_unique<turn_client::TurnClient>(std::move(cfg), rng_);
}

void Agent::Impl::StartRelaySession(Timestamp now, size_t server, EndpointId transport_endpoint,
                                    bool stream) {
  RelaySession relay;
  relay.server = server;
  relay.transport_endpoint = transport_endpoint;
  relay.stream = stream;
  relay.generation = generation_;
  Base b;
  b.id = next_id_++;
  b.kind = Base::kRelay;
  b.endpoint = transport_endpoint;
  b.relay = static_cast<uint32_t>(relays_.size());
  relay.base = b.id;
  bases_.push_back(b);
  relays_.push_back(std::move(relay));
  const uint32_t idx = static_cast<uint32_t>(relays_.size() - 1);
  if (stream) {
    if (Endpoint* e = FindEndpoint(transport_endpoint)) e->relay = idx;
    relays_[idx].state = RelaySession::kOpening;
    return;
  }
  CreateRelayClient(idx);
  relays_[idx].state = RelaySession::kAllocating;
  relays_[idx].client->Start(now);
  DrainRelay(now, idx);
}

void Agent::Impl::DrainRelay(Timestamp now, uint32_t relay_index) {
  RelaySession& relay = relays_[relay_index];
  if (!relay.client) return;
  const SocketAddress server = config_.servers[relay.server].address;
  for (;;) {
    bool any = false;
    while (auto bytes = relay.client->PollTransmit()) {
      any = true;
      if (relay.stream) {
        const Endpoint* e = FindEndpoint(relay.transport_endpoint);
        if (e == nullptr || !e->open) continue;  // the stream is gone
      }
      Enqueue(relay.transport_endpoint, server, *bytes);
    }
    while (auto event = relay.client->PollEvent()) {
      any = true;
      HandleRelayEvent(now, relay_index, *event);
    }
    if (!any) break;
  }
}

void Agent::Impl::HandleRelayEvent(Timestamp now, uint32_t relay_index, const turn_client::Event& event) {
  RelaySession& relay = relays_[relay_index];
  switch (event.kind) {
    case turn_client::Event::kAllocated: {
      if (relay.state != RelaySession::kAllocating) break;
      relay.state = RelaySession::kAllocated;
      if (Base* b = FindBase(relay.base)) {
        b->address = event.relayed;
        b->alive = true;
      }
      if (!closed_) AddRelayCandidate(now, relay_index);
      break;
    }
    case turn_client::Event::kAllocateFailed:
      LOG_DEBUG("ice", "TURN allocation failed: " << event.error_code << " " << event.reason);
      relay.state = RelaySession::kFailed;
      if (Base* b = FindBase(relay.base)) b->alive = false;
      if (relay.stream) {
        Endpoint* e = FindEndpoint(relay.transport_endpoint);
        if (e != nullptr && e->open) {
          e->open = false;
          EmitEvent(CloseStream{e->id});
        }
      }
      break;
    case turn_client::Event::kAllocationLost:
      RelayLost(now, relay_index);
      break;
    default:
      break;  // permission/channel outcomes: checks over the relay tell whether the path works
  }
}

void Agent::Impl::RelayLost(Timestamp now, uint32_t relay_index) {
  RelaySession& relay = relays_[relay_index];
  relay.state = RelaySession::kFailed;
  if (Base* b = FindBase(relay.base)) b->alive = false;
  for (auto& pair : pairs_) {
    if (locals_[pair.local].base != relay.base) continue;
    pair.state = PairState::kFailed;
    pair.valid = false;
    pair.nominating = false;
  }
  if (previous_ && previous_->base == relay.base) {
    previous_->consent.last_ok = Timestamp::Micros(std::numeric_limits<int64_t>::min() / 4);
  }
  if (relay.stream) {
    Endpoint* e = FindEndpoint(relay.transport_endpoint);
    if (e != nullptr && e->open) {
      e->open = false;
      EmitEvent(CloseStream{e->id});
    }
  }
}

void Agent::Impl::HandleGatherResponse(Timestamp now, Transaction& txn, const SocketAddress& from,
                                       const stun::MessageView& msg) {
  if (from != txn.destination) {
    ++counters_.dropped_unexpected_stun;
    return;
  }
  const uint32_t query = txn.query;
  const uint32_t base_id = txn.base;
  const SocketAddress server = txn.destination;
  ReleaseTransaction(txn);
  if (msg.message_class() == stun::MessageClass::kSuccessResponse) {
    auto mapped = msg.GetXorAddress(stun::attr::kXorMappedAddress);
    if (!mapped) mapped = msg.GetAddress(stun::attr::kMappedAddress);  // RFC 3489 servers
    const Base* b = FindBase(base_id);
    // RFC 8445 §5.1.1.2: a server-reflexive candidate when the mapped address differs from the base.
    if (mapped && b != nullptr && mapped->family() == b->address.family() && *mapped != b->address &&
        mapped->port() != 0 && !mapped->ip().IsUnspecified()) {
      Candidate c;
      c.type = CandidateType::kServerReflexive;
      c.address = *mapped;
      c.related = b->address;
      c.priority = ComputePriority(kServerReflexiveTypePreference, LocalPreferenceForBase(*b), 1);
      c.foundation = Foundation(CandidateType::kServerReflexive, b->address.ip(), server.ip(), "udp");
      AddLocalCandidate(now, std::move(c), base_id, true);
    }
  }
  FinishGatherQuery(now, query);
}

void Agent::Impl::FinishGatherQuery(Timestamp now, uint32_t query) {
  if (query >= queries_.size()) return;
  queries_[query].sent = true;
  queries_[query].done = true;
}

bool Agent::Impl::GatheringDone() const {
  if (!gathering_started_) return false;
  for (const auto& q : queries_) {
    if (!q.done) return false;
  }
  for (const auto& r : relays_) {
    if (r.state == RelaySession::kOpening || r.state == RelaySession::kAllocating) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// TURN permissions and channels

void Agent::Impl::EnsurePermission(Timestamp now, uint32_t base_id, const IpAddress& peer) {
  const Base* b = FindBase(base_id);
  if (b == nullptr || b->kind != Base::kRelay) return;
  const uint32_t relay_index = b->relay;
  RelaySession& relay = relays_[relay_index];
  if (!relay.client || relay.state == RelaySession::kFailed) return;
  if (std::find(relay.permissions.begin(), relay.permissions.end(), peer) != relay.permissions.end()) return;
  if (relay.permissions.size() >= config_.max_remote_candidates) return;
  relay.permissions.push_back(peer);
  (void)relay.client->CreatePermission(now, peer);  // RFC 8656 §9; refreshed by the client
  DrainRelay(now, relay_index);
}

void Agent::Impl::EnsureChannel(Timestamp now, uint32_t base_id, const SocketAddress& peer) {
  const Base* b = FindBase(base_id);
  if (b == nullptr || b->kind != Base::kRelay) return;
  const uint32_t relay_index = b->relay;
  RelaySession& relay = relays_[relay_index];
  if (!relay.client || relay.state != RelaySession::kAllocated) return;
  if (std::find(relay.channels.begin(), relay.channels.end(), peer) != relay.channels.end()) return;
  if (relay.channels.size() >= 16) return;  // one per selected path; a handful covers restarts
  relay.channels.push_back(peer);
  (void)relay.client->BindChannel(now, peer);  // RFC 8656 §11, RFC 8445 §12.1
  DrainRelay(now, relay_index);
}

// ---------------------------------------------------------------------------------------------------------------
// TURN streams (RFC 8656 §3.1, framing §12.5)

void Agent::Impl::HandleStreamOpened(Timestamp now, EndpointId id, const SocketAddress& local) {
  now = std::max(now, last_now_);
  last_now_ = now;
  Endpoint* e = FindEndpoint(id);
  if (e == nullptr || !e->stream || e->open || e->relay == kNone) {
    ++counters_.dropped_unknown_endpoint;
    return;
  }
  if (closed_) return;
  const uint32_t relay_index = e->relay;
  if (relays_[relay_index].state != RelaySession::kOpening) return;
  e->open = true;
  CreateRelayClient(relay_index);
  relays_[relay_index].state = RelaySession::kAllocating;
  relays_[relay_index].client->Start(now);
  DrainRelay(now, relay_index);
  UpdateStates(now);
}

void Agent::Impl::HandleStreamClosed(Timestamp now, EndpointId id) {
  now = std::max(now, last_now_);
  last_now_ = now;
  Endpoint* e = FindEndpoint(id);
  if (e == nullptr || !e->stream) {
    ++counters_.dropped_unknown_endpoint;
    return;
  }
  stream_payloads_.clear();  // they may point into this stream's buffer
  e->open = false;
  e->buffer.clear();
  e->consumed = 0;
  const uint32_t relay_index = e->relay;
  if (relay_index != kNone) {
    RelaySession& relay = relays_[relay_index];
    if (relay.state == RelaySession::kOpening || relay.state == RelaySession::kAllocating) {
      relay.state = RelaySession::kFailed;
      if (Base* b = FindBase(relay.base)) b->alive = false;
    } else if (relay.state == RelaySession::kAllocated) {
      RelayLost(now, relay_index);
    }
  }
  if (!closed_) UpdateStates(now);
}

void Agent::Impl::HandleStreamData(Timestamp now, EndpointId id, ByteSpan bytes) {
  now = std::max(now, last_now_);
  last_now_ = now;
  stream_payloads_.clear();  // earlier views pointed into buffers compacted below
  Endpoint* e = FindEndpoint(id);
  if (e == nullptr || !e->stream || !e->open || e->relay == kNone) {
    ++counters_.dropped_unknown_endpoint;
    return;
  }
  const uint32_t relay_index = e->relay;
  if (!relays_[relay_index].client) return;
  if (e->consumed > 0) {
    e->buffer.erase(e->buffer.begin(), e->buffer.begin() + static_cast<std::ptrdiff_t>(e->consumed));
    e->consumed = 0;
  }
  if (e->buffer.size() + bytes.size() > config_.max_stream_buffer) {
    counters_.dropped_stream_bytes += bytes.size();
    RelayLost(now, relay_index);  // a stream we cannot frame within bounds is not a TURN server we can use
    e->buffer.clear();
    if (!closed_) UpdateStates(now);
    return;
  }
  e->buffer.insert(e->buffer.end(), bytes.begin(), bytes.end());
  while (e->open && e->consumed < e->buffer.size()) {
    const ByteSpan rest = ByteSpan(e->buffer).subspan(e->consumed);
    auto length = turn::NextFrameLength(rest);
    if (!length.ok()) {
      counters_.dropped_stream_bytes += rest.size();
      RelayLost(now, relay_index);
      break;
    }
    if (*length == 0 || *length > rest.size()) break;  // wait for the rest of the frame
    const ByteSpan frame = rest.subspan(0, *length);
    e->consumed += *length;
    const uint32_t relay_base = relays_[relay_index].base;
    auto peer_data = relays_[relay_index].client->HandleReceive(now, frame);
    DrainRelay(now, relay_index);
    if (peer_data && !closed_) {
      if (auto app = ProcessPacket(now, relay_base, peer_data->peer, peer_data->data))
        stream_payloads_.push_back(*app);
    }
  }
  if (!e->open) {
    stream_payloads_.clear();
    e->buffer.clear();
    e->consumed = 0;
  }
  if (!closed_) UpdateStates(now);
}

// ---------------------------------------------------------------------------------------------------------------
// Remote mDNS names (resolved by the driver)

Status Agent::Impl::ResolveOrQueue(Timestamp now, Candidate cand) {
  const std::string name = NormalizeHostname(cand.hostname);
  for (const auto& [known, ip] : resolved_hostnames_) {
    if (known != name) continue;
    if (!ip) {
      ++counters_.dropped_unresolved_hostnames;
      return MakeError(ErrorCode::kNotFound, "ice: hostname did not resolve");
    }
    cand.address = SocketAddress(*ip, cand.address.port());
    cand.hostname.clear();
    if (remotes_.size() >= config_.max_remote_candidates && FindRemoteByAddress(cand.address) == kNone) {
      ++counters_.dropped_remote_candidates;
      return MakeError(ErrorCode::kLimitExceeded, "ice: too many remote candidates");
    }
    AddRemoteInternal(now, std::move(cand));
    return OkStatus();
  }
  if (pending_hostnames_.size() >= config_.max_remote_candidates) {
    ++counters_.dropped_remote_candidates;
    return MakeError(ErrorCode::kLimitExceeded, "ice: too many candidates awaiting resolution");
  }
  if (std::find(asked_hostnames_.begin(), asked_hostnames_.end(), name) == asked_hostnames_.end()) {
    if (asked_hostnames_.size() >= config_.max_pending_hostnames) {
      ++counters_.dropped_remote_candidates;
      return MakeError(ErrorCode::kLimitExceeded, "ice: too many hostnames being resolved");
    }
    asked_hostnames_.push_back(name);
    EmitEvent(ResolveHostname{cand.hostname});
  }
  pending_hostnames_.push_back(PendingHostname{std::move(cand), generation_});
  last_remote_candidate_ = now;
  return OkStatus();
}

void Agent::Impl::HandleHostnameResolved(Timestamp now, const std::string& name,
                                         std::optional<IpAddress> ip) {
  now = std::max(now, last_now_);
  last_now_ = now;
  if (closed_) return;
  const std::string n = NormalizeHostname(name);
  auto asked = std::find(asked_hostnames_.begin(), asked_hostnames_.end(), n);
  if (asked == asked_hostnames_.end()) return;  // not asked for (or of an earlier generation)
  asked_hostnames_.erase(asked);
  if (ip && (ip->IsUnspecified() || ip->IsMulticast() || ip->IsBroadcast())) ip.reset();
  resolved_hostnames_.emplace_back(n, ip);
  while (resolved_hostnames_.size() > config_.max_resolved_hostnames) resolved_hostnames_.pop_front();
  for (size_t i = 0; i < pending_hostnames_.size();) {
    if (NormalizeHostname(pending_hostnames_[i].cand.hostname) != n) {
      ++i;
      continue;
    }
    PendingHostname pending = std::move(pending_hostnames_[i]);
    pending_hostnames_.erase(pending_hostnames_.begin() + static_cast<std::ptrdiff_t>(i));
    if (!ip || pending.generation != generation_) {
      ++counters_.dropped_unresolved_hostnames;
      continue;
    }
    pending.cand.address = SocketAddress(*ip, pending.cand.address.port());
    pending.cand.hostname.clear();
    if (remotes_.size() >= config_.max_remote_candidates &&
        FindRemoteByAddress(pending.cand.address) == kNone) {
      ++counters_.dropped_remote_candidates;
      continue;
    }
    AddRemoteInternal(now, std::move(pending.cand));
  }
  UpdateStates(now);
}

}  // namespace tandem::ice
