// ice::Agent: the public API, the receive path, output queues and the reported states. Checks, nomination and
// consent are in checklist.cc; gathering, TURN and mDNS in gathering.cc.
#include "ice/agent.h"

#include <algorithm>
#include <stdexcept>

#include "core/demux.h"
#include "core/log.h"
#include "ice/agent_impl.h"

namespace tandem::ice {

namespace {

constexpr char kIceChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// RFC 8839 §5.4: ice-ufrag 4..256 ice-chars, ice-pwd 22..256 ice-chars.
bool ValidUfrag(std::string_view s) { return s.size() >= 4 && s.size() <= 256 && IsIceString(s); }
bool ValidPwd(std::string_view s) { return s.size() >= 22 && s.size() <= 256 && IsIceString(s); }

}  // namespace

const char* ToString(Role role) { return role == Role::kControlling ? "controlling" : "controlled"; }

const char* ToString(GatheringState state) {
  switch (state) {
    case GatheringState::kNew:
      return "new";
    case GatheringState::kGathering:
      return "gathering";
    case GatheringState::kComplete:
      return "complete";
  }
  return "new";
}

const char* ToString(ConnectionState state) {
  switch (state) {
    case ConnectionState::kNew:
      return "new";
    case ConnectionState::kChecking:
      return "checking";
    case ConnectionState::kConnected:
      return "connected";
    case ConnectionState::kCompleted:
      return "completed";
    case ConnectionState::kFailed:
      return "failed";
    case ConnectionState::kDisconnected:
      return "disconnected";
    case ConnectionState::kClosed:
      return "closed";
  }
  return "new";
}

const char* ToString(PairState state) {
  switch (state) {
    case PairState::kFrozen:
      return "frozen";
    case PairState::kWaiting:
      return "waiting";
    case PairState::kInProgress:
      return "in-progress";
    case PairState::kSucceeded:
      return "succeeded";
    case PairState::kFailed:
      return "failed";
  }
  return "frozen";
}

// ---------------------------------------------------------------------------------------------------------------
// Impl: construction, helpers

Agent::Impl::Impl(AgentConfig config, Rng& rng) : config_(std::move(config)), rng_(rng) {
  if (!config_.local_ufrag.empty() && !ValidUfrag(config_.local_ufrag)) {
    throw std::invalid_argument("ice: local ufrag must be 4..256 ice-chars (RFC 8839 §5.4)");
  }
  if (!config_.local_pwd.empty() && !ValidPwd(config_.local_pwd)) {
    throw std::invalid_argument("ice: local pwd must be 22..256 ice-chars (RFC 8839 §5.4)");
  }
  if (config_.ta <= TimeDelta::Zero() || config_.check_max_transmissions < 1 ||
      config_.gather_max_transmissions < 1) {
    throw std::invalid_argument("ice: bad timer configuration");
  }
  // RFC 8445 §6.1.1: a lite agent is always controlled.
  role_ = config_.lite ? Role::kControlled : config_.role;
  tie_breaker_ = config_.tie_breaker;
  while (tie_breaker_ == 0) tie_breaker_ = rng_.NextU64();
  local_ufrag_ = config_.local_ufrag;
  local_pwd_ = config_.local_pwd;
  GenerateCredentials(local_ufrag_, local_pwd_);
}

std::string Agent::Impl::RandomIceString(size_t n) {
  std::string s(n, 'A');
  for (auto& c : s) c = kIceChars[rng_.Uniform(0, 63)];
  return s;
}

void Agent::Impl::GenerateCredentials(std::string& ufrag, std::string& pwd) {
  // RFC 8445 §5.3: at least 24 bits of randomness in the ufrag and 128 in the password.
  if (ufrag.empty()) ufrag = RandomIceString(8);  // 48 bits
  if (pwd.empty()) pwd = RandomIceString(24);     // 144 bits
}

stun::TransactionId Agent::Impl::NewTransactionId() {
  stun::TransactionId id;
  rng_.Fill(id);
  return id;
}

Agent::Impl::Base* Agent::Impl::FindBase(uint32_t id) {
  for (auto& b : bases_) {
    if (b.id == id) return &b;
  }
  return nullptr;
}

const Agent::Impl::Base* Agent::Impl::FindBase(uint32_t id) const {
  for (const auto& b : bases_) {
    if (b.id == id) return &b;
  }
  return nullptr;
}

Agent::Impl::Endpoint* Agent::Impl::FindEndpoint(EndpointId id) {
  for (auto& e : endpoints_) {
    if (e.id == id) return &e;
  }
  return nullptr;
}

void Agent::Impl::Enqueue(EndpointId endpoint, const SocketAddress& destination, ByteSpan bytes) {
  Outgoing o;
  if (!free_buffers_.empty()) {
    o.bytes = std::move(free_buffers_.back());
    free_buffers_.pop_back();
  }
  o.endpoint = endpoint;
  o.destination = destination;
  o.bytes.assign(bytes.begin(), bytes.end());
  out_.push_back(std::move(o));
}

void Agent::Impl::EmitEvent(Event event) { events_.push_back(std::move(event)); }

bool Agent::Impl::SendFromBase(Timestamp now, uint32_t base_id, const SocketAddress& to, ByteSpan bytes) {
  Base* base = FindBase(base_id);
  if (base == nullptr || !base->alive) return false;
  if (base->kind == Base::kHost) {
    Enqueue(base->endpoint, to, bytes);
    return true;
  }
  RelaySession& relay = relays_[base->relay];
  if (!relay.client || relay.state != RelaySession::kAllocated) return false;
  EnsurePermission(now, base_id, to.ip());
  const bool ok = relay.client->Send(now, to, bytes).ok();
  DrainRelay(now, base->relay);
  return ok;
}

TimeDelta Agent::Impl::Jittered(TimeDelta interval) {
  // RFC 7675 §5.1: randomized to 0.8..1.2 times the interval, so that checks do not synchronize.
  return TimeDelta::Micros(interval.us() / 1000 * rng_.Uniform(800, 1200));
}

// ---------------------------------------------------------------------------------------------------------------
// Impl: API

EndpointId Agent::Impl::AddHostEndpoint(Timestamp now, const SocketAddress& bound) {
  if (!bound.IsSet() || bound.port() == 0 || bound.ip().IsUnspecified()) {
    throw std::invalid_argument("ice: AddHostEndpoint needs a concrete bound address");
  }
  last_now_ = std::max(last_now_, now);
  Base b;
  b.id = next_id_++;
  b.kind = Base::kHost;
  b.address = bound;
  b.endpoint = b.id;
  for (const auto& other : bases_) {
    if (other.kind == Base::kHost && other.address.family() == bound.family()) ++b.family_index;
  }
  bases_.push_back(b);
  Endpoint e;
  e.id = b.id;
  e.base = b.id;
  endpoints_.push_back(std::move(e));
  if (gathering_started_ && !closed_) GatherForBase(now, b.id);
  UpdateStates(now);
  return b.id;
}

void Agent::Impl::StartGathering(Timestamp now) {
  last_now_ = std::max(last_now_, now);
  if (closed_ || gathering_started_) return;
  gathering_started_ = true;
  gathering_state_ = GatheringState::kGathering;
  EmitEvent(GatheringStateChanged{GatheringState::kGathering});
  const size_t host_count = bases_.size();
  for (size_t i = 0; i < host_count; ++i) {
    if (bases_[i].kind == Base::kHost) GatherForBase(now, bases_[i].id);
  }
  StartRelays(now);
  UpdateStates(now);
}

Status Agent::Impl::SetRemoteCredentials(Timestamp now, std::string ufrag, std::string pwd) {
  last_now_ = std::max(last_now_, now);
  if (closed_) return MakeError(ErrorCode::kUnavailable, "ice: closed");
  if (!ValidUfrag(ufrag) || !ValidPwd(pwd)) {
    return MakeError(ErrorCode::kInvalidArgument, "ice: remote ufrag/pwd violate RFC 8839 §5.4");
  }
  if (ufrag == remote_ufrag_ && pwd == remote_pwd_) return OkStatus();
  if (!remote_ufrag_.empty() && !restart_awaiting_remote_) {
    // RFC 8445 §9: new remote credentials = the peer restarted ICE; so do we.
    LOG_DEBUG("ice", "remote ICE restart detected");
    Restart(now, {}, {});
  }
  remote_ufrag_ = std::move(ufrag);
  remote_pwd_ = std::move(pwd);
  restart_awaiting_remote_ = false;
  ReplayEarlyChecks(now);
  UpdateStates(now);
  return OkStatus();
}

Status Agent::Impl::AddRemoteCandidate(Timestamp now, const Candidate& c) {
  last_now_ = std::max(last_now_, now);
  auto reject = [this](ErrorCode code, const char* reason) -> Status {
    ++counters_.dropped_remote_candidates;
    return MakeError(code, reason);
  };
  if (closed_) return reject(ErrorCode::kUnavailable, "ice: closed");
  if (c.component != 1) return reject(ErrorCode::kUnsupported, "ice: only component 1 is used");
  if (!c.IsUdp()) return reject(ErrorCode::kUnsupported, "ice: only UDP candidates are used");
  if (auto ufrag = c.Extension("ufrag")) {
    if (!remote_ufrag_.empty() && *ufrag != remote_ufrag_) {
      return reject(ErrorCode::kInvalidArgument, "ice: candidate of another ICE generation (ufrag)");
    }
    if (remote_ufrag_.empty() && previous_ && *ufrag == previous_->remote_ufrag) {
      return reject(ErrorCode::kInvalidArgument, "ice: candidate of the previous ICE generation (ufrag)");
    }
  }
  if (c.HasHostname()) {
    if (!c.IsMdnsHostname())
      return reject(ErrorCode::kUnsupported, "ice: only mDNS (.local) hostnames resolve");
    if (c.address.port() == 0) return reject(ErrorCode::kInvalidArgument, "ice: port 0");
    Status s = ResolveOrQueue(now, c);
    UpdateStates(now);
    return s;
  }
  const IpAddress& ip = c.address.ip();
  if (!c.address.IsSet() || c.address.port() == 0 || ip.IsUnspecified() || ip.IsMulticast() ||
      ip.IsBroadcast()) {
    return reject(ErrorCode::kInvalidArgument, "ice: unusable candidate address");
  }
  if (remotes_.size() >= config_.max_remote_candidates && FindRemoteByAddress(c.address) == kNone) {
    return reject(ErrorCode::kLimitExceeded, "ice: too many remote candidates");
  }
  AddRemoteInternal(now, c);
  UpdateStates(now);
  return OkStatus();
}

void Agent::Impl::SetRemoteEndOfCandidates(Timestamp now) {
  last_now_ = std::max(last_now_, now);
  if (closed_) return;
  remote_eoc_ = true;
  UpdateStates(now);
}

std::optional<ByteSpan> Agent::Impl::HandleReceive(Timestamp now, EndpointId endpoint,
                                                   const SocketAddress& from, ByteSpan data) {
  now = std::max(now, last_now_);
  last_now_ = now;
  Endpoint* e = FindEndpoint(endpoint);
  if (e == nullptr || e->stream) {
    ++counters_.dropped_unknown_endpoint;
    return std::nullopt;
  }
  if (data.empty()) {
    ++counters_.dropped_not_stun;
    return std::nullopt;
  }
  // TURN server traffic over UDP on this socket: the TURN client's, unless it answers one of our own STUN
  // Binding requests (a STUN server may share the TURN server's address).
  for (uint32_t r = 0; r < relays_.size(); ++r) {
    RelaySession& relay = relays_[r];
    // A failed session may share the socket and server with its replacement (after an ICE restart): skip it.
    if (relay.stream || relay.transport_endpoint != endpoint || !relay.client ||
        relay.state == RelaySession::kFailed || config_.servers[relay.server].address != from) {
      continue;
    }
    if (ClassifyPacket(data) == PacketKind::kStun && data.size() >= stun::kHeaderSize) {
      stun::TransactionId tid;
      std::copy(data.begin() + 8, data.begin() + 20, tid.begin());
      if (FindTransaction(tid) != nullptr) break;  // ours: handled below
    }
    auto peer_data = relay.client->HandleReceive(now, data);
    DrainRelay(now, r);
    std::optional<ByteSpan> app;
    if (peer_data && !closed_) app = ProcessPacket(now, relay.base, peer_data->peer, peer_data->data);
    UpdateStates(now);
    return app;
  }
  if (closed_) return std::nullopt;
  auto app = ProcessPacket(now, e->base, from, data);
  UpdateStates(now);
  return app;
}

std::optional<ByteSpan> Agent::Impl::ProcessPacket(Timestamp now, uint32_t base, const SocketAddress& from,
                                                   ByteSpan data) {
  if (data.empty()) {
    ++counters_.dropped_not_stun;
    return std::nullopt;
  }
  // RFC 7983 §7: the first byte tells STUN (0..3) from DTLS, SRTP and the rest.
  if (ClassifyPacket(data) == PacketKind::kStun) {
    HandleStun(now, base, from, data);
    return std::nullopt;
  }
  // Application data: accepted on a path a candidate pair accounts for (RFC 8445 §12.2).
  uint32_t p = kNone;
  if (selected_ != kNone && locals_[pairs_[selected_].local].base == base &&
      remotes_[pairs_[selected_].remote].cand.address == from) {
    p = selected_;
  } else {
    p = FindPair(base, from);
  }
  if (p != kNone) {
    auto& s = pairs_[p].stats;
    ++s.packets_received;
    s.bytes_received += data.size();
    s.last_packet_received = now;
    return data;
  }
  if (previous_ && previous_->base == base && previous_->remote.address == from) {
    ++previous_->stats.packets_received;
    previous_->stats.bytes_received += data.size();
    previous_->stats.last_packet_received = now;
    return data;
  }
  ++counters_.dropped_unknown_source;
  return std::nullopt;
}

std::optional<ByteSpan> Agent::Impl::PollStreamPayload() {
  if (stream_payloads_.empty()) return std::nullopt;
  ByteSpan s = stream_payloads_.front();
  stream_payloads_.pop_front();
  return s;
}

void Agent::Impl::HandleTimeout(Timestamp now) {
  now = std::max(now, last_now_);
  last_now_ = now;
  for (uint32_t r = 0; r < relays_.size(); ++r) {
    if (relays_[r].client && relays_[r].client->PollTimeout() <= now) {
      relays_[r].client->HandleTimeout(now);
      DrainRelay(now, r);
    }
  }
  if (closed_) return;
  ProcessTransactionTimeouts(now);
  if (next_pace_ <= now && DoPacedWork(now)) next_pace_ = now + config_.ta;
  ProcessConsent(now);
  UpdateStates(now);
}

Status Agent::Impl::SendData(Timestamp now, ByteSpan data) {
  now = std::max(now, last_now_);
  last_now_ = now;
  if (data.empty()) return MakeError(ErrorCode::kInvalidArgument, "ice: empty datagram");
  if (closed_) {
    ++counters_.send_errors;
    return MakeError(ErrorCode::kUnavailable, "ice: closed");
  }
  if (selected_ != kNone) {
    Pair& pair = pairs_[selected_];
    // RFC 7675 §5.1: no data once consent expired.
    if (!ConsentAlive(now, pair.consent)) {
      ++counters_.send_errors;
      return MakeError(ErrorCode::kUnavailable, "ice: consent expired");
    }
    const RemoteCand& remote = remotes_[pair.remote];
    if (!SendFromBase(now, locals_[pair.local].base, remote.cand.address, data)) {
      ++counters_.send_errors;
      return MakeError(ErrorCode::kUnavailable, "ice: the selected path cannot send");
    }
    ++pair.stats.packets_sent;
    pair.stats.bytes_sent += data.size();
    pair.stats.last_packet_sent = now;
    pair.last_sent = now;
    return OkStatus();
  }
  if (selected_previous_ && previous_ && ConsentAlive(now, previous_->consent)) {
    if (!SendFromBase(now, previous_->base, previous_->remote.address, data)) {
      ++counters_.send_errors;
      return MakeError(ErrorCode::kUnavailable, "ice: the previous path cannot send");
    }
    ++previous_->stats.packets_sent;
    previous_->stats.bytes_sent += data.size();
    previous_->stats.last_packet_sent = now;
    previous_->last_sent = now;
    return OkStatus();
  }
  ++counters_.send_errors;
  return MakeError(ErrorCode::kUnavailable, "ice: no selected candidate pair");
}

void Agent::Impl::Restart(Timestamp now, std::string ufrag, std::string pwd) {
  now = std::max(now, last_now_);
  last_now_ = now;
  if (closed_) return;
  if ((!ufrag.empty() && !ValidUfrag(ufrag)) || (!pwd.empty() && !ValidPwd(pwd))) {
    throw std::invalid_argument("ice: restart credentials violate RFC 8839 §5.4");
  }
  ++counters_.restarts;
  // RFC 8445 §9 / §12.1: the previous selected pair carries data until the new checklist selects one.
  if (selected_ != kNone) {
    const Pair& pair = pairs_[selected_];
    PreviousPath prev;
    prev.base = locals_[pair.local].base;
    prev.local = locals_[pair.valid_local != kNone ? pair.valid_local : pair.local].cand;
    prev.remote = remotes_[pair.remote].cand;
    prev.local_ufrag = local_ufrag_;
    prev.local_pwd = local_pwd_;
    prev.remote_ufrag = remote_ufrag_;
    prev.remote_pwd = remote_pwd_;
    prev.consent = pair.consent;
    prev.last_sent = pair.last_sent;
    prev.stats = pair.stats;
    previous_ = std::move(prev);
    selected_previous_ = true;
  } else if (!selected_previous_) {
    previous_.reset();
  }
  // Consent requests of the kept path continue under the previous credentials.
  ClearGeneration();
  ++generation_;
  local_ufrag_ = std::move(ufrag);
  local_pwd_ = std::move(pwd);
  GenerateCredentials(local_ufrag_, local_pwd_);
  remote_ufrag_.clear();
  remote_pwd_.clear();
  restart_awaiting_remote_ = true;
  if (gathering_started_) {
    gathering_state_ = GatheringState::kGathering;
    EmitEvent(GatheringStateChanged{GatheringState::kGathering});
    const size_t count = bases_.size();
    for (size_t i = 0; i < count; ++i) {
      if (bases_[i].kind == Base::kHost) GatherForBase(now, bases_[i].id);
    }
    StartRelays(now);
  }
  UpdateStates(now);
}

void Agent::Impl::Close(Timestamp now) {
  now = std::max(now, last_now_);
  last_now_ = now;
  if (closed_) return;
  closed_ = true;
  for (uint32_t r = 0; r < relays_.size(); ++r) {
    RelaySession& relay = relays_[r];
    if (relay.client && relay.state == RelaySession::kAllocated) {
      relay.client->Release(now);  // RFC 8656 §8: Refresh with LIFETIME 0
      DrainRelay(now, r);
    }
  }
  for (auto& e : endpoints_) {
    if (e.stream && e.open) {
      e.open = false;
      EmitEvent(CloseStream{e.id});
    }
  }
  ClearGeneration();
  for (auto& t : transactions_) {
    if (t.in_use) ReleaseTransaction(t);
  }
  previous_.reset();
  selected_previous_ = false;
  UpdateStates(now);
}

std::optional<Transmit> Agent::Impl::PollTransmit() {
  if (out_.empty()) return std::nullopt;
  if (current_out_.bytes.capacity() != 0 && free_buffers_.size() < 64) {
    current_out_.bytes.clear();
    free_buffers_.push_back(std::move(current_out_.bytes));
  }
  current_out_ = std::move(out_.front());
  out_.pop_front();
  return Transmit{current_out_.endpoint, current_out_.destination, ByteSpan(current_out_.bytes)};
}

std::optional<Event> Agent::Impl::PollEvent() {
  if (events_.empty()) return std::nullopt;
  Event e = std::move(events_.front());
  events_.pop_front();
  return e;
}

// ---------------------------------------------------------------------------------------------------------------
// Reported states

void Agent::Impl::UpdateStates(Timestamp now) {
  last_update_ = std::max(last_update_, now);
  if (!closed_) {
    if (gathering_started_ && gathering_state_ != GatheringState::kComplete && GatheringDone()) {
      gathering_state_ = GatheringState::kComplete;
      EmitEvent(GatheringStateChanged{GatheringState::kComplete});
    }
    MaybeNominate(now);
  }
  const uint32_t sel = ComputeSelected(now);
  const bool use_previous = sel == kNone && !closed_ && previous_ && ConsentAlive(now, previous_->consent);
  if (sel != selected_ || use_previous != selected_previous_) {
    selected_ = sel;
    selected_previous_ = use_previous;
    if (sel != kNone) {
      Pair& pair = pairs_[sel];
      if (pair.consent.next_send.IsInfinite() && !config_.lite) {
        pair.consent.next_send = now + Jittered(config_.consent_interval);
      }
      // RFC 8445 §12.1: a channel towards the peer when the local candidate is relayed.
      EnsureChannel(now, locals_[pair.local].base, remotes_[pair.remote].cand.address);
      // A new selected pair ends the restart's use of the previous one.
      previous_.reset();
      const uint32_t shown_local = pair.valid_local != kNone ? pair.valid_local : pair.local;
      EmitEvent(SelectedPairChanged{locals_[shown_local].cand, remotes_[pair.remote].cand});
    } else if (use_previous) {
      EmitEvent(SelectedPairChanged{previous_->local, previous_->remote});
    }
  }
  if (sel == kNone && !use_previous && previous_ && !closed_) {
    // The previous path's consent ran out before a new pair was selected.
    previous_.reset();
    consent_failed_ = true;
    ++counters_.consent_expirations;
  }
  const ConnectionState cs = ComputeConnectionState(now);
  if (cs != connection_state_) {
    connection_state_ = cs;
    EmitEvent(ConnectionStateChanged{cs});
  }
}

ConnectionState Agent::Impl::ComputeConnectionState(Timestamp now) const {
  if (closed_) return ConnectionState::kClosed;
  if (selected_ != kNone || selected_previous_) {
    const Consent& c = selected_previous_ ? previous_->consent : pairs_[selected_].consent;
    bool disconnected = false;
    if (config_.lite) {
      // A lite agent learns liveness from the peer's checks (consent requests every ~5 s).
      disconnected = now - c.last_ok >= config_.consent_interval * 6 / 5 + config_.disconnected_timeout;
    } else {
      disconnected =
          !c.oldest_unanswered.IsInfinite() && now - c.oldest_unanswered >= config_.disconnected_timeout;
    }
    if (disconnected) return ConnectionState::kDisconnected;
    if (!selected_previous_ && pairs_[selected_].nominated && GatheringDone() && remote_eoc_ &&
        !ChecksPending()) {
      return ConnectionState::kCompleted;
    }
    return ConnectionState::kConnected;
  }
  if (consent_failed_) return ConnectionState::kFailed;
  if (remote_ufrag_.empty()) {
    return connection_state_ == ConnectionState::kNew ? ConnectionState::kNew : ConnectionState::kChecking;
  }
  if (!config_.lite && ChecklistExhausted() && gathering_started_ && GatheringDone()) {
    // Trickle (RFC 8838 §8): every pair failed; without end-of-candidates wait a while for more candidates.
    if (remote_eoc_ ||
        (!pairs_.empty() && now - last_remote_candidate_ >= config_.end_of_candidates_timeout)) {
      return ConnectionState::kFailed;
    }
  }
  if (!pairs_.empty() || !remotes_.empty() || !pending_hostnames_.empty()) return ConnectionState::kChecking;
  return connection_state_ == ConnectionState::kNew ? ConnectionState::kNew : ConnectionState::kChecking;
}

Timestamp Agent::Impl::PollTimeout() const {
  Timestamp t = Timestamp::Infinity();
  for (const auto& r : relays_) {
    if (r.client) t = std::min(t, r.client->PollTimeout());
  }
  if (closed_) return t;
  if (HasPacedWork()) t = std::min(t, next_pace_);
  for (const auto& txn : transactions_) {
    if (txn.in_use) t = std::min(t, txn.deadline);
  }
  auto state_deadline = [&](Timestamp d) {
    // Deadlines that only change the reported state matter once: after UpdateStates saw them pass, not again.
    if (d > last_update_) t = std::min(t, d);
  };
  if (!config_.lite && role_ == Role::kControlling && !nominated_by_us_ && !first_valid_.IsInfinite()) {
    state_deadline(first_valid_ + config_.nomination_timeout);
  }
  auto consent_deadlines = [&](const Consent& c, Timestamp last_sent) {
    if (!config_.lite) {
      t = std::min(t, c.next_send);
      if (!c.oldest_unanswered.IsInfinite())
        state_deadline(c.oldest_unanswered + config_.disconnected_timeout);
    } else {
      state_deadline(c.last_ok + config_.consent_interval * 6 / 5 + config_.disconnected_timeout);
    }
    state_deadline(c.last_ok + config_.consent_timeout);
    t = std::min(t, last_sent + config_.keepalive_interval);
  };
  if (selected_ != kNone) consent_deadlines(pairs_[selected_].consent, pairs_[selected_].last_sent);
  if (selected_previous_ && previous_) consent_deadlines(previous_->consent, previous_->last_sent);
  if (!remote_eoc_ && !config_.lite && connection_state_ != ConnectionState::kFailed && !pairs_.empty() &&
      ChecklistExhausted()) {
    state_deadline(last_remote_candidate_ + config_.end_of_candidates_timeout);
  }
  return t;
}

Stats Agent::Impl::GetStats() const {
  Stats s;
  s.role = role_;
  s.gathering_state = gathering_state_;
  s.connection_state = connection_state_;
  s.counters = counters_;
  for (uint32_t i = 0; i < locals_.size(); ++i) {
    s.local_candidates.push_back(
        CandidateStats{"L" + std::to_string(i), locals_[i].cand, locals_[i].relay_protocol});
  }
  for (uint32_t i = 0; i < remotes_.size(); ++i) {
    s.remote_candidates.push_back(CandidateStats{"R" + std::to_string(i), remotes_[i].cand, {}});
  }
  for (uint32_t i = 0; i < pairs_.size(); ++i) {
    const Pair& p = pairs_[i];
    CandidatePairStats ps = p.stats;
    ps.local_candidate_id = "L" + std::to_string(p.valid_local != kNone ? p.valid_local : p.local);
    ps.remote_candidate_id = "R" + std::to_string(p.remote);
    ps.state = p.state;
    ps.nominated = p.nominated;
    ps.valid = p.valid;
    ps.selected = i == selected_;
    ps.priority = p.priority;
    s.pairs.push_back(std::move(ps));
  }
  if (previous_) {
    CandidatePairStats ps = previous_->stats;
    ps.local_candidate_id = "previous-local";
    ps.remote_candidate_id = "previous-remote";
    ps.state = PairState::kSucceeded;
    ps.valid = true;
    ps.nominated = true;
    ps.selected = selected_previous_;
    s.pairs.push_back(std::move(ps));
  }
  return s;
}

std::optional<std::pair<Candidate, Candidate>> Agent::Impl::SelectedPair() const {
  if (selected_ != kNone) {
    const Pair& p = pairs_[selected_];
    return std::make_pair(locals_[p.valid_local != kNone ? p.valid_local : p.local].cand,
                          remotes_[p.remote].cand);
  }
  if (selected_previous_ && previous_) return std::make_pair(previous_->local, previous_->remote);
  return std::nullopt;
}

std::vector<Candidate> Agent::Impl::LocalCandidates() const {
  std::vector<Candidate> out;
  out.reserve(locals_.size());
  for (const auto& l : locals_) out.push_back(l.cand);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Agent: forwarding

Agent::Agent(AgentConfig config, Rng& rng) : impl_(std::make_unique<Impl>(std::move(config), rng)) {}
Agent::~Agent() = default;

EndpointId Agent::AddHostEndpoint(Timestamp now, const SocketAddress& bound) {
  return impl_->AddHostEndpoint(now, bound);
}
void Agent::StartGathering(Timestamp now) { impl_->StartGathering(now); }
Status Agent::SetRemoteCredentials(Timestamp now, std::string ufrag, std::string pwd) {
  return impl_->SetRemoteCredentials(now, std::move(ufrag), std::move(pwd));
}
Status Agent::AddRemoteCandidate(Timestamp now, const Candidate& candidate) {
  return impl_->AddRemoteCandidate(now, candidate);
}
void Agent::SetRemoteEndOfCandidates(Timestamp now) { impl_->SetRemoteEndOfCandidates(now); }
void Agent::HandleStreamOpened(Timestamp now, EndpointId id, const SocketAddress& local) {
  impl_->HandleStreamOpened(now, id, local);
}
void Agent::HandleStreamClosed(Timestamp now, EndpointId id) { impl_->HandleStreamClosed(now, id); }
void Agent::HandleStreamData(Timestamp now, EndpointId id, ByteSpan bytes) {
  impl_->HandleStreamData(now, id, bytes);
}
std::optional<ByteSpan> Agent::PollStreamPayload() { return impl_->PollStreamPayload(); }
void Agent::HandleHostnameResolved(Timestamp now, const std::string& name, std::optional<IpAddress> ip) {
  impl_->HandleHostnameResolved(now, name, ip);
}
std::optional<ByteSpan> Agent::HandleReceive(Timestamp now, EndpointId endpoint, const SocketAddress& from,
                                             ByteSpan data) {
  return impl_->HandleReceive(now, endpoint, from, data);
}
void Agent::HandleTimeout(Timestamp now) { impl_->HandleTimeout(now); }
Status Agent::SendData(Timestamp now, ByteSpan data) { return impl_->SendData(now, data); }
void Agent::Restart(Timestamp now, std::string ufrag, std::string pwd) {
  impl_->Restart(now, std::move(ufrag), std::move(pwd));
}
void Agent::Close(Timestamp now) { impl_->Close(now); }
std::optional<Transmit> Agent::PollTransmit() { return impl_->PollTransmit(); }
std::optional<Event> Agent::PollEvent() { return impl_->PollEvent(); }
Timestamp Agent::PollTimeout() const { return impl_->PollTimeout(); }
Stats Agent::GetStats() const { return impl_->GetStats(); }
const Counters& Agent::counters() const { return impl_->counters_; }
const std::string& Agent::local_ufrag() const { return impl_->local_ufrag_; }
const std::string& Agent::local_pwd() const { return impl_->local_pwd_; }
Role Agent::role() const { return impl_->role_; }
uint64_t Agent::tie_breaker() const { return impl_->tie_breaker_; }
GatheringState Agent::gathering_state() const { return impl_->gathering_state_; }
ConnectionState Agent::connection_state() const { return impl_->connection_state_; }
std::optional<std::pair<Candidate, Candidate>> Agent::selected_pair() const { return impl_->SelectedPair(); }
std::vector<Candidate> Agent::local_candidates() const { return impl_->LocalCandidates(); }

}  // namespace tandem::ice
