// Connectivity checks (RFC 8445 §6.1.2-§7.3), nomination (§8.1), role conflicts (§7.3.1.1, §7.2.5.1),
// keepalives (§11) and consent freshness (RFC 7675) of ice::Agent.
#include <algorithm>
#include <functional>

#include "core/log.h"
#include "ice/agent_impl.h"

namespace tandem::ice {

namespace {

uint64_t HashString(std::string_view s) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ull;
  }
  return h;
}

bool IsLinkLocalV6(const IpAddress& ip) { return ip.is_v6() && ip.IsLinkLocal(); }

// Attributes a Binding request for ICE may carry that we understand (RFC 8489 §6.3.1.1: others that are
// comprehension-required get a 420).
constexpr uint16_t kKnownRequestAttributes[] = {
    stun::attr::kUsername,      stun::attr::kMessageIntegrity, stun::attr::kMessageIntegritySha256,
    stun::attr::kFingerprint,   stun::attr::kPriority,         stun::attr::kUseCandidate,
    stun::attr::kIceControlled, stun::attr::kIceControlling,   stun::attr::kSoftware,
};

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Incoming STUN

void Agent::Impl::HandleStun(Timestamp now, uint32_t base, const SocketAddress& from, ByteSpan data) {
  auto parsed = stun::MessageView::Parse(data);
  if (!parsed.ok()) {
    ++counters_.dropped_malformed;
    return;
  }
  const stun::MessageView& msg = *parsed;
  if (msg.method() != stun::Method::kBinding) {
    ++counters_.dropped_unexpected_stun;
    return;
  }
  switch (msg.message_class()) {
    case stun::MessageClass::kRequest:
      HandleBindingRequest(now, base, from, msg);
      break;
    case stun::MessageClass::kIndication:
      break;  // RFC 8445 §11 keepalive: nothing to do
    case stun::MessageClass::kSuccessResponse:
    case stun::MessageClass::kErrorResponse:
      HandleBindingResponse(now, base, from, msg);
      break;
  }
}

void Agent::Impl::HandleBindingRequest(Timestamp now, uint32_t base, const SocketAddress& from,
                                       const stun::MessageView& msg) {
  ++counters_.stun_requests_received;
  if (msg.Has(stun::attr::kFingerprint) && !msg.HasValidFingerprint()) {
    ++counters_.dropped_bad_fingerprint;
    return;
  }
  // RFC 8445 §7.2.2: USERNAME is "<receiver's ufrag>:<sender's ufrag>".
  auto username = msg.GetString(stun::attr::kUsername);
  const size_t colon = username ? username->find(':') : std::string_view::npos;
  if (!username || colon == std::string_view::npos) {
    ++counters_.dropped_unknown_username;
    return;
  }
  const std::string_view local_part = username->substr(0, colon);
  const std::string_view remote_part = username->substr(colon + 1);
  bool previous_generation = false;
  std::string_view pwd;
  if (local_part == local_ufrag_) {
    pwd = local_pwd_;
  } else if (previous_ && local_part == previous_->local_ufrag) {
    pwd = previous_->local_pwd;
    previous_generation = true;
  } else {
    ++counters_.dropped_unknown_username;
    return;
  }
  // RFC 8445 §7.3: short-term credentials, our password.
  if (!msg.VerifyMessageIntegrity(AsBytes(pwd))) {
    ++counters_.dropped_bad_integrity;
    return;
  }
  const auto unknown = msg.UnknownComprehensionRequired(kKnownRequestAttributes);
  if (!unknown.empty()) {
    SendErrorResponse(now, base, from, msg, pwd, stun::error::kUnknownAttribute, unknown);
    return;
  }
  const auto priority = msg.GetU32(stun::attr::kPriority);
  if (!priority || *priority == 0) {  // RFC 8445 §7.1.1: PRIORITY is mandatory
    SendErrorResponse(now, base, from, msg, pwd, stun::error::kBadRequest);
    return;
  }
  const bool use_candidate = msg.Has(stun::attr::kUseCandidate);
  if (previous_generation) {
    // A consent check on the previous generation's path (the peer keeps using it until its restart
    // completes).
    SendBindingResponse(now, base, from, msg, pwd);
    if (previous_->base == base && previous_->remote.address == from) ++previous_->stats.requests_received;
    return;
  }
  // RFC 8445 §7.3.1.1: detecting and repairing role conflicts.
  const auto their_controlling = msg.GetU64(stun::attr::kIceControlling);
  const auto their_controlled = msg.GetU64(stun::attr::kIceControlled);
  if (config_.lite) {
    if (their_controlled) {  // a lite agent cannot take control: the full peer has to
      ++counters_.role_conflicts;
      SendErrorResponse(now, base, from, msg, pwd, stun::error::kRoleConflict);
      return;
    }
  } else if (role_ == Role::kControlling && their_controlling) {
    ++counters_.role_conflicts;
    if (tie_breaker_ >= *their_controlling) {
      SendErrorResponse(now, base, from, msg, pwd, stun::error::kRoleConflict);
      return;
    }
    SwitchRole(now, Role::kControlled);
  } else if (role_ == Role::kControlled && their_controlled) {
    ++counters_.role_conflicts;
    if (tie_breaker_ >= *their_controlled) {
      SwitchRole(now, Role::kControlling);
    } else {
      SendErrorResponse(now, base, from, msg, pwd, stun::error::kRoleConflict);
      return;
    }
  }
  SendBindingResponse(now, base, from, msg, pwd);
  if (remote_ufrag_.empty() || remote_part != remote_ufrag_) {
    // RFC 8445 §7.3: the peer's credentials are not known yet (its answer is still in flight, or it
    // restarted): answered, and remembered until they arrive.
    if (early_checks_.size() < config_.max_early_checks) {
      early_checks_.push_back(EarlyCheck{base, from, *priority, use_candidate, std::string(remote_part)});
    }
    return;
  }
  ProcessIncomingCheck(now, base, from, *priority, use_candidate);
}

void Agent::Impl::SendBindingResponse(Timestamp now, uint32_t base, const SocketAddress& to,
                                      const stun::MessageView& request, std::string_view pwd) {
  // RFC 8445 §7.3.1.2: XOR-MAPPED-ADDRESS = the source of the request, MESSAGE-INTEGRITY with our password.
  stun::MessageBuilder(scratch_, stun::Method::kBinding, stun::MessageClass::kSuccessResponse,
                       request.transaction_id())
      .AddXorAddress(stun::attr::kXorMappedAddress, to)
      .AddMessageIntegrity(AsBytes(pwd))
      .AddFingerprint()
      .Finish();
  SendFromBase(now, base, to, scratch_);
  const uint32_t p = FindPair(base, to);
  if (p != kNone) {
    ++pairs_[p].stats.responses_sent;
    pairs_[p].last_sent = now;
  } else if (previous_ && previous_->base == base && previous_->remote.address == to) {
    ++previous_->stats.responses_sent;
  }
}

void Agent::Impl::SendErrorResponse(Timestamp now, uint32_t base, const SocketAddress& to,
                                    const stun::MessageView& request, std::string_view pwd, uint16_t code,
                                    std::span<const uint16_t> unknown) {
  stun::MessageBuilder b(scratch_, stun::Method::kBinding, stun::MessageClass::kErrorResponse,
                         request.transaction_id());
  b.AddErrorCode(code);
  if (!unknown.empty()) b.AddUnknownAttributes(unknown);
  b.AddMessageIntegrity(AsBytes(pwd)).AddFingerprint().Finish();
  SendFromBase(now, base, to, scratch_);
}

void Agent::Impl::ProcessIncomingCheck(Timestamp now, uint32_t base, const SocketAddress& from,
                                       uint32_t priority, bool use_candidate) {
  const uint32_t local = LocalCandidateForBase(base);
  if (local == kNone)
    return;  // nothing of ours lives on that base (relay-only host socket, not gathered yet)
  uint32_t remote = FindRemoteByAddress(from);
  if (remote == kNone) {
    // RFC 8445 §7.3.1.3: a peer-reflexive remote candidate, with the priority the peer put in PRIORITY.
    if (remotes_.size() >= config_.max_remote_candidates) {
      ++counters_.dropped_remote_candidates;
      return;
    }
    Candidate c;
    c.type = CandidateType::kPeerReflexive;
    c.address = from;
    c.priority = priority;
    c.foundation = RandomIceString(8);  // unique: it shares no foundation with any other (§7.3.1.3)
    remotes_.push_back(RemoteCand{std::move(c)});
    remote = static_cast<uint32_t>(remotes_.size() - 1);
  }
  uint32_t p = FindPair(base, from);
  if (p == kNone) {
    p = AddPair(now, local, remote);
    if (p == kNone) return;
  }
  Pair& pair = pairs_[p];
  pair.last_request_received = now;
  ++pair.stats.requests_received;
  if (config_.lite) {
    // A lite agent runs no checks: the pair is valid once the controlling peer checks it, and nominated with
    // USE-CANDIDATE (RFC 8445 §7.3.1.5); the peer's checks are its consent.
    if (!pair.valid) {
      pair.valid = true;
      pair.state = PairState::kSucceeded;
      pair.valid_local = pair.local;
      pair.valid_priority = pair.priority;
    }
    pair.consent.last_ok = now;
    if (use_candidate && !pair.nominated) {
      pair.nominated = true;
      pair.nomination_seq = ++nomination_counter_;
    }
    return;
  }
  // RFC 8445 §7.3.1.4: triggered checks.
  switch (pair.state) {
    case PairState::kSucceeded:
      break;
    case PairState::kInProgress:
      // Cancel the outstanding check (no retransmissions, no failure on timeout; its response still counts)
      // and check again now.
      for (auto& txn : transactions_) {
        if (txn.in_use && txn.kind == Transaction::kCheck && txn.pair == p && !txn.cancelled) {
          txn.cancelled = true;
          txn.deadline = now + config_.check_max_rto;
        }
      }
      pair.state = PairState::kWaiting;
      TriggerCheck(p);
      break;
    case PairState::kFrozen:
    case PairState::kWaiting:
    case PairState::kFailed:
      pair.state = PairState::kWaiting;
      TriggerCheck(p);
      break;
  }
  // RFC 8445 §7.3.1.5: the controlled agent takes the peer's nomination.
  if (use_candidate && role_ == Role::kControlled) {
    if (pair.valid) {
      if (!pair.nominated) {
        pair.nominated = true;
        pair.nomination_seq = ++nomination_counter_;
      }
    } else {
      pair.nominate_on_success = true;
    }
  }
}

void Agent::Impl::HandleBindingResponse(Timestamp now, uint32_t base, const SocketAddress& from,
                                        const stun::MessageView& msg) {
  Transaction* txn = FindTransaction(msg.transaction_id());
  if (txn == nullptr) {
    ++counters_.dropped_unknown_transaction;
    return;
  }
  if (msg.Has(stun::attr::kFingerprint) && !msg.HasValidFingerprint()) {
    ++counters_.dropped_bad_fingerprint;
    return;
  }
  if (txn->kind == Transaction::kGather) {
    HandleGatherResponse(now, *txn, from, msg);
    return;
  }
  HandleCheckResponse(now, *txn, base, from, msg);
}

void Agent::Impl::HandleCheckResponse(Timestamp now, Transaction& txn, uint32_t base,
                                      const SocketAddress& from, const stun::MessageView& msg) {
  // RFC 8445 §7.2.5.1: responses are authenticated with the peer's password, like the request.
  std::string_view key = remote_pwd_;
  if (txn.kind == Transaction::kPreviousConsent) {
    if (!previous_) {
      ReleaseTransaction(txn);
      return;
    }
    key = previous_->remote_pwd;
  }
  if (!msg.VerifyMessageIntegrity(AsBytes(key))) {
    ++counters_.dropped_bad_integrity;
    return;
  }
  const bool success = msg.message_class() == stun::MessageClass::kSuccessResponse;
  // RFC 8445 §7.2.5.2.1: the response must come from where the request went, to where it came from.
  const bool symmetric = from == txn.destination && base == txn.base;
  const TimeDelta rtt = now - txn.last_sent;

  if (txn.kind == Transaction::kPreviousConsent) {
    if (symmetric && success) {
      ConsentGranted(now, previous_->consent);
      ++previous_->stats.responses_received;
    }
    ReleaseTransaction(txn);
    return;
  }
  const uint32_t p = txn.pair;
  const Transaction::Kind kind = txn.kind;
  const bool use_candidate = txn.use_candidate;
  const Role role_at_send = txn.role_at_send;
  const uint32_t priority_sent = txn.priority_sent;
  const uint32_t txn_base = txn.base;
  ReleaseTransaction(txn);
  if (p >= pairs_.size()) return;
  Pair& pair = pairs_[p];
  if (!symmetric) {
    ++counters_.dropped_unexpected_stun;
    if (kind == Transaction::kCheck && pair.state == PairState::kInProgress) pair.state = PairState::kFailed;
    return;
  }
  if (!success) {
    const auto error = msg.GetErrorCode();
    if (error && error->code == stun::error::kRoleConflict) {
      // RFC 8445 §7.2.5.1: switch roles if we still hold the role we sent, then check the pair again.
      ++counters_.role_conflicts;
      if (role_at_send == role_) {
        SwitchRole(now, role_ == Role::kControlling ? Role::kControlled : Role::kControlling);
      }
      if (kind == Transaction::kNominate) pair.nominating = false;
      if (pair.state != PairState::kSucceeded) {
        pair.state = PairState::kWaiting;
        TriggerCheck(p);
      }
      return;
    }
    // Any other error is unrecoverable for the pair (RFC 8445 §7.2.5.2.4).
    if (kind == Transaction::kCheck || kind == Transaction::kNominate) {
      pair.state = PairState::kFailed;
      pair.valid = false;
      pair.nominating = false;
    }
    return;
  }
  ++pair.stats.responses_received;
  pair.stats.current_round_trip_time = rtt;
  pair.stats.total_round_trip_time = pair.stats.total_round_trip_time + rtt;
  ConsentGranted(now, pair.consent);  // RFC 7675 §5.1: any authenticated response is consent
  if (kind == Transaction::kConsent) return;

  const auto mapped = msg.GetXorAddress(stun::attr::kXorMappedAddress);
  if (!mapped) {
    if (kind == Transaction::kCheck) pair.state = PairState::kFailed;
    return;
  }
  // RFC 8445 §7.2.5.3.1: the mapped address names the local candidate of the valid pair; an unknown one is a
  // new peer-reflexive local candidate with the priority we sent in the check.
  uint32_t valid_local = kNone;
  for (uint32_t i = 0; i < locals_.size(); ++i) {
    if (locals_[i].base == txn_base && locals_[i].cand.address == *mapped) {
      valid_local = i;
      break;
    }
  }
  if (valid_local == kNone) {
    const Base* b = FindBase(txn_base);
    Candidate c;
    c.type = CandidateType::kPeerReflexive;
    c.address = *mapped;
    c.related = b ? std::optional<SocketAddress>(b->address) : std::nullopt;
    c.priority = priority_sent;
    c.foundation =
        Foundation(CandidateType::kPeerReflexive, b ? b->address.ip() : IpAddress(), IpAddress(), "udp");
    valid_local = AddLocalCandidate(now, std::move(c), txn_base, /*signaled=*/false);
    if (valid_local == kNone) valid_local = pair.local;
  }
  Pair& vp = pairs_[p];  // AddLocalCandidate may have added pairs
  vp.valid_local = valid_local;
  vp.valid_priority =
      ComputePairPriority(locals_[valid_local].cand.priority, remotes_[vp.remote].cand.priority);
  vp.valid = true;
  vp.consent_lost = false;
  vp.state = PairState::kSucceeded;
  if (first_valid_.IsInfinite()) first_valid_ = now;
  // RFC 8445 §7.2.5.3.3: a success unfreezes the pairs of the same foundation.
  UnfreezeFoundation(vp.foundation_key);
  // RFC 8445 §7.2.5.3.4 / §8.1.1: nomination.
  if ((kind == Transaction::kNominate || use_candidate) && role_ == Role::kControlling) {
    vp.nominating = false;
    if (!vp.nominated) {
      vp.nominated = true;
      vp.nomination_seq = ++nomination_counter_;
    }
    nominated_by_us_ = true;
  }
  if (role_ == Role::kControlled && vp.nominate_on_success && !vp.nominated) {
    vp.nominated = true;
    vp.nomination_seq = ++nomination_counter_;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Candidates and pairs

uint32_t Agent::Impl::LocalCandidateForBase(uint32_t base) const {
  for (uint32_t i = 0; i < locals_.size(); ++i) {
    const LocalCand& l = locals_[i];
    if (l.base != base) continue;
    if (l.cand.type == CandidateType::kHost && !config_.relay_only) return i;
    if (l.cand.type == CandidateType::kRelayed) return i;
  }
  return kNone;
}

uint32_t Agent::Impl::FindRemoteByAddress(const SocketAddress& address) const {
  for (uint32_t i = 0; i < remotes_.size(); ++i) {
    if (remotes_[i].cand.address == address) return i;
  }
  return kNone;
}

uint32_t Agent::Impl::FindPair(uint32_t base, const SocketAddress& remote) const {
  for (uint32_t i = 0; i < pairs_.size(); ++i) {
    if (locals_[pairs_[i].local].base == base && remotes_[pairs_[i].remote].cand.address == remote) return i;
  }
  return kNone;
}

uint64_t Agent::Impl::ComputePairPriority(uint32_t local_priority, uint32_t remote_priority) const {
  return role_ == Role::kControlling ? PairPriority(local_priority, remote_priority)
                                     : PairPriority(remote_priority, local_priority);
}

bool Agent::Impl::CanPair(const LocalCand& local, const RemoteCand& remote) const {
  // RFC 8445 §6.1.2.2: same component and transport (component 1 over UDP here), same address family, IPv6
  // link-local only with link-local. Server-reflexive local candidates are represented by their base
  // (§6.1.2.4).
  if (local.cand.type != CandidateType::kHost && local.cand.type != CandidateType::kRelayed) return false;
  if (config_.relay_only && local.cand.type != CandidateType::kRelayed) return false;
  const SocketAddress& r = remote.cand.address;
  if (!r.IsSet() || r.port() == 0) return false;
  if (local.cand.address.family() != r.family()) return false;
  if (IsLinkLocalV6(local.cand.address.ip()) != IsLinkLocalV6(r.ip())) return false;
  const Base* b = FindBase(local.base);
  return b != nullptr && b->alive;
}

uint32_t Agent::Impl::AddPair(Timestamp now, uint32_t local, uint32_t remote) {
  if (pairs_.size() >= config_.max_pairs) {
    // RFC 8445 §6.1.2.5 keeps the highest-priority pairs; trickled candidates mostly arrive best first, so
    // the newcomers are the ones left out.
    ++counters_.dropped_pairs_limit;
    return kNone;
  }
  Pair p;
  p.local = local;
  p.remote = remote;
  p.foundation_key =
      HashString(locals_[local].cand.foundation) * 31 + HashString(remotes_[remote].cand.foundation);
  p.priority = ComputePairPriority(locals_[local].cand.priority, remotes_[remote].cand.priority);
  p.state = PairState::kFrozen;  // the scheduler unfreezes per foundation (§6.1.2.6, §6.1.4.2)
  pairs_.push_back(std::move(p));
  const uint32_t idx = static_cast<uint32_t>(pairs_.size() - 1);
  // A relayed local candidate needs a TURN permission for the peer's IP (RFC 8656 §9) before checks get
  // through.
  EnsurePermission(now, locals_[local].base, remotes_[remote].cand.address.ip());
  return idx;
}

void Agent::Impl::PairNewLocal(Timestamp now, uint32_t local) {
  if (config_.lite) return;  // a lite agent forms pairs only from the peer's checks
  for (uint32_t r = 0; r < remotes_.size(); ++r) {
    if (!CanPair(locals_[local], remotes_[r])) continue;
    if (FindPair(locals_[local].base, remotes_[r].cand.address) != kNone) continue;  // pruned (§6.1.2.4)
    AddPair(now, local, r);
  }
}

void Agent::Impl::PairNewRemote(Timestamp now, uint32_t remote) {
  if (config_.lite) return;
  for (uint32_t l = 0; l < locals_.size(); ++l) {
    if (!CanPair(locals_[l], remotes_[remote])) continue;
    if (FindPair(locals_[l].base, remotes_[remote].cand.address) != kNone) continue;
    AddPair(now, l, remote);
  }
}

void Agent::Impl::AddRemoteInternal(Timestamp now, Candidate cand) {
  last_remote_candidate_ = now;
  const uint32_t existing = FindRemoteByAddress(cand.address);
  if (existing != kNone) {
    RemoteCand& r = remotes_[existing];
    if (r.cand.type == CandidateType::kPeerReflexive && cand.type != CandidateType::kPeerReflexive) {
      // The signalled candidate behind a peer-reflexive one we learned from a check: take its type,
      // foundation and priority (pairs keep their state).
      r.cand = std::move(cand);
      for (auto& pair : pairs_) {
        if (pair.remote != existing) continue;
        pair.foundation_key = HashString(locals_[pair.local].cand.foundation) * 31 +
                              HashString(remotes_[existing].cand.foundation);
      }
      RecomputePriorities();
      PairNewRemote(now, existing);
    }
    return;  // a duplicate transport address (RFC 8445 §6.1.2.4 would prune its pairs anyway)
  }
  if (remotes_.size() >= config_.max_remote_candidates) {
    ++counters_.dropped_remote_candidates;
    return;
  }
  remotes_.push_back(RemoteCand{std::move(cand)});
  PairNewRemote(now, static_cast<uint32_t>(remotes_.size() - 1));
}

void Agent::Impl::RecomputePriorities() {
  for (auto& pair : pairs_) {
    pair.priority =
        ComputePairPriority(locals_[pair.local].cand.priority, remotes_[pair.remote].cand.priority);
    const uint32_t vl = pair.valid_local != kNone ? pair.valid_local : pair.local;
    pair.valid_priority = ComputePairPriority(locals_[vl].cand.priority, remotes_[pair.remote].cand.priority);
  }
}

void Agent::Impl::SwitchRole(Timestamp now, Role role) {
  if (role_ == role || config_.lite) return;
  LOG_DEBUG("ice", "role conflict: now " << ToString(role));
  role_ = role;
  EmitEvent(RoleChanged{role});
  // RFC 8445 §7.3.1.1: pair priorities depend on the roles.
  RecomputePriorities();
  if (role == Role::kControlled) {
    for (auto& pair : pairs_) pair.nominating = false;
    nominated_by_us_ = false;
  }
}

void Agent::Impl::ReplayEarlyChecks(Timestamp now) {
  std::vector<EarlyCheck> early;
  early.swap(early_checks_);
  for (const auto& e : early) {
    if (e.remote_ufrag == remote_ufrag_)
      ProcessIncomingCheck(now, e.base, e.from, e.priority, e.use_candidate);
  }
}

void Agent::Impl::ClearGeneration() {
  for (auto& t : transactions_) {
    if (t.in_use && t.kind != Transaction::kPreviousConsent) ReleaseTransaction(t);
  }
  pairs_.clear();
  remotes_.clear();
  locals_.clear();
  triggered_.clear();
  queries_.clear();
  early_checks_.clear();
  pending_hostnames_.clear();
  asked_hostnames_.clear();
  first_valid_ = Timestamp::Infinity();
  nominated_by_us_ = false;
  remote_eoc_ = false;
  consent_failed_ = false;
  selected_ = kNone;
}

// ---------------------------------------------------------------------------------------------------------------
// Scheduling (RFC 8445 §6.1.4: one check per Ta, triggered checks first)

uint32_t Agent::Impl::NextOrdinaryCheck() const {
  // The highest-priority Waiting pair; else the highest-priority Frozen pair whose foundation has no pair
  // Waiting or In-Progress (§6.1.4.2).
  uint32_t best_waiting = kNone;
  std::vector<uint64_t> active;
  for (uint32_t i = 0; i < pairs_.size(); ++i) {
    const Pair& p = pairs_[i];
    if (p.state == PairState::kWaiting) {
      if (best_waiting == kNone || p.priority > pairs_[best_waiting].priority) best_waiting = i;
    }
    if (p.state == PairState::kWaiting || p.state == PairState::kInProgress)
      active.push_back(p.foundation_key);
  }
  if (best_waiting != kNone) return best_waiting;
  uint32_t best_frozen = kNone;
  for (uint32_t i = 0; i < pairs_.size(); ++i) {
    const Pair& p = pairs_[i];
    if (p.state != PairState::kFrozen) continue;
    if (std::find(active.begin(), active.end(), p.foundation_key) != active.end()) continue;
    if (best_frozen == kNone || p.priority > pairs_[best_frozen].priority) best_frozen = i;
  }
  return best_frozen;
}

bool Agent::Impl::HasPacedWork() const {
  for (const auto& q : queries_) {
    if (!q.sent && !q.done) return true;
  }
  if (config_.lite || closed_ || remote_ufrag_.empty()) return false;
  if (!triggered_.empty()) return true;
  return NextOrdinaryCheck() != kNone;
}

bool Agent::Impl::DoPacedWork(Timestamp now) {
  // Gathering requests share the pacing (RFC 8445 §5.1.1.1 / §14.2).
  for (uint32_t q = 0; q < queries_.size(); ++q) {
    GatherQuery& query = queries_[q];
    if (query.sent || query.done) continue;
    query.sent = true;
    Transaction* txn = NewTransaction(now);
    if (txn == nullptr) {
      ++counters_.dropped_transactions_limit;
      FinishGatherQuery(now, q);
      return false;
    }
    txn->kind = Transaction::kGather;
    txn->query = q;
    txn->base = query.base;
    txn->destination = config_.servers[query.server].address;
    txn->rto = config_.gather_rto;
    txn->max_transmissions = config_.gather_max_transmissions;
    stun::MessageBuilder(txn->bytes, stun::Method::kBinding, stun::MessageClass::kRequest, txn->id)
        .AddFingerprint()
        .Finish();
    txn->deadline = now + txn->rto;
    SendFromBase(now, query.base, txn->destination, txn->bytes);
    return true;
  }
  if (config_.lite || remote_ufrag_.empty()) return false;
  while (!triggered_.empty()) {
    const uint32_t p = triggered_.front();
    triggered_.pop_front();
    if (p < pairs_.size() && pairs_[p].state == PairState::kWaiting) {
      ++counters_.triggered_checks;
      SendCheck(now, p, Transaction::kCheck, false);
      return true;
    }
  }
  const uint32_t p = NextOrdinaryCheck();
  if (p == kNone) return false;
  SendCheck(now, p, Transaction::kCheck, false);
  return true;
}

void Agent::Impl::TriggerCheck(uint32_t pair) {
  if (std::find(triggered_.begin(), triggered_.end(), pair) == triggered_.end()) triggered_.push_back(pair);
}

void Agent::Impl::UnfreezeFoundation(uint64_t foundation_key) {
  for (auto& p : pairs_) {
    if (p.state == PairState::kFrozen && p.foundation_key == foundation_key) p.state = PairState::kWaiting;
  }
}

uint32_t Agent::Impl::PeerReflexivePriority(uint32_t local) const {
  // RFC 8445 §7.1.1: PRIORITY is the priority a peer-reflexive candidate from this base would have: type
  // preference 110 with the local candidate's local preference and component (its low 24 bits).
  return (kPeerReflexiveTypePreference << 24) | (locals_[local].cand.priority & 0x00ffffffu);
}

void Agent::Impl::BuildCheckRequest(std::vector<uint8_t>& out, const stun::TransactionId& id,
                                    std::string_view username, std::string_view key, uint32_t priority,
                                    bool use_candidate) {
  // RFC 8445 §7.2.2: USERNAME, PRIORITY, ICE-CONTROLLING/ICE-CONTROLLED with the tie-breaker, USE-CANDIDATE;
  // MESSAGE-INTEGRITY with the peer's password; FINGERPRINT.
  stun::MessageBuilder b(out, stun::Method::kBinding, stun::MessageClass::kRequest, id);
  b.AddString(stun::attr::kUsername, username);
  b.AddU32(stun::attr::kPriority, priority);
  b.AddU64(role_ == Role::kControlling ? stun::attr::kIceControlling : stun::attr::kIceControlled,
           tie_breaker_);
  if (use_candidate) b.AddEmpty(stun::attr::kUseCandidate);
  b.AddMessageIntegrity(AsBytes(key)).AddFingerprint().Finish();
}

void Agent::Impl::SendCheck(Timestamp now, uint32_t p, Transaction::Kind kind, bool use_candidate) {
  Pair& pair = pairs_[p];
  Transaction* txn = NewTransaction(now);
  if (txn == nullptr) {
    ++counters_.dropped_transactions_limit;
    if (kind == Transaction::kCheck) pair.state = PairState::kFailed;
    if (kind == Transaction::kNominate) pair.nominating = false;
    return;
  }
  const LocalCand& local = locals_[pair.local];
  const RemoteCand& remote = remotes_[pair.remote];
  txn->kind = kind;
  txn->pair = p;
  txn->base = local.base;
  txn->destination = remote.cand.address;
  txn->use_candidate = use_candidate;
  txn->role_at_send = role_;
  txn->priority_sent = PeerReflexivePriority(pair.local);
  std::string username;
  username.reserve(remote_ufrag_.size() + 1 + local_ufrag_.size());
  username.append(remote_ufrag_).append(1, ':').append(local_ufrag_);
  BuildCheckRequest(txn->bytes, txn->id, username, remote_pwd_, txn->priority_sent, use_candidate);
  if (kind == Transaction::kConsent) {
    // RFC 7675 §5.1: each consent request is a fresh transaction, not retransmitted; a late response still
    // counts.
    txn->max_transmissions = 1;
    txn->rto = config_.consent_interval * 2;
    ++pair.stats.consent_requests_sent;
  } else {
    // RFC 8445 §14.3: RTO = MAX(500 ms, Ta * (Waiting + In-Progress pairs)).
    int64_t active = 0;
    for (const auto& other : pairs_) {
      if (other.state == PairState::kWaiting || other.state == PairState::kInProgress) ++active;
    }
    txn->rto = std::max(config_.check_min_rto, config_.ta * std::max<int64_t>(active, 1));
    txn->max_transmissions = config_.check_max_transmissions;
    if (kind == Transaction::kCheck) pair.state = PairState::kInProgress;
  }
  txn->deadline = now + txn->rto;
  ++pair.stats.requests_sent;
  pair.last_sent = now;
  SendFromBase(now, local.base, remote.cand.address, txn->bytes);
}

void Agent::Impl::SendPreviousConsent(Timestamp now) {
  PreviousPath& prev = *previous_;
  Transaction* txn = NewTransaction(now);
  if (txn == nullptr) {
    ++counters_.dropped_transactions_limit;
    return;
  }
  txn->kind = Transaction::kPreviousConsent;
  txn->base = prev.base;
  txn->destination = prev.remote.address;
  txn->role_at_send = role_;
  txn->max_transmissions = 1;
  txn->rto = config_.consent_interval * 2;
  txn->deadline = now + txn->rto;
  txn->priority_sent = (kPeerReflexiveTypePreference << 24) | (prev.local.priority & 0x00ffffffu);
  const std::string username = prev.remote_ufrag + ":" + prev.local_ufrag;
  BuildCheckRequest(txn->bytes, txn->id, username, prev.remote_pwd, txn->priority_sent, false);
  ++prev.stats.consent_requests_sent;
  prev.last_sent = now;
  SendFromBase(now, prev.base, prev.remote.address, txn->bytes);
}

void Agent::Impl::SendKeepalive(Timestamp now, uint32_t base, const SocketAddress& to) {
  // RFC 8445 §11: a Binding indication keeps NAT bindings alive when nothing else is sent.
  stun::MessageBuilder(scratch_, stun::Method::kBinding, stun::MessageClass::kIndication, NewTransactionId())
      .AddFingerprint()
      .Finish();
  SendFromBase(now, base, to, scratch_);
}

// ---------------------------------------------------------------------------------------------------------------
// Transactions

Agent::Impl::Transaction* Agent::Impl::FindTransaction(const stun::TransactionId& id) {
  for (auto& t : transactions_) {
    if (t.in_use && t.id == id) return &t;
  }
  return nullptr;
}

Agent::Impl::Transaction* Agent::Impl::NewTransaction(Timestamp now) {
  Transaction* slot = nullptr;
  for (auto& t : transactions_) {
    if (!t.in_use) {
      slot = &t;
      break;
    }
  }
  if (slot == nullptr) {
    if (transactions_.size() >= config_.max_pending_transactions) return nullptr;
    transactions_.emplace_back();
    slot = &transactions_.back();
  }
  std::vector<uint8_t> bytes = std::move(slot->bytes);
  *slot = Transaction{};
  slot->bytes = std::move(bytes);
  slot->bytes.clear();
  slot->in_use = true;
  slot->id = NewTransactionId();
  slot->generation = generation_;
  slot->last_sent = now;
  slot->transmissions = 1;
  ++transactions_in_use_;
  return slot;
}

void Agent::Impl::ReleaseTransaction(Transaction& txn) {
  if (!txn.in_use) return;
  txn.in_use = false;
  --transactions_in_use_;
}

void Agent::Impl::ProcessTransactionTimeouts(Timestamp now) {
  for (size_t i = 0; i < transactions_.size(); ++i) {
    Transaction& txn = transactions_[i];
    if (!txn.in_use || txn.deadline > now) continue;
    switch (txn.kind) {
      case Transaction::kGather:
        if (txn.transmissions < txn.max_transmissions) {
          // RFC 8489 §6.2.1: retransmit, doubling the RTO.
          ++txn.transmissions;
          txn.rto = txn.rto * 2;
          txn.last_sent = now;
          txn.deadline = now + txn.rto;
          SendFromBase(now, txn.base, txn.destination, txn.bytes);
        } else {
          const uint32_t q = txn.query;
          ReleaseTransaction(txn);
          FinishGatherQuery(now, q);
        }
        break;
      case Transaction::kCheck:
      case Transaction::kNominate:
        if (!txn.cancelled && txn.transmissions < txn.max_transmissions) {
          ++txn.transmissions;
          txn.rto = std::min(txn.rto * 2, std::max(config_.check_max_rto, config_.check_min_rto));
          txn.last_sent = now;
          txn.deadline = now + txn.rto;
          if (txn.pair < pairs_.size()) {
            ++pairs_[txn.pair].stats.requests_sent;
            pairs_[txn.pair].last_sent = now;
          }
          SendFromBase(now, txn.base, txn.destination, txn.bytes);
        } else {
          const bool cancelled = txn.cancelled;
          ReleaseTransaction(txn);
          if (!cancelled) OnCheckTimeout(now, txn);
        }
        break;
      case Transaction::kConsent:
      case Transaction::kPreviousConsent:
        ReleaseTransaction(txn);  // unanswered; consent runs out on its own clock
        break;
    }
  }
}

void Agent::Impl::OnCheckTimeout(Timestamp now, Transaction& txn) {
  if (txn.generation != generation_ || txn.pair >= pairs_.size()) return;
  Pair& pair = pairs_[txn.pair];
  if (txn.kind == Transaction::kNominate) {
    // The nomination got no answer: the pair is not usable (§7.2.5.2.4); another may be nominated.
    pair.nominating = false;
    pair.valid = false;
    pair.state = PairState::kFailed;
    return;
  }
  if (pair.state == PairState::kInProgress) pair.state = PairState::kFailed;
}

// ---------------------------------------------------------------------------------------------------------------
// Nomination and selection

uint32_t Agent::Impl::BestValidPair(Timestamp now) const {
  uint32_t best = kNone;
  for (uint32_t i = 0; i < pairs_.size(); ++i) {
    const Pair& p = pairs_[i];
    if (!p.valid || p.consent_lost || p.state != PairState::kSucceeded || !ConsentAlive(now, p.consent))
      continue;
    if (best == kNone || p.valid_priority > pairs_[best].valid_priority) best = i;
  }
  return best;
}

void Agent::Impl::MaybeNominate(Timestamp now) {
  // RFC 8445 §8.1.1: regular nomination by the controlling agent, once, on a valid pair.
  if (config_.lite || role_ != Role::kControlling || remote_ufrag_.empty() || nominated_by_us_) return;
  for (const auto& p : pairs_) {
    if (p.nominating) return;
  }
  const uint32_t best = BestValidPair(now);
  if (best == kNone) return;
  bool better_pending = false;
  for (const auto& p : pairs_) {
    if ((p.state == PairState::kFrozen || p.state == PairState::kWaiting ||
         p.state == PairState::kInProgress) &&
        p.priority > pairs_[best].valid_priority) {
      better_pending = true;
      break;
    }
  }
  const bool ready = (!better_pending && remote_eoc_) || now >= first_valid_ + config_.nomination_timeout;
  if (!ready) return;
  pairs_[best].nominating = true;
  SendCheck(now, best, Transaction::kNominate, true);
}

uint32_t Agent::Impl::ComputeSelected(Timestamp now) const {
  if (closed_) return kNone;
  // The nominated pair (RFC 8445 §8.1.1, §8.2); when the peer nominated several, the latest, as browsers
  // renominate.
  uint32_t best = kNone;
  for (uint32_t i = 0; i < pairs_.size(); ++i) {
    const Pair& p = pairs_[i];
    if (!p.nominated || !p.valid || p.consent_lost || !ConsentAlive(now, p.consent)) continue;
    if (best == kNone || p.nomination_seq > pairs_[best].nomination_seq) best = i;
  }
  if (best != kNone) return best;
  // Before nomination, data may go over the best valid pair (RFC 8445 §12.1, §12.1.1).
  return BestValidPair(now);
}

// ---------------------------------------------------------------------------------------------------------------
// Consent freshness (RFC 7675) and keepalives (RFC 8445 §11)

bool Agent::Impl::ConsentAlive(Timestamp now, const Consent& consent) const {
  return now < consent.last_ok + config_.consent_timeout;
}

void Agent::Impl::ConsentGranted(Timestamp now, Consent& consent) {
  consent.last_ok = now;
  if (!consent.oldest_unanswered.IsInfinite()) {
    consent.oldest_unanswered = Timestamp::Infinity();
    if (!consent.next_send.IsInfinite()) consent.next_send = now + Jittered(config_.consent_interval);
  }
}

void Agent::Impl::ScheduleConsent(Timestamp now, Consent& consent) {
  // Just sent a consent request: if it stays unanswered, probe again soon (fresh transactions), so that a
  // lost datagram does not read as a lost path; an answer puts the next request 4..6 s out (ConsentGranted).
  if (consent.oldest_unanswered.IsInfinite()) consent.oldest_unanswered = now;
  consent.next_send = now + config_.consent_probe_interval;
}

void Agent::Impl::ProcessConsent(Timestamp now) {
  if (selected_ != kNone) {
    Pair& pair = pairs_[selected_];
    if (!ConsentAlive(now, pair.consent)) {
      // RFC 7675 §5.1: consent expired: stop sending; the path is failed.
      LOG_DEBUG("ice", "consent expired on the selected pair");
      pair.consent_lost = true;
      pair.valid = false;
      pair.state = PairState::kFailed;
      consent_failed_ = true;
      ++counters_.consent_expirations;
      return;
    }
    const uint32_t base = locals_[pair.local].base;
    const SocketAddress& to = remotes_[pair.remote].cand.address;
    if (!config_.lite && pair.consent.next_send <= now) {
      SendCheck(now, selected_, Transaction::kConsent, role_ == Role::kControlling && pair.nominated);
      ScheduleConsent(now, pairs_[selected_].consent);
    }
    Pair& p2 = pairs_[selected_];
    if (now >= p2.last_sent + config_.keepalive_interval) {
      SendKeepalive(now, base, to);
      p2.last_sent = now;
    }
  }
  if (selected_previous_ && previous_) {
    PreviousPath& prev = *previous_;
    if (!ConsentAlive(now, prev.consent)) return;  // UpdateStates drops it
    if (!config_.lite) {
      if (prev.consent.next_send.IsInfinite())
        prev.consent.next_send = now + Jittered(config_.consent_interval);
      if (prev.consent.next_send <= now) {
        SendPreviousConsent(now);
        ScheduleConsent(now, prev.consent);
      }
    }
    if (now >= prev.last_sent + config_.keepalive_interval) {
      SendKeepalive(now, prev.base, prev.remote.address);
      prev.last_sent = now;
    }
  }
}

bool Agent::Impl::ChecksPending() const {
  if (!triggered_.empty() || !pending_hostnames_.empty()) return true;
  for (const auto& p : pairs_) {
    if (p.state == PairState::kFrozen || p.state == PairState::kWaiting ||
        p.state == PairState::kInProgress) {
      return true;
    }
  }
  return false;
}

bool Agent::Impl::ChecklistExhausted() const {
  if (ChecksPending()) return false;
  for (const auto& p : pairs_) {
    if (p.valid && !p.consent_lost) return false;
  }
  return true;
}

}  // namespace tandem::ice
