#include "peer/peer_core.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "core/demux.h"
#include "core/log.h"

namespace tandem::peer {

namespace {

constexpr char kLog[] = "peer";
constexpr size_t kMaxEarlyDtls = 16;
constexpr size_t kMaxUnsent = 64;

JsepError Err(const char* name, std::string message) { return JsepError{name, std::move(message)}; }

// RFC 8839 §5.4 ice-char: ALPHA / DIGIT / "+" / "/".
std::string RandomIceChars(Rng& rng, size_t n) {
  static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out(n, 'a');
  for (char& c : out) c = kChars[rng.Uniform(0, 63)];
  return out;
}

IceGatheringState MapGathering(ice::GatheringState s) {
  switch (s) {
    case ice::GatheringState::kNew:
      return IceGatheringState::kNew;
    case ice::GatheringState::kGathering:
      return IceGatheringState::kGathering;
    case ice::GatheringState::kComplete:
      return IceGatheringState::kComplete;
  }
  return IceGatheringState::kNew;
}

IceConnectionState MapIce(ice::ConnectionState s) {
  switch (s) {
    case ice::ConnectionState::kNew:
      return IceConnectionState::kNew;
    case ice::ConnectionState::kChecking:
      return IceConnectionState::kChecking;
    case ice::ConnectionState::kConnected:
      return IceConnectionState::kConnected;
    case ice::ConnectionState::kCompleted:
      return IceConnectionState::kCompleted;
    case ice::ConnectionState::kFailed:
      return IceConnectionState::kFailed;
    case ice::ConnectionState::kDisconnected:
      return IceConnectionState::kDisconnected;
    case ice::ConnectionState::kClosed:
      return IceConnectionState::kClosed;
  }
  return IceConnectionState::kNew;
}

std::vector<dtls::Fingerprint> ToDtls(std::span<const sdp::Fingerprint> fingerprints) {
  std::vector<dtls::Fingerprint> out;
  for (const auto& f : fingerprints) out.push_back(dtls::Fingerprint{f.algorithm, f.bytes});
  return out;
}

const char* PairStateName(ice::PairState s) {
  switch (s) {
    case ice::PairState::kFrozen:
      return "frozen";
    case ice::PairState::kWaiting:
      return "waiting";
    case ice::PairState::kInProgress:
      return "in-progress";
    case ice::PairState::kSucceeded:
      return "succeeded";
    case ice::PairState::kFailed:
      return "failed";
  }
  return "frozen";
}

const char* DtlsStateName(const dtls::DtlsTransport* t) {
  if (!t) return "new";
  switch (t->state()) {
    case dtls::DtlsState::kNew:
      return "new";
    case dtls::DtlsState::kConnecting:
      return "connecting";
    case dtls::DtlsState::kConnected:
      return "connected";
    case dtls::DtlsState::kClosed:
      return "closed";
    case dtls::DtlsState::kFailed:
      return "failed";
  }
  return "new";
}

}  // namespace

// The data channel manager's view of the SCTP association, which exists only once the DTLS role is known.
class PeerCore::SctpAdapter final : public datachannel::SctpPort {
 public:
  explicit SctpAdapter(PeerCore& core) : core_(core) {}
  Status Send(uint16_t stream, uint32_t ppid, ByteSpan payload, const datachannel::Reliability& r) override {
    if (!core_.sctp_) return MakeError(ErrorCode::kUnavailable, "no SCTP association yet");
    sctp::SendOptions options;
    options.unordered = !r.ordered;
    options.max_retransmits = r.max_retransmits;
    if (r.max_packet_lifetime_ms) options.lifetime = TimeDelta::Millis(*r.max_packet_lifetime_ms);
    Status s = core_.sctp_->Send(core_.now_, stream, ppid, payload, options);
    if (!s.ok()) ++core_.counters_.sctp_send_errors;
    return s;
  }
  Status ResetStreams(std::span<const uint16_t> outgoing) override {
    if (!core_.sctp_) return MakeError(ErrorCode::kUnavailable, "no SCTP association yet");
    return core_.sctp_->ResetStreams(outgoing);
  }
  size_t buffered_amount(uint16_t stream) const override {
    return core_.sctp_ ? core_.sctp_->buffered_amount(stream) : 0;
  }
  void SetBufferedAmountLowThreshold(uint16_t stream, size_t bytes) override {
    thresholds_[stream] = bytes;
    if (core_.sctp_) core_.sctp_->SetBufferedAmountLowThreshold(stream, bytes);
  }
  // Thresholds set before the association existed.
  void ApplyTo(sctp::Association& association) const {
    for (const auto& [stream, bytes] : thresholds_) association.SetBufferedAmountLowThreshold(stream, bytes);
  }

 private:
  PeerCore& core_;
  std::map<uint16_t, size_t> thresholds_;
};

PeerCore::PeerCore(PeerCoreConfig config, Rng& rng) : config_(std::move(config)), rng_(rng) {
  if (!config_.certificate.valid()) throw std::invalid_argument("PeerCore needs a certificate");
  // RFC 8829 §5.2.1: a session id below 2^63.
  session_id_ = rng_.NextU64() & 0x3fffffffffffffffull;
  cname_ = RandomIceChars(rng_, 16);
  session::Config media_config;
  media_config.cname = cname_;
  media_ = std::make_unique<session::RtpSession>(media_config, rng_);
  sctp_adapter_ = std::make_unique<SctpAdapter>(*this);
  datachannel::ManagerOptions options;
  channels_ = std::make_unique<datachannel::DataChannelManager>(*sctp_adapter_, options);
}

PeerCore::~PeerCore() = default;

// --- Driver
// ---------------------------------------------------------------------------------------------------

ice::EndpointId PeerCore::AddHostEndpoint(Timestamp now, const SocketAddress& bound) {
  now_ = std::max(now_, now);
  host_addresses_.push_back(bound);
  if (agent_) {
    const ice::EndpointId id = agent_->AddHostEndpoint(now_, bound);
    Pump(now_);
    return id;
  }
  // Before the agent exists its ids are promised: the agent numbers endpoints from 1 in the order they are
  // added, and these are added first (EnsureAgent checks).
  const auto id = static_cast<ice::EndpointId>(pending_endpoints_.size() + 1);
  pending_endpoints_.emplace_back(id, bound);
  return id;
}

void PeerCore::HandleReceive(Timestamp now, ice::EndpointId endpoint, const SocketAddress& from,
                             ByteSpan data) {
  now_ = std::max(now_, now);
  if (!agent_ || closed_) return;
  std::optional<ByteSpan> app = agent_->HandleReceive(now_, endpoint, from, data);
  if (app) DeliverApplicationData(now_, *app);
  Pump(now_);
}

void PeerCore::DeliverApplicationData(Timestamp now, ByteSpan data) {
  switch (ClassifyPacket(data)) {
    case PacketKind::kDtls:
      if (dtls_) {
        dtls_->HandleReceive(now, data);
      } else if (early_dtls_.size() < kMaxEarlyDtls) {
        // The peer's ClientHello can beat its answer to us: keep it until the answer tells us our role.
        early_dtls_.emplace_back(data.begin(), data.end());
      } else {
        ++counters_.dropped_before_dtls;
      }
      break;
    case PacketKind::kRtpRtcp:
      media_->HandlePacket(now, data);
      break;
    default:
      ++counters_.dropped_unknown;
      break;
  }
}

void PeerCore::HandleStreamOpened(Timestamp now, ice::EndpointId id, const SocketAddress& local) {
  now_ = std::max(now_, now);
  if (!agent_) return;
  agent_->HandleStreamOpened(now_, id, local);
  Pump(now_);
}

void PeerCore::HandleStreamClosed(Timestamp now, ice::EndpointId id) {
  now_ = std::max(now_, now);
  if (!agent_) return;
  agent_->HandleStreamClosed(now_, id);
  Pump(now_);
}

void PeerCore::HandleStreamData(Timestamp now, ice::EndpointId id, ByteSpan bytes) {
  now_ = std::max(now_, now);
  if (!agent_) return;
  agent_->HandleStreamData(now_, id, bytes);
  while (auto payload = agent_->PollStreamPayload()) DeliverApplicationData(now_, *payload);
  Pump(now_);
}

void PeerCore::HandleHostnameResolved(Timestamp now, const std::string& name, std::optional<IpAddress> ip) {
  now_ = std::max(now_, now);
  if (!agent_) return;
  agent_->HandleHostnameResolved(now_, name, ip);
  Pump(now_);
}

void PeerCore::HandleTimeout(Timestamp now) {
  now_ = std::max(now_, now);
  if (agent_ && agent_->PollTimeout() <= now_) agent_->HandleTimeout(now_);
  if (dtls_ && dtls_->PollTimeout() <= now_) dtls_->HandleTimeout(now_);
  if (sctp_ && sctp_->PollTimeout() <= now_) sctp_->HandleTimeout(now_);
  if (media_->PollTimeout() <= now_) media_->HandleTimeout(now_);
  Pump(now_);
}

std::optional<ice::Transmit> PeerCore::PollTransmit() {
  if (!agent_) return std::nullopt;
  return agent_->PollTransmit();
}

std::optional<PeerEvent> PeerCore::PollEvent() {
  if (events_.empty()) return std::nullopt;
  PeerEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

Timestamp PeerCore::PollTimeout() const {
  Timestamp t = Timestamp::Infinity();
  if (agent_) t = std::min(t, agent_->PollTimeout());
  if (dtls_) t = std::min(t, dtls_->PollTimeout());
  if (sctp_) t = std::min(t, sctp_->PollTimeout());
  t = std::min(t, media_->PollTimeout());
  return t;
}

// --- Composition
// ----------------------------------------------------------------------------------------------

void PeerCore::EnsureAgent(Timestamp now, ice::Role role) {
  if (agent_) return;
  ice::AgentConfig config = config_.ice_template;
  config.role = config_.ice_lite ? ice::Role::kControlled : role;
  config.lite = config_.ice_lite;
  config.relay_only = config_.relay_only;
  config.servers = config_.ice_servers;
  agent_ = std::make_unique<ice::Agent>(std::move(config), rng_);
  for (const auto& [promised, address] : pending_endpoints_) {
    const ice::EndpointId id = agent_->AddHostEndpoint(now, address);
    if (id != promised) throw std::logic_error("ICE endpoint ids are not the ones PeerCore promised");
  }
  pending_endpoints_.clear();
}

void PeerCore::EnsureDtls(Timestamp now, dtls::Role role) {
  if (dtls_) return;
  dtls_role_ = role;
  dtls::DtlsConfig config = config_.dtls_template;
  config.role = role;
  config.certificate = config_.certificate;
  // RFC 5764: DTLS-SRTP for the media; AEAD_AES_128_GCM preferred (RFC 7714), AES_CM_128_HMAC_SHA1_80 as
  // fallback.
  config.srtp_profiles = {dtls::SrtpProfile::kAeadAes128Gcm, dtls::SrtpProfile::kAes128CmSha1_80};
  const Description* remote =
      pending_remote_ ? &*pending_remote_ : (current_remote_ ? &*current_remote_ : nullptr);
  if (remote) {
    for (const auto& m : remote->model.media) {
      if (m.IsRejected()) continue;
      config.remote_fingerprints = ToDtls(sdp::GetFingerprints(remote->model, m));
      break;
    }
  }
  dtls_ = std::make_unique<dtls::DtlsTransport>(std::move(config));
  channels_->SetDtlsRole(role == dtls::Role::kClient);
  if (role == dtls::Role::kServer) {
    dtls_->Start(now);
    dtls_started_ = true;
  } else if (agent_ && agent_->selected_pair()) {
    dtls_->Start(now);
    dtls_started_ = true;
  }
  while (!early_dtls_.empty()) {
    dtls_->HandleReceive(now, early_dtls_.front());
    early_dtls_.pop_front();
  }
}

void PeerCore::EnsureSctp(Timestamp now) {
  if (sctp_ || !DataSection()) return;
  sctp::Options options = config_.sctp_template;
  options.remote_port = remote_sctp_port_;
  options.max_message_size = std::max(options.max_message_size, config_.max_message_size);
  options.max_receive_buffer = std::max(options.max_receive_buffer, options.max_message_size);
  // The SCTP packet rides in one DTLS record inside one datagram: leave room for DTLS's header, explicit
  // nonce and tag (RFC 8261 §5).
  if (dtls_) options.mtu = std::min(options.mtu, dtls_->max_application_data());
  sctp_ = std::make_unique<sctp::Association>(options, rng_);
  sctp_adapter_->ApplyTo(*sctp_);
  channels_->SetRemoteMaxMessageSize(remote_max_message_size_ ? remote_max_message_size_ : SIZE_MAX);
}

void PeerCore::Pump(Timestamp now) {
  for (int round = 0; round < 10000; ++round) {
    bool progress = false;
    if (agent_) {
      while (auto e = agent_->PollEvent()) {
        HandleIceEvent(now, std::move(*e));
        progress = true;
      }
    }
    if (dtls_) {
      while (auto e = dtls_->PollEvent()) {
        progress = true;
        switch (e->kind) {
          case dtls::DtlsEvent::Kind::kConnected:
            LOG_DEBUG(kLog, "DTLS connected as " << dtls::ToString(dtls_->role()));
            if (dtls_->srtp_profile() != dtls::SrtpProfile::kNone) {
              if (auto keys = dtls_->ExportSrtpKeys(); keys.ok()) {
                if (Status st = media_->SetSrtpKeys(now, *keys); !st.ok()) {
                  LOG_WARN(kLog, "SRTP keys refused: " << st.error().reason);
                }
              }
            }
            EnsureSctp(now);
            if (sctp_ && !sctp_connect_sent_) {
              sctp_connect_sent_ = true;
              sctp_->Connect(now);
            }
            break;
          case dtls::DtlsEvent::Kind::kClosed:
          case dtls::DtlsEvent::Kind::kFailed:
            // A close is ordinary; a failure is worth telling at the default level.
            if (e->kind == dtls::DtlsEvent::Kind::kFailed) {
              LOG_INFO(kLog, "DTLS failed: " << e->reason);
            } else {
              LOG_DEBUG(kLog, "DTLS closed: " << e->reason);
            }
            channels_->HandleSctpClosed();
            break;
        }
      }
      while (auto record = dtls_->PollApplicationData()) {
        progress = true;
        if (sctp_) sctp_->HandleReceive(now, *record);
      }
      while (auto datagram = dtls_->PollTransmit()) {
        progress = true;
        SendOnIce(now, *datagram);
      }
    }
    if (sctp_) {
      while (auto e = sctp_->PollEvent()) {
        HandleSctpEvent(now, std::move(*e));
        progress = true;
      }
      if (dtls_ && dtls_->state() == dtls::DtlsState::kConnected) {
        while (auto packet = sctp_->PollTransmit(now)) {
          progress = true;
          if (!dtls_->Send(*packet).ok()) break;
          // Hand each record to ICE at once: DTLS's transmit queue is bounded.
          while (auto datagram = dtls_->PollTransmit()) SendOnIce(now, *datagram);
        }
      }
    }
    while (auto e = channels_->PollEvent()) {
      Emit(DataChannelEvent{std::move(*e)});
      progress = true;
    }
    while (auto packet = media_->PollTransmit()) {
      progress = true;
      SendOnIce(now, *packet);
    }
    while (auto e = media_->PollEvent()) {
      progress = true;
      HandleMediaEvent(std::move(*e));
    }
    if (!progress) break;
  }
  UpdateConnectionState();
}

void PeerCore::SendOnIce(Timestamp now, ByteSpan datagram) {
  if (!agent_) return;
  if (unsent_.empty() && agent_->SendData(now, datagram).ok()) return;
  // No pair selected yet (or earlier datagrams still wait): keep it, bounded, for when one is.
  if (unsent_.size() < kMaxUnsent) {
    unsent_.emplace_back(datagram.begin(), datagram.end());
  } else {
    ++counters_.dropped_unsent;
  }
}

void PeerCore::HandleIceEvent(Timestamp now, ice::Event event) {
  if (auto* c = std::get_if<ice::LocalCandidate>(&event)) {
    local_candidates_.push_back(c->candidate);
    const MSection* first = nullptr;
    size_t index = 0;
    for (size_t i = 0; i < msections_.size(); ++i) {
      if (!msections_[i].rejected) {
        first = &msections_[i];
        index = i;
        break;
      }
    }
    IceCandidate out;
    out.candidate = c->candidate.ToString();
    out.sdp_mid = first ? first->mid : "0";
    out.sdp_mline_index = static_cast<uint16_t>(index);
    out.username_fragment = agent_->local_ufrag();
    Emit(IceCandidateEvent{std::move(out)});
  } else if (auto* g = std::get_if<ice::GatheringStateChanged>(&event)) {
    const IceGatheringState state = MapGathering(g->state);
    if (state == gathering_state_) return;
    gathering_state_ = state;
    gathering_complete_ = state == IceGatheringState::kComplete;
    Emit(IceGatheringStateEvent{state});
    if (gathering_complete_) Emit(IceCandidateEvent{std::nullopt});
  } else if (auto* s = std::get_if<ice::ConnectionStateChanged>(&event)) {
    const IceConnectionState state = MapIce(s->state);
    if (state == ice_state_ || closed_) return;
    ice_state_ = state;
    Emit(IceConnectionStateEvent{state});
  } else if (std::get_if<ice::SelectedPairChanged>(&event)) {
    // What DTLS wanted to send before a pair could carry it (a server answering the ClientHello that came
    // with the peer's first check, before our own check succeeded) goes now.
    while (!unsent_.empty() && agent_->SendData(now, unsent_.front()).ok()) unsent_.pop_front();
    if (dtls_ && !dtls_started_) {
      dtls_started_ = true;
      dtls_->Start(now);
    }
  } else if (auto* o = std::get_if<ice::OpenStream>(&event)) {
    Emit(OpenStreamRequest{*o});
  } else if (auto* cl = std::get_if<ice::CloseStream>(&event)) {
    Emit(CloseStreamRequest{*cl});
  } else if (auto* r = std::get_if<ice::ResolveHostname>(&event)) {
    Emit(ResolveHostnameRequest{r->name});
  }
}

void PeerCore::HandleSctpEvent(Timestamp now, sctp::Event event) {
  std::visit(
      [&](auto& e) {
        using E = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<E, sctp::ConnectedEvent>) {
          LOG_DEBUG(kLog, "SCTP established");
          channels_->HandleSctpConnected();
        } else if constexpr (std::is_same_v<E, sctp::MessageReceivedEvent>) {
          channels_->HandleSctpMessage(e.message.stream, e.message.ppid, std::move(e.message.payload));
        } else if constexpr (std::is_same_v<E, sctp::IncomingStreamsResetEvent>) {
          channels_->HandleIncomingStreamsReset(e.streams);
        } else if constexpr (std::is_same_v<E, sctp::OutgoingStreamsResetEvent>) {
          channels_->HandleOutgoingStreamsReset(e.streams);
        } else if constexpr (std::is_same_v<E, sctp::OutgoingStreamsResetFailedEvent>) {
          // The peer refused the reset: the channel is closed for us all the same.
          channels_->HandleOutgoingStreamsReset(e.streams);
        } else if constexpr (std::is_same_v<E, sctp::BufferedAmountLowEvent>) {
          channels_->HandleBufferedAmountLow(e.stream);
        } else if constexpr (std::is_same_v<E, sctp::ClosedEvent>) {
          channels_->HandleSctpClosed();
        } else if constexpr (std::is_same_v<E, sctp::AbortedEvent>) {
          LOG_DEBUG(kLog, "SCTP aborted" << (e.by_peer ? " by the peer: " : ": ") << e.reason);
          channels_->HandleSctpClosed();
        } else if constexpr (std::is_same_v<E, sctp::RestartedEvent>) {
          // RFC 9260 §5.2.4: the peer restarted; queued data is gone and sequence numbers start over, so no
          // channel can continue where it was.
          LOG_INFO(kLog, "SCTP association restarted by the peer: closing the data channels");
          channels_->HandleSctpClosed();
          channels_->HandleSctpConnected();  // the association itself is up: new channels may open
        } else if constexpr (std::is_same_v<E, sctp::ErrorEvent>) {
          LOG_DEBUG(kLog, "SCTP: " << e.message);
        }
      },
      event);
}

void PeerCore::UpdateConnectionState() {
  PeerConnectionState state;
  const dtls::DtlsState dtls_state = dtls_ ? dtls_->state() : dtls::DtlsState::kNew;
  // W3C webrtc-pc §4.4.3 RTCPeerConnectionState, over our one ICE and one DTLS transport.
  if (closed_) {
    state = PeerConnectionState::kClosed;
  } else if (ice_state_ == IceConnectionState::kFailed || dtls_state == dtls::DtlsState::kFailed) {
    state = PeerConnectionState::kFailed;
  } else if (ice_state_ == IceConnectionState::kDisconnected) {
    state = PeerConnectionState::kDisconnected;
  } else if ((ice_state_ == IceConnectionState::kNew || ice_state_ == IceConnectionState::kClosed) &&
             (dtls_state == dtls::DtlsState::kNew || dtls_state == dtls::DtlsState::kClosed)) {
    state = PeerConnectionState::kNew;
  } else if ((ice_state_ == IceConnectionState::kConnected || ice_state_ == IceConnectionState::kCompleted) &&
             dtls_state == dtls::DtlsState::kConnected) {
    state = PeerConnectionState::kConnected;
  } else if (dtls_state == dtls::DtlsState::kClosed) {
    state = PeerConnectionState::kClosed;
  } else {
    state = PeerConnectionState::kConnecting;
  }
  if (state == connection_state_) return;
  connection_state_ = state;
  Emit(ConnectionStateEvent{state});
}

// --- JSEP
// -----------------------------------------------------------------------------------------------------

const PeerCore::MSection* PeerCore::DataSection() const {
  for (const auto& m : msections_) {
    if (m.type == sdp::MediaType::kApplication && !m.rejected) return &m;
  }
  return nullptr;
}

bool PeerCore::NeedsNegotiation() const {
  if (closed_) return false;
  if (ice_restart_requested_) return true;
  // W3C "check if negotiation is needed" for transceivers: a new one, a stopped one still negotiated, or a
  // direction the current description does not say.
  for (const Transceiver& t : transceivers_) {
    if (!t.state.mid) {
      if (!t.state.stopped) return true;
      continue;
    }
    if (t.state.stopped) {
      if (t.state.current_direction) return true;
      continue;
    }
    if (!current_local_) return true;
    if (current_local_->type == SdpType::kOffer) {
      for (size_t i = 0; i < msections_.size() && i < current_local_->model.media.size(); ++i) {
        if (msections_[i].transceiver != t.state.id) continue;
        if (current_local_->model.media[i].direction.value_or(sdp::Direction::kSendRecv) !=
            t.state.direction) {
          return true;
        }
      }
    } else if (t.answered_direction && t.offered_reversed) {
      const bool send =
          sdp::Sends(t.state.direction) && sdp::Sends(*t.offered_reversed) && t.track.has_value();
      const bool recv = sdp::Receives(t.state.direction) && sdp::Receives(*t.offered_reversed);
      const sdp::Direction would = send && recv ? sdp::Direction::kSendRecv
                                   : send       ? sdp::Direction::kSendOnly
                                   : recv       ? sdp::Direction::kRecvOnly
                                                : sdp::Direction::kInactive;
      if (would != *t.answered_direction) return true;
    }
  }
  bool has_channels = false;
  for (datachannel::ChannelHandle h : channels_->handles()) {
    const auto* info = channels_->Find(h);
    if (info && info->state != datachannel::ChannelState::kClosed) has_channels = true;
  }
  if (!has_channels) return false;
  // A data section that is part of the current (stable) negotiation.
  if (!current_local_) return true;
  for (const auto& m : current_local_->model.media) {
    if (m.IsSctp() && !m.IsRejected()) return false;
  }
  return true;
}

void PeerCore::MaybeNegotiationNeeded() {
  if (signaling_state_ != SignalingState::kStable) return;
  const bool needed = NeedsNegotiation();
  if (needed && !negotiation_needed_) Emit(NegotiationNeededEvent{});
  negotiation_needed_ = needed;
}

void PeerCore::SetSignalingState(SignalingState state) {
  if (state == signaling_state_) return;
  signaling_state_ = state;
  Emit(SignalingStateEvent{state});
  if (state == SignalingState::kStable) {
    negotiation_needed_ = false;
    MaybeNegotiationNeeded();
  }
}

sdp::SessionDescription PeerCore::BuildDescription(bool offer, const std::string& ufrag,
                                                   const std::string& pwd) const {
  sdp::SessionDescription d;
  d.origin.session_id = session_id_;
  d.origin.session_version = session_version_;
  d.ice_lite = config_.ice_lite;
  d.msid_semantics.push_back(sdp::MsidSemantic{"WMS", {}});
  sdp::Group bundle{"BUNDLE", {}};
  const sdp::Fingerprint fingerprint = [&] {
    const dtls::Fingerprint f = config_.certificate.GetFingerprint();
    return sdp::Fingerprint{f.algorithm, f.value};
  }();
  for (const MSection& section : msections_) {
    sdp::MediaDescription m;
    m.mid = section.mid;
    m.connection = sdp::ConnectionData{};
    if (section.rejected) {
      // A section we do not take part in: mirror the remote one (or our own kind) with port 0 (RFC 8829
      // §5.3.1).
      m.type = section.type;
      m.other_type = section.remote.other_type;
      m.proto = section.proto.empty() ? section.remote.proto : section.proto;
      m.formats = section.remote.formats;
      if (m.formats.empty() && section.transceiver) {
        AddOfferedMedia(m);
        m.formats.resize(1);
        m.rtpmaps.resize(std::min<size_t>(m.rtpmaps.size(), 1));
        m.fmtps.clear();
        m.rtcp_feedback.clear();
        m.extmaps.clear();
      }
      if (m.formats.empty()) m.formats.push_back(m.IsSctp() ? "webrtc-datachannel" : "0");
      m.port = 0;
      m.direction = sdp::Direction::kInactive;
      d.media.push_back(std::move(m));
      continue;
    }
    m.type = section.type;
    m.proto = section.proto.empty() ? "UDP/DTLS/SCTP" : section.proto;
    m.ice_ufrag = ufrag;
    m.ice_pwd = pwd;
    m.ice_options = {"trickle"};
    m.fingerprints.push_back(fingerprint);
    if (offer) {
      m.setup = sdp::Setup::kActPass;  // RFC 8842 §5.2; an existing association keeps its roles (§5.5)
    } else {
      m.setup = (dtls_role_.value_or(dtls::Role::kClient) == dtls::Role::kClient) ? sdp::Setup::kActive
                                                                                  : sdp::Setup::kPassive;
    }
    if (section.transceiver) {
      BuildMediaSection(section, offer, m);
    } else if (m.proto == "DTLS/SCTP") {
      // Legacy (pre-RFC 8841) peers: "m=application 9 DTLS/SCTP 5000" with a=sctpmap.
      m.formats = {"5000"};
      m.sctpmap = sdp::SctpMap{5000, "webrtc-datachannel", 1024};
    } else {
      m.formats = {"webrtc-datachannel"};
      m.sctp_port = 5000;
      m.max_message_size = config_.max_message_size;
    }
    bundle.mids.push_back(section.mid);
    d.media.push_back(std::move(m));
  }
  if (!bundle.mids.empty()) d.groups.push_back(std::move(bundle));
  return d;
}

JsepResult<std::string> PeerCore::CreateOffer(Timestamp now, bool ice_restart) {
  now_ = std::max(now_, now);
  if (closed_) return Err("InvalidStateError", "the connection is closed");
  EnsureAgent(now_, ice::Role::kControlling);
  // Sections created by an offer that was never applied are dropped when a remote offer comes; add the data
  // section when channels need one.
  bool has_channels = false;
  for (datachannel::ChannelHandle h : channels_->handles()) {
    const auto* info = channels_->Find(h);
    if (info && info->state != datachannel::ChannelState::kClosed) has_channels = true;
  }
  if (has_channels && !DataSection()) {
    MSection section;
    section.type = sdp::MediaType::kApplication;
    section.mid = NewMid();
    section.proto = "UDP/DTLS/SCTP";
    msections_.push_back(std::move(section));
  }
  // JSEP §5.2.1: a new m= section for every transceiver without one (in the order they were added).
  for (Transceiver& t : transceivers_) {
    if (t.state.mid || t.state.stopped) continue;
    MSection section;
    section.type = t.state.kind;
    section.proto = "UDP/TLS/RTP/SAVPF";
    section.mid = NewMid();
    section.transceiver = t.state.id;
    t.state.mid = section.mid;
    msections_.push_back(std::move(section));
  }
  std::string ufrag = agent_->local_ufrag(), pwd = agent_->local_pwd();
  if (ice_restart || ice_restart_requested_) {
    if (!offered_credentials_)
      offered_credentials_.emplace(RandomIceChars(rng_, 8), RandomIceChars(rng_, 24));
    ufrag = offered_credentials_->first;
    pwd = offered_credentials_->second;
  }
  ++session_version_;
  std::string text = sdp::Serialize(BuildDescription(true, ufrag, pwd));
  last_created_offer_ = text;
  return text;
}

JsepResult<std::string> PeerCore::CreateAnswer(Timestamp now) {
  now_ = std::max(now_, now);
  if (closed_) return Err("InvalidStateError", "the connection is closed");
  if (signaling_state_ != SignalingState::kHaveRemoteOffer &&
      signaling_state_ != SignalingState::kHaveLocalPranswer) {
    return Err("InvalidStateError", "createAnswer needs a remote offer");
  }
  ++session_version_;
  std::string text = sdp::Serialize(BuildDescription(false, agent_->local_ufrag(), agent_->local_pwd()));
  last_created_answer_ = text;
  return text;
}

JsepStatus PeerCore::SetLocalDescription(Timestamp now, SdpType type, const std::string& text) {
  now_ = std::max(now_, now);
  if (closed_) return Err("InvalidStateError", "the connection is closed");
  if (type == SdpType::kRollback) {
    if (signaling_state_ != SignalingState::kHaveLocalOffer) {
      return Err("InvalidStateError", "nothing to roll back");
    }
    pending_local_.reset();
    // Sections that only the rolled-back offer had go away, and with them their transceivers' mids.
    const size_t keep = current_local_ ? current_local_->model.media.size() : 0;
    if (msections_.size() > keep) msections_.resize(keep);
    ForgetUnusedMids();
    offered_credentials_.reset();
    SetSignalingState(SignalingState::kStable);
    Pump(now_);
    return std::nullopt;
  }
  const bool is_offer = type == SdpType::kOffer;
  if (is_offer && signaling_state_ != SignalingState::kStable &&
      signaling_state_ != SignalingState::kHaveLocalOffer) {
    return Err("InvalidStateError", "cannot set a local offer in this signaling state");
  }
  if (!is_offer && signaling_state_ != SignalingState::kHaveRemoteOffer &&
      signaling_state_ != SignalingState::kHaveLocalPranswer) {
    return Err("InvalidStateError", "cannot set a local answer without a remote offer");
  }
  const std::optional<std::string>& created = is_offer ? last_created_offer_ : last_created_answer_;
  if (!created || *created != text) {
    return Err("InvalidModificationError",
               "the description is not the one createOffer/createAnswer returned");
  }
  auto parsed = sdp::Parse(text);
  if (!parsed) return Err("OperationError", parsed.error().ToString());
  Description local{type, std::move(*parsed), text};

  if (is_offer && offered_credentials_ && agent_->local_ufrag() != offered_credentials_->first) {
    agent_->Restart(now_, offered_credentials_->first, offered_credentials_->second);
    ice_restart_requested_ = false;
    gathering_complete_ = false;
    local_candidates_.clear();
  }
  offered_credentials_.reset();
  if (!gathering_started_ && !msections_.empty()) {
    gathering_started_ = true;
    agent_->StartGathering(now_);
  }
  if (is_offer) {
    pending_local_ = std::move(local);
    SetSignalingState(SignalingState::kHaveLocalOffer);
  } else {
    // Our answer fixes the DTLS role (RFC 8842 §5.3).
    for (const auto& m : local.model.media) {
      if (m.IsRejected() || !m.setup) continue;
      EnsureDtls(now_, *m.setup == sdp::Setup::kActive ? dtls::Role::kClient : dtls::Role::kServer);
      break;
    }
    EnsureSctp(now_);
    if (type == SdpType::kAnswer) {
      current_local_ = std::move(local);
      current_remote_ = std::move(pending_remote_);
      pending_remote_.reset();
      pending_local_.reset();
      ApplyNegotiatedMedia();
      SetSignalingState(SignalingState::kStable);
    } else {
      pending_local_ = std::move(local);
      SetSignalingState(SignalingState::kHaveLocalPranswer);
    }
  }
  Pump(now_);
  return std::nullopt;
}

JsepStatus PeerCore::SetRemoteDescription(Timestamp now, SdpType type, const std::string& text) {
  now_ = std::max(now_, now);
  if (closed_) return Err("InvalidStateError", "the connection is closed");
  if (type == SdpType::kRollback) {
    if (signaling_state_ != SignalingState::kHaveRemoteOffer)
      return Err("InvalidStateError", "nothing to roll back");
    pending_remote_.reset();
    const size_t keep = current_local_ ? current_local_->model.media.size() : 0;
    if (msections_.size() > keep) msections_.resize(keep);
    ForgetUnusedMids();
    SetSignalingState(SignalingState::kStable);
    Pump(now_);
    return std::nullopt;
  }
  const bool is_offer = type == SdpType::kOffer;
  if (is_offer) {
    if (signaling_state_ == SignalingState::kHaveLocalOffer) {
      // W3C setRemoteDescription(offer) in have-local-offer rolls our offer back first (perfect negotiation).
      (void)SetLocalDescription(now_, SdpType::kRollback, "");
    }
    if (signaling_state_ != SignalingState::kStable && signaling_state_ != SignalingState::kHaveRemoteOffer) {
      return Err("InvalidStateError", "cannot set a remote offer in this signaling state");
    }
  } else if (signaling_state_ != SignalingState::kHaveLocalOffer &&
             signaling_state_ != SignalingState::kHaveRemotePranswer) {
    return Err("InvalidStateError", "cannot set a remote answer without a local offer");
  }
  auto parsed = sdp::Parse(text);
  if (!parsed) return Err("OperationError", "invalid SDP: " + parsed.error().ToString());
  if (JsepStatus error = ApplyRemote(now_, *parsed, type)) return error;
  Description remote{type, std::move(*parsed), text};
  if (is_offer) {
    pending_remote_ = std::move(remote);
    SetSignalingState(SignalingState::kHaveRemoteOffer);
  } else if (type == SdpType::kAnswer) {
    current_remote_ = std::move(remote);
    current_local_ = std::move(pending_local_);
    pending_local_.reset();
    pending_remote_.reset();
    ApplyNegotiatedMedia();
    SetSignalingState(SignalingState::kStable);
  } else {
    pending_remote_ = std::move(remote);
    SetSignalingState(SignalingState::kHaveRemotePranswer);
  }
  Pump(now_);
  return std::nullopt;
}

JsepStatus PeerCore::ApplyRemote(Timestamp now, const sdp::SessionDescription& remote, SdpType type) {
  const bool is_offer = type == SdpType::kOffer;
  // m= sections: an offer may add sections, never remove or reorder them (RFC 8829 §5.10); an answer has
  // exactly the offer's.
  const size_t committed = current_local_ ? current_local_->model.media.size() : 0;
  if (is_offer && msections_.size() > committed) msections_.resize(committed);
  if (!is_offer && remote.media.size() != msections_.size()) {
    return Err("InvalidAccessError", "the answer does not have the offer's m= sections");
  }
  if (is_offer && remote.media.size() < msections_.size()) {
    return Err("InvalidAccessError", "the offer removed m= sections");
  }
  std::vector<MSection> sections = msections_;
  for (size_t i = 0; i < remote.media.size(); ++i) {
    const sdp::MediaDescription& m = remote.media[i];
    const bool is_media = (m.type == sdp::MediaType::kAudio || m.type == sdp::MediaType::kVideo) && m.IsRtp();
    if (i < sections.size()) {
      if (!sections[i].mid.empty() && sections[i].mid != m.mid) {
        return Err("InvalidAccessError", "m= section " + std::to_string(i) + " changed its mid");
      }
      sections[i].remote = m;
      if (m.IsRejected()) sections[i].rejected = true;
      if (is_offer && is_media && !m.IsRejected() && sections[i].transceiver) {
        // A re-offer of a section: still something in common?
        sdp::MediaDescription probe;
        probe.type = m.type;
        sections[i].rejected = !AnswerMedia(m, probe);
      }
      continue;
    }
    if (!is_offer) return Err("InvalidAccessError", "the answer has more m= sections than the offer");
    if (m.mid.empty()) return Err("InvalidAccessError", "m= section " + std::to_string(i) + " has no a=mid");
    MSection s;
    s.mid = m.mid;
    s.type = m.type;
    s.proto = m.proto;
    s.remote = m;
    const bool have_data = std::any_of(sections.begin(), sections.end(), [](const MSection& x) {
      return x.type == sdp::MediaType::kApplication && !x.rejected;
    });
    const bool data = m.type == sdp::MediaType::kApplication && m.IsSctp() && !have_data;
    bool media_ok = false;
    if (is_media) {
      sdp::MediaDescription probe;
      probe.type = m.type;
      media_ok = AnswerMedia(m, probe);
    }
    s.rejected = m.IsRejected() || !(data || media_ok);
    if (is_media && !s.rejected) {
      // W3C setRemoteDescription: associate a transceiver that addTrack created and that has no mid yet, of
      // the same kind; otherwise create one (recvonly).
      Transceiver* t = nullptr;
      for (Transceiver& candidate : transceivers_) {
        if (!candidate.state.mid && !candidate.state.stopped && candidate.state.kind == m.type &&
            candidate.track && !candidate.created_by_remote) {
          t = &candidate;
          break;
        }
      }
      if (!t) {
        AddTransceiver(m.type, sdp::Direction::kRecvOnly, std::nullopt);
        t = &transceivers_.back();
        t->created_by_remote = true;
      }
      t->state.mid = m.mid;
      s.transceiver = t->state.id;
    }
    sections.push_back(std::move(s));
  }
  for (size_t i = 0; i < remote.media.size(); ++i) {
    if (!sections[i].transceiver) continue;
    if (!sections[i].rejected) {
      ApplyRemoteMedia(sections[i], remote.media[i], is_offer);
      continue;
    }
    // The peer rejected (port 0) a section: its transceiver is stopped and its remote track ends (JSEP
    // §5.10).
    Transceiver& t = transceivers_[*sections[i].transceiver - 1];
    if (remote.media[i].IsRejected()) {
      t.state.stopped = true;
      t.state.direction = sdp::Direction::kInactive;
    }
    if (t.receiving) {
      t.receiving = false;
      Emit(TrackEndedEvent{t.state.id});
    }
  }
  // The transport: the first section we take part in (with BUNDLE, every section carries the same ICE and
  // DTLS parameters).
  const sdp::MediaDescription* transport = nullptr;
  for (size_t i = 0; i < remote.media.size(); ++i) {
    if (!sections[i].rejected) {
      transport = &remote.media[i];
      break;
    }
  }
  msections_ = std::move(sections);
  if (!transport) return std::nullopt;  // nothing to connect (yet)

  const sdp::IceParameters ice_params = sdp::GetIceParameters(remote, *transport);
  if (ice_params.ufrag.empty() || ice_params.pwd.empty()) {
    return Err("InvalidAccessError", "the description has no a=ice-ufrag/a=ice-pwd");
  }
  const auto fingerprints = sdp::GetFingerprints(remote, *transport);
  if (fingerprints.empty()) return Err("InvalidAccessError", "the description has no a=fingerprint");
  const std::optional<sdp::Setup> setup = sdp::GetSetup(remote, *transport);

  // ICE role (RFC 8445 §6.1.1): the offerer controls, unless one side is lite (the full agent controls).
  ice::Role role = is_offer ? ice::Role::kControlled : ice::Role::kControlling;
  if (ice_params.lite && !config_.ice_lite) role = ice::Role::kControlling;
  EnsureAgent(now, role);
  if (Status s = agent_->SetRemoteCredentials(now, ice_params.ufrag, ice_params.pwd); !s.ok()) {
    return Err("InvalidAccessError", std::string("bad ICE credentials: ") + s.error().reason);
  }
  // Gathering starts with our own description (W3C setLocalDescription): candidates trickled before the
  // answer would reach an offerer that cannot add them yet.
  remote_ufrag_ = ice_params.ufrag;
  for (const std::string& line : transport->candidates) {
    auto c = ice::Candidate::Parse(line);
    if (c.ok()) (void)agent_->AddRemoteCandidate(now, *c);
  }
  if (transport->end_of_candidates || remote.end_of_candidates) agent_->SetRemoteEndOfCandidates(now);

  // DTLS (RFC 8842): in an answer, a=setup decides our role; an offer's is decided by our answer.
  if (!is_offer) {
    if (!setup || *setup == sdp::Setup::kActPass || *setup == sdp::Setup::kHoldConn) {
      if (!dtls_role_) return Err("InvalidAccessError", "the answer must say a=setup:active or passive");
    } else if (!dtls_) {
      EnsureDtls(now, *setup == sdp::Setup::kActive ? dtls::Role::kServer : dtls::Role::kClient);
    }
  }
  if (dtls_) dtls_->SetRemoteFingerprints(ToDtls(fingerprints));

  // SCTP (RFC 8841 §5, §6): port and max-message-size (65536 when absent, 0 = no limit).
  if (const MSection* data = DataSection()) {
    for (const auto& m : remote.media) {
      if (m.mid != data->mid) continue;
      remote_sctp_port_ = m.sctp_port.value_or(m.sctpmap ? m.sctpmap->port : 5000);
      remote_max_message_size_ = m.max_message_size ? static_cast<size_t>(*m.max_message_size) : 65536;
      channels_->SetRemoteMaxMessageSize(remote_max_message_size_ ? remote_max_message_size_ : SIZE_MAX);
    }
    if (!is_offer) EnsureSctp(now);
  }
  return std::nullopt;
}

JsepStatus PeerCore::AddIceCandidate(Timestamp now, const std::optional<IceCandidate>& candidate) {
  now_ = std::max(now_, now);
  if (closed_) return Err("InvalidStateError", "the connection is closed");
  if (!pending_remote_ && !current_remote_) {
    return Err("InvalidStateError", "addIceCandidate needs a remote description");
  }
  if (!agent_) return std::nullopt;  // a remote description with nothing to connect
  if (!candidate || candidate->candidate.empty()) {
    agent_->SetRemoteEndOfCandidates(now_);
    Pump(now_);
    return std::nullopt;
  }
  if (candidate->sdp_mid) {
    const bool known = std::any_of(msections_.begin(), msections_.end(),
                                   [&](const MSection& m) { return m.mid == *candidate->sdp_mid; });
    if (!known) return Err("OperationError", "no m= section has mid " + *candidate->sdp_mid);
  } else if (candidate->sdp_mline_index && *candidate->sdp_mline_index >= msections_.size()) {
    return Err("OperationError", "sdpMLineIndex out of range");
  } else if (!candidate->sdp_mline_index) {
    return Err("TypeError", "a candidate needs sdpMid or sdpMLineIndex");
  }
  // A candidate of an earlier ICE generation is ignored (W3C addIceCandidate).
  if (candidate->username_fragment && !candidate->username_fragment->empty() &&
      *candidate->username_fragment != remote_ufrag_) {
    return std::nullopt;
  }
  auto parsed = ice::Candidate::Parse(candidate->candidate);
  if (!parsed.ok()) return Err("OperationError", std::string("bad candidate: ") + parsed.error().reason);
  // Candidates the agent cannot use (ICE-TCP, other components) are dropped and counted, as browsers do.
  (void)agent_->AddRemoteCandidate(now_, *parsed);
  Pump(now_);
  return std::nullopt;
}

void PeerCore::RestartIce(Timestamp now) {
  now_ = std::max(now_, now);
  if (closed_) return;
  ice_restart_requested_ = true;
  MaybeNegotiationNeeded();
}

void PeerCore::Close(Timestamp now) {
  now_ = std::max(now_, now);
  if (closed_) return;
  // RFC 3550 §6.6: BYE for what we send, while the keys and the path still work.
  for (Transceiver& t : transceivers_) {
    if (t.send_stream) media_->RemoveSendStream(now_, *t.send_stream);
    t.send_stream.reset();
  }
  while (auto packet = media_->PollTransmit()) SendOnIce(now_, *packet);
  if (sctp_) sctp_->Abort("peer connection closed");
  if (sctp_ && dtls_ && dtls_->state() == dtls::DtlsState::kConnected) {
    while (auto packet = sctp_->PollTransmit(now_)) (void)dtls_->Send(*packet);
  }
  if (dtls_) dtls_->Close(now_);
  Pump(now_);
  channels_->HandleSctpClosed();
  while (auto e = channels_->PollEvent()) Emit(DataChannelEvent{std::move(*e)});
  if (agent_) {
    agent_->Close(now_);
    while (agent_->PollEvent()) {
    }
  }
  closed_ = true;
  signaling_state_ = SignalingState::kClosed;
  ice_state_ = IceConnectionState::kClosed;
  UpdateConnectionState();
}

std::optional<SessionDescription> PeerCore::local_description() const {
  const Description* d = pending_local_ ? &*pending_local_ : (current_local_ ? &*current_local_ : nullptr);
  if (!d) return std::nullopt;
  sdp::SessionDescription model = d->model;
  // W3C: the local description carries the candidates gathered so far.
  for (auto& m : model.media) {
    if (m.IsRejected()) continue;
    if (agent_ && m.ice_ufrag == agent_->local_ufrag()) {
      for (const auto& c : local_candidates_)
        m.candidates.push_back(c.ToString().substr(10));  // "candidate:"
      m.end_of_candidates = gathering_complete_;
    }
    break;
  }
  return SessionDescription{d->type, sdp::Serialize(model)};
}

std::optional<SessionDescription> PeerCore::remote_description() const {
  const Description* d =
      pending_remote_ ? &*pending_remote_ : (current_remote_ ? &*current_remote_ : nullptr);
  if (!d) return std::nullopt;
  return SessionDescription{d->type, d->text};
}

size_t PeerCore::max_message_size() const {
  if (!current_remote_ && !pending_remote_) return config_.max_message_size;
  return remote_max_message_size_ ? remote_max_message_size_ : SIZE_MAX;
}

void PeerCore::ForgetUnusedMids() {
  for (Transceiver& t : transceivers_) {
    if (!t.state.mid) continue;
    const bool present = std::any_of(msections_.begin(), msections_.end(),
                                     [&](const MSection& m) { return m.mid == *t.state.mid; });
    if (present) continue;
    t.state.mid.reset();
    // W3C rollback: a transceiver the rolled-back remote offer created goes away (we stop it).
    if (t.created_by_remote && !t.ever_sent) {
      t.state.stopped = true;
      if (t.receiving) {
        t.receiving = false;
        Emit(TrackEndedEvent{t.state.id});
      }
    }
  }
}

// --- Media transceivers
// ---------------------------------------------------------------------------------------------------------------

PeerCore::Transceiver* PeerCore::FindTransceiver(TransceiverId id) {
  if (id == 0 || id > transceivers_.size()) return nullptr;
  return &transceivers_[id - 1];
}

std::string PeerCore::NewMid() const {
  for (int n = 0;; ++n) {
    std::string mid = std::to_string(n);
    const bool used =
        std::any_of(msections_.begin(), msections_.end(), [&](const MSection& m) { return m.mid == mid; }) ||
        std::any_of(transceivers_.begin(), transceivers_.end(),
                    [&](const Transceiver& t) { return t.state.mid == mid; });
    if (!used) return mid;
  }
}

TransceiverId PeerCore::AddTransceiver(sdp::MediaType kind, sdp::Direction direction,
                                       std::optional<LocalTrack> track) {
  Transceiver t;
  t.state.id = static_cast<TransceiverId>(transceivers_.size() + 1);
  t.state.kind = kind;
  t.state.direction = direction;
  t.state.has_track = track.has_value();
  t.ever_sent = track.has_value();
  t.track = std::move(track);
  // RFC 3550 §8.1: random SSRCs, distinct within the connection.
  auto fresh = [&](uint32_t avoid) {
    for (;;) {
      const uint32_t ssrc = rng_.NextU32();
      if (ssrc == 0 || ssrc == avoid) continue;
      bool used = false;
      for (const Transceiver& o : transceivers_) used |= o.state.ssrc == ssrc || o.state.rtx_ssrc == ssrc;
      if (!used) return ssrc;
    }
  };
  t.state.ssrc = fresh(0);
  if (kind == sdp::MediaType::kVideo) t.state.rtx_ssrc = fresh(t.state.ssrc);
  transceivers_.push_back(std::move(t));
  MaybeNegotiationNeeded();
  return transceivers_.back().state.id;
}

TransceiverId PeerCore::AddTrack(sdp::MediaType kind, LocalTrack track) {
  // W3C addTrack: a transceiver of this kind that setRemoteDescription created, whose sender never had a
  // track and that is not stopped, is reused (the lazy side of a call puts its tracks into the offered
  // sections).
  for (Transceiver& t : transceivers_) {
    if (t.state.kind != kind || t.state.stopped || t.ever_sent || !t.created_by_remote) continue;
    t.track = std::move(track);
    t.state.has_track = true;
    t.ever_sent = true;
    if (t.state.direction == sdp::Direction::kRecvOnly) t.state.direction = sdp::Direction::kSendRecv;
    if (t.state.direction == sdp::Direction::kInactive) t.state.direction = sdp::Direction::kSendOnly;
    MaybeNegotiationNeeded();
    return t.state.id;
  }
  return AddTransceiver(kind, sdp::Direction::kSendRecv, std::move(track));
}

void PeerCore::SetSenderTrack(TransceiverId id, std::optional<LocalTrack> track) {
  Transceiver* t = FindTransceiver(id);
  if (!t || t->state.stopped) return;
  // W3C replaceTrack: the sender's msid (stream ids and id) stays what was negotiated.
  if (track && t->track) {
    track->track_id = t->track->track_id;
    track->stream_ids = t->track->stream_ids;
  }
  t->state.has_track = track.has_value();
  if (track) t->ever_sent = true;
  t->track = std::move(track);
  ApplyNegotiatedMedia();
}

void PeerCore::RemoveTrack(TransceiverId id) {
  Transceiver* t = FindTransceiver(id);
  if (!t || t->state.stopped || !t->track) return;
  t->track.reset();
  t->state.has_track = false;
  if (t->state.direction == sdp::Direction::kSendRecv) t->state.direction = sdp::Direction::kRecvOnly;
  if (t->state.direction == sdp::Direction::kSendOnly) t->state.direction = sdp::Direction::kInactive;
  ApplyNegotiatedMedia();
  MaybeNegotiationNeeded();
}

void PeerCore::SetDirection(TransceiverId id, sdp::Direction direction) {
  Transceiver* t = FindTransceiver(id);
  if (!t || t->state.stopped || t->state.direction == direction) return;
  t->state.direction = direction;
  MaybeNegotiationNeeded();
}

void PeerCore::StopTransceiver(TransceiverId id) {
  Transceiver* t = FindTransceiver(id);
  if (!t || t->state.stopped) return;
  t->state.stopped = true;
  t->state.direction = sdp::Direction::kInactive;
  t->track.reset();
  t->state.has_track = false;
  if (t->receiving) {
    t->receiving = false;
    Emit(TrackEndedEvent{id});
  }
  // Its m= section is rejected (port 0) in the next offer or answer (JSEP §5.2.2).
  for (MSection& m : msections_) {
    if (m.transceiver == id) m.rejected = true;
  }
  ApplyNegotiatedMedia();
  MaybeNegotiationNeeded();
}

std::vector<PeerCore::TransceiverState> PeerCore::transceivers() const {
  std::vector<TransceiverState> out;
  for (const Transceiver& t : transceivers_) out.push_back(t.state);
  return out;
}

std::optional<PeerCore::TransceiverState> PeerCore::transceiver(TransceiverId id) const {
  if (id == 0 || id > transceivers_.size()) return std::nullopt;
  return transceivers_[id - 1].state;
}

void PeerCore::BuildMediaSection(const MSection& section, bool offer, sdp::MediaDescription& m) const {
  const Transceiver& t = transceivers_[*section.transceiver - 1];
  m.type = section.type;
  if (offer) {
    AddOfferedMedia(m);
    m.direction = t.state.direction;
  } else {
    AnswerMedia(section.remote, m);
    // RFC 8829 §5.3.1: what we want, within what the offer allows.
    const sdp::Direction allowed = t.offered_reversed.value_or(sdp::Direction::kSendRecv);
    const bool send = sdp::Sends(t.state.direction) && sdp::Sends(allowed) && t.track.has_value();
    const bool recv = sdp::Receives(t.state.direction) && sdp::Receives(allowed);
    m.direction = send && recv ? sdp::Direction::kSendRecv
                  : send       ? sdp::Direction::kSendOnly
                  : recv       ? sdp::Direction::kRecvOnly
                               : sdp::Direction::kInactive;
  }
  // RFC 8830 msid and RFC 5576 ssrc lines for what we send (Unified Plan: one track per section).
  if (t.track && sdp::Sends(*m.direction)) {
    const std::string& track_id = t.track->track_id;
    if (t.track->stream_ids.empty()) {
      m.msids.push_back(sdp::Msid{"-", track_id});
    } else {
      for (const std::string& stream : t.track->stream_ids) m.msids.push_back(sdp::Msid{stream, track_id});
    }
    const std::string msid = m.msids.front().stream_id + " " + track_id;
    const bool rtx =
        t.state.rtx_ssrc != 0 && std::any_of(m.rtpmaps.begin(), m.rtpmaps.end(), [](const sdp::RtpMap& r) {
          return r.encoding_name == "rtx" || r.encoding_name == "RTX";
        });
    std::vector<uint32_t> ssrcs = {t.state.ssrc};
    if (rtx) {
      ssrcs.push_back(t.state.rtx_ssrc);
      m.ssrc_groups.push_back(sdp::SsrcGroup{"FID", ssrcs});
    }
    for (uint32_t ssrc : ssrcs) {
      m.ssrcs.push_back(sdp::SsrcAttribute{ssrc, "cname", cname_});
      m.ssrcs.push_back(sdp::SsrcAttribute{ssrc, "msid", msid});
    }
  }
}

void PeerCore::ApplyRemoteMedia(const MSection& section, const sdp::MediaDescription& m, bool is_offer) {
  Transceiver& t = transceivers_[*section.transceiver - 1];
  const sdp::Direction direction = m.direction.value_or(sdp::Direction::kSendRecv);
  t.remote_direction = direction;
  if (is_offer) t.offered_reversed = sdp::Reverse(direction);
  t.remote_stream_ids.clear();
  t.remote_track_id.clear();
  for (const sdp::Msid& msid : m.msids) {
    if (msid.stream_id != "-") t.remote_stream_ids.push_back(msid.stream_id);
    t.remote_track_id = msid.track_id;
  }
  // SSRCs: the FID group orders media then RTX (RFC 4588 §8.3); otherwise every a=ssrc.
  t.state.remote_ssrcs.clear();
  for (const sdp::SsrcGroup& g : m.ssrc_groups) {
    if (g.semantics == "FID") t.state.remote_ssrcs = g.ssrcs;
  }
  if (t.state.remote_ssrcs.empty()) t.state.remote_ssrcs = m.Ssrcs();
  // W3C "process the addition/removal of a remote track", from the peer's direction.
  if (sdp::Sends(direction) && !t.receiving && !t.state.stopped) {
    t.receiving = true;
    Emit(TrackAddedEvent{t.state.id, t.state.kind, t.remote_stream_ids, t.remote_track_id});
  } else if (!sdp::Sends(direction) && t.receiving) {
    t.receiving = false;
    Emit(TrackEndedEvent{t.state.id});
  }
}

void PeerCore::ApplyNegotiatedMedia() {
  if (!current_local_ || !current_remote_) return;
  // The answer holds what both sides agreed on.
  const bool we_answered = current_local_->type == SdpType::kAnswer;
  const sdp::SessionDescription& answer = we_answered ? current_local_->model : current_remote_->model;
  for (size_t i = 0; i < msections_.size() && i < answer.media.size(); ++i) {
    const MSection& section = msections_[i];
    if (!section.transceiver) continue;
    Transceiver& t = transceivers_[*section.transceiver - 1];
    const sdp::MediaDescription& agreed = answer.media[i];
    if (section.rejected || agreed.IsRejected()) {
      t.state.current_direction.reset();
      t.state.codecs.clear();
      if (agreed.IsRejected()) t.state.stopped = true;
      if (t.receiving) {
        t.receiving = false;
        Emit(TrackEndedEvent{t.state.id});
      }
      continue;
    }
    const sdp::Direction answered = agreed.direction.value_or(sdp::Direction::kSendRecv);
    // Our direction: the answer's as it is when we answered, reversed when the peer did.
    t.state.current_direction = we_answered ? answered : sdp::Reverse(answered);
    if (we_answered) t.answered_direction = answered;
    t.state.codecs = NegotiatedCodecs(agreed);
    t.state.extensions = NegotiatedExtensionIds(agreed);
  }
  ConfigureMediaStreams();
}

namespace {

session::Codec ToSessionCodec(const NegotiatedCodec& c) {
  session::Codec out;
  out.payload_type = c.payload_type;
  out.name = c.name;
  out.clock_rate = c.clock_rate;
  out.channels = c.channels;
  out.rtx_payload_type = c.rtx_payload_type;
  out.fmtp = c.fmtp;
  out.nack = c.nack;
  out.pli = c.pli;
  out.fir = c.fir;
  out.transport_cc = c.transport_cc;
  out.remb = c.remb;
  return out;
}

bool SameCodec(const session::Codec& a, const session::Codec& b) {
  return a.payload_type == b.payload_type && a.name == b.name && a.rtx_payload_type == b.rtx_payload_type &&
         a.nack == b.nack && a.pli == b.pli && a.fir == b.fir && a.transport_cc == b.transport_cc &&
         a.remb == b.remb;
}

bool SameReceive(const session::ReceiveStreamConfig& a, const session::ReceiveStreamConfig& b) {
  if (a.mid != b.mid || a.ssrcs != b.ssrcs || a.rtx_ssrc != b.rtx_ssrc ||
      a.codecs.size() != b.codecs.size()) {
    return false;
  }
  for (size_t i = 0; i < a.codecs.size(); ++i) {
    if (!SameCodec(a.codecs[i], b.codecs[i])) return false;
  }
  return true;
}

}  // namespace

void PeerCore::ConfigureMediaStreams() {
  // RFC 8843 §9.1: one extension id space for the BUNDLE group; the first negotiated media section's ids.
  for (const Transceiver& t : transceivers_) {
    if (t.state.current_direction && !t.state.codecs.empty()) {
      const NegotiatedExtensions& e = t.state.extensions;
      session::Extensions ext;
      ext.mid = e.mid;
      ext.rid = e.rid;
      ext.repaired_rid = e.repaired_rid;
      ext.abs_send_time = e.abs_send_time;
      ext.transport_cc = e.transport_cc;
      ext.audio_level = e.audio_level;
      ext.video_orientation = e.video_orientation;
      media_->SetExtensions(ext);
      break;
    }
  }
  for (Transceiver& t : transceivers_) {
    const bool negotiated = t.state.current_direction.has_value() && !t.state.stopped && t.state.mid;
    const session::MediaKind kind =
        t.state.kind == sdp::MediaType::kAudio ? session::MediaKind::kAudio : session::MediaKind::kVideo;
    // Send: a negotiated direction that sends, a track, and a codec we can send (the answer's first such).
    std::optional<session::Codec> send_codec;
    if (negotiated && sdp::Sends(*t.state.current_direction) && t.track) {
      for (const NegotiatedCodec& c : t.state.codecs) {
        if (CanSend(c.name)) {
          send_codec = ToSessionCodec(c);
          break;
        }
      }
    }
    if (!send_codec && t.send_stream) {
      media_->RemoveSendStream(now_, *t.send_stream);
      t.send_stream.reset();
      t.send_codec.reset();
    } else if (send_codec && !t.send_stream) {
      session::SendStreamConfig config;
      config.kind = kind;
      config.mid = *t.state.mid;
      config.ssrc = t.state.ssrc;
      if (t.state.rtx_ssrc) config.rtx_ssrc = t.state.rtx_ssrc;
      config.codec = *send_codec;
      config.cname = cname_;
      auto id = media_->AddSendStream(config);
      if (id.ok()) {
        t.send_stream = *id;
        t.send_codec = send_codec;
      } else {
        LOG_WARN(kLog, "cannot send on mid " << *t.state.mid << ": " << id.error().reason);
      }
    } else if (send_codec && t.send_stream && !SameCodec(*send_codec, *t.send_codec)) {
      (void)media_->UpdateSendCodec(*t.send_stream, *send_codec);
      t.send_codec = send_codec;
    }
    // Receive: a negotiated direction that receives, with the codecs we can assemble.
    std::optional<session::ReceiveStreamConfig> receive;
    if (negotiated && sdp::Receives(*t.state.current_direction)) {
      session::ReceiveStreamConfig config;
      config.kind = kind;
      config.mid = *t.state.mid;
      for (const NegotiatedCodec& c : t.state.codecs) {
        if (CanReceive(c.name)) config.codecs.push_back(ToSessionCodec(c));
      }
      if (!t.state.remote_ssrcs.empty()) config.ssrcs.push_back(t.state.remote_ssrcs[0]);
      if (t.state.remote_ssrcs.size() > 1) config.rtx_ssrc = t.state.remote_ssrcs[1];
      if (!config.codecs.empty()) receive = std::move(config);
    }
    if (t.receive_stream && (!receive || !SameReceive(*receive, *t.receive_config))) {
      media_->RemoveReceiveStream(*t.receive_stream);
      t.receive_stream.reset();
      t.receive_config.reset();
    }
    if (receive && !t.receive_stream) {
      auto id = media_->AddReceiveStream(*receive);
      if (id.ok()) {
        t.receive_stream = *id;
        t.receive_config = std::move(receive);
      } else {
        LOG_WARN(kLog, "cannot receive on mid " << *t.state.mid << ": " << id.error().reason);
      }
    }
  }
}

Status PeerCore::SendMediaFrame(Timestamp now, TransceiverId id, const session::EncodedFrame& frame) {
  now_ = std::max(now_, now);
  Transceiver* t = FindTransceiver(id);
  if (!t || !t->send_stream) return MakeError(ErrorCode::kUnavailable, "the transceiver does not send");
  Status s = media_->SendFrame(now_, *t->send_stream, frame);
  Pump(now_);
  return s;
}

void PeerCore::ReportDecodeError(Timestamp now, TransceiverId id) {
  now_ = std::max(now_, now);
  Transceiver* t = FindTransceiver(id);
  if (!t || !t->receive_stream) return;
  media_->ReportDecodeError(now_, *t->receive_stream);
  Pump(now_);
}

void PeerCore::HandleMediaEvent(session::Event event) {
  auto by_receive = [&](session::StreamId stream) -> Transceiver* {
    for (Transceiver& t : transceivers_) {
      if (t.receive_stream == stream) return &t;
    }
    return nullptr;
  };
  auto by_send = [&](session::StreamId stream) -> Transceiver* {
    for (Transceiver& t : transceivers_) {
      if (t.send_stream == stream) return &t;
    }
    return nullptr;
  };
  if (auto* v = std::get_if<session::VideoFrameReceived>(&event)) {
    if (Transceiver* t = by_receive(v->stream)) {
      MediaFrameEvent out;
      out.transceiver = t->state.id;
      out.is_video = true;
      out.data.assign(v->frame.data.begin(), v->frame.data.end());
      out.video = v->frame;
      out.video.data = {};
      Emit(std::move(out));
    }
  } else if (auto* a = std::get_if<session::AudioFrameReceived>(&event)) {
    if (Transceiver* t = by_receive(a->stream)) {
      MediaFrameEvent out;
      out.transceiver = t->state.id;
      out.is_video = false;
      out.data.assign(a->playout.payload.begin(), a->playout.payload.end());
      out.audio = a->playout;
      out.audio.payload = {};
      Emit(std::move(out));
    }
  } else if (auto* k = std::get_if<session::KeyFrameRequested>(&event)) {
    if (Transceiver* t = by_send(k->stream)) Emit(KeyFrameRequestEvent{t->state.id});
  } else if (auto* b = std::get_if<session::TargetBitrateChanged>(&event)) {
    for (const auto& [stream, bps] : b->allocation) {
      if (Transceiver* t = by_send(stream)) Emit(TargetBitrateEvent{t->state.id, bps});
    }
  }
}

// --- Data channels
// --------------------------------------------------------------------------------------------

JsepResult<datachannel::ChannelHandle> PeerCore::CreateDataChannel(const datachannel::ChannelInit& init) {
  if (closed_) return Err("InvalidStateError", "the connection is closed");
  Result<datachannel::ChannelHandle> handle = channels_->Create(init);
  if (!handle.ok()) {
    const char* name = handle.error().code == ErrorCode::kAlreadyExists ? "OperationError" : "TypeError";
    if (handle.error().code == ErrorCode::kLimitExceeded) name = "OperationError";
    return Err(name, handle.error().reason);
  }
  if (sctp_ && sctp_->state() == sctp::State::kEstablished) channels_->HandleSctpConnected();
  MaybeNegotiationNeeded();
  Pump(now_);
  return *handle;
}

Status PeerCore::SendData(datachannel::ChannelHandle handle, ByteSpan data, bool binary) {
  Status s = channels_->Send(handle, data, binary);
  if (s.ok()) Pump(now_);
  return s;
}

void PeerCore::CloseDataChannel(datachannel::ChannelHandle handle) {
  channels_->Close(handle);
  Pump(now_);
}

void PeerCore::SetBufferedAmountLowThreshold(datachannel::ChannelHandle handle, size_t bytes) {
  channels_->SetBufferedAmountLowThreshold(handle, bytes);
}

const datachannel::ChannelInfo* PeerCore::FindDataChannel(datachannel::ChannelHandle handle) const {
  return channels_->Find(handle);
}

size_t PeerCore::buffered_amount(datachannel::ChannelHandle handle) const {
  return channels_->buffered_amount(handle);
}

// --- Stats
// ----------------------------------------------------------------------------------------------------

StatsReport PeerCore::GetStats(Timestamp now, double wall_ms) const {
  StatsReport report;
  auto add = [&](std::string id, std::string type) -> RtcStats& {
    RtcStats& s = report.stats[id];
    s.id = std::move(id);
    s.type = std::move(type);
    s.timestamp_ms = wall_ms;
    return s;
  };
  const auto& cstats = channels_->stats();
  RtcStats& pc = add("P", "peer-connection");
  pc.members["dataChannelsOpened"] = cstats.channels_opened;
  pc.members["dataChannelsClosed"] = cstats.channels_closed;

  const dtls::Fingerprint fp = config_.certificate.GetFingerprint();
  RtcStats& cert = add("CF-local", "certificate");
  cert.members["fingerprint"] = fp.ValueString();
  cert.members["fingerprintAlgorithm"] = fp.algorithm;

  RtcStats& transport = add("T01", "transport");
  transport.members["dtlsState"] = std::string(DtlsStateName(dtls_.get()));
  transport.members["iceState"] = std::string(ToString(ice_state_));
  transport.members["localCertificateId"] = std::string("CF-local");
  if (dtls_) {
    transport.members["dtlsRole"] = std::string(dtls_->role() == dtls::Role::kClient ? "client" : "server");
    if (auto n = dtls_->negotiated()) {
      transport.members["tlsVersion"] = std::string("FEFD");
      transport.members["dtlsCipher"] = n->cipher_suite;
    }
  }
  if (agent_) {
    const ice::Stats ice = agent_->GetStats();
    transport.members["iceRole"] =
        std::string(ice.role == ice::Role::kControlling ? "controlling" : "controlled");
    transport.members["iceLocalUsernameFragment"] = agent_->local_ufrag();
    uint64_t bytes_sent = 0, bytes_received = 0, packets_sent = 0, packets_received = 0;
    auto candidate_stats = [&](const ice::CandidateStats& c, bool local) {
      RtcStats& s = add("I" + c.id, local ? "local-candidate" : "remote-candidate");
      s.members["transportId"] = std::string("T01");
      s.members["address"] =
          c.candidate.HasHostname() ? c.candidate.hostname : c.candidate.address.ip().ToString();
      s.members["port"] = static_cast<int64_t>(c.candidate.address.port());
      s.members["protocol"] = c.candidate.transport;
      s.members["candidateType"] = std::string(ice::ToString(c.candidate.type));
      s.members["priority"] = static_cast<int64_t>(c.candidate.priority);
      s.members["foundation"] = c.candidate.foundation;
      if (!c.relay_protocol.empty()) s.members["relayProtocol"] = c.relay_protocol;
    };
    for (const auto& c : ice.local_candidates) candidate_stats(c, true);
    for (const auto& c : ice.remote_candidates) candidate_stats(c, false);
    for (const auto& p : ice.pairs) {
      const std::string id = "CP" + p.local_candidate_id + "_" + p.remote_candidate_id;
      RtcStats& s = add(id, "candidate-pair");
      s.members["transportId"] = std::string("T01");
      s.members["localCandidateId"] = "I" + p.local_candidate_id;
      s.members["remoteCandidateId"] = "I" + p.remote_candidate_id;
      s.members["state"] = std::string(PairStateName(p.state));
      s.members["nominated"] = p.nominated;
      s.members["selected"] = p.selected;  // not W3C (removed from the spec), as Chromium still reports it
      s.members["priority"] = p.priority;
      s.members["packetsSent"] = p.packets_sent;
      s.members["packetsReceived"] = p.packets_received;
      s.members["bytesSent"] = p.bytes_sent;
      s.members["bytesReceived"] = p.bytes_received;
      s.members["requestsSent"] = p.requests_sent;
      s.members["requestsReceived"] = p.requests_received;
      s.members["responsesSent"] = p.responses_sent;
      s.members["responsesReceived"] = p.responses_received;
      s.members["consentRequestsSent"] = p.consent_requests_sent;
      s.members["currentRoundTripTime"] = static_cast<double>(p.current_round_trip_time.us()) / 1e6;
      s.members["totalRoundTripTime"] = static_cast<double>(p.total_round_trip_time.us()) / 1e6;
      bytes_sent += p.bytes_sent;
      bytes_received += p.bytes_received;
      packets_sent += p.packets_sent;
      packets_received += p.packets_received;
      if (p.selected) transport.members["selectedCandidatePairId"] = id;
    }
    transport.members["bytesSent"] = bytes_sent;
    transport.members["bytesReceived"] = bytes_received;
    transport.members["packetsSent"] = packets_sent;
    transport.members["packetsReceived"] = packets_received;
  }
  if (sctp_) {
    // Not in W3C webrtc-stats; Tandem's view of the SCTP association, under its own type.
    const sctp::Stats s = sctp_->stats();
    RtcStats& st = add("SCTP", "sctp-transport");
    st.members["transportId"] = std::string("T01");
    st.members["state"] = std::string(sctp::ToString(sctp_->state()));
    st.members["smoothedRoundTripTime"] = static_cast<double>(s.rtt_us) / 1e6;
    st.members["congestionWindow"] = s.cwnd;
    st.members["receiverWindow"] = s.peer_rwnd;
    st.members["retransmissions"] = s.retransmissions_t3 + s.retransmissions_fast;
    st.members["packetsSent"] = s.packets_sent;
    st.members["packetsReceived"] = s.packets_received;
    st.members["unackData"] = s.outstanding_chunks;
  }
  // RTP streams (W3C RTCOutboundRtpStreamStats / RTCInboundRtpStreamStats names).
  const session::Stats media = media_->GetStats();
  for (const session::OutboundRtpStats& o : media.outbound) {
    RtcStats& st = add("OT" + std::to_string(o.ssrc), "outbound-rtp");
    st.members["kind"] = std::string(o.kind == session::MediaKind::kAudio ? "audio" : "video");
    st.members["mid"] = o.mid;
    st.members["ssrc"] = static_cast<int64_t>(o.ssrc);
    st.members["transportId"] = std::string("T01");
    st.members["mimeType"] =
        std::string(o.kind == session::MediaKind::kAudio ? "audio/" : "video/") + o.codec;
    st.members["packetsSent"] = o.packets_sent;
    st.members["bytesSent"] = o.bytes_sent;
    st.members["headerBytesSent"] = o.header_bytes_sent;
    st.members["framesEncoded"] = o.frames_encoded;
    st.members["keyFramesEncoded"] = o.key_frames_encoded;
    st.members["nackCount"] = o.nack_count;
    st.members["pliCount"] = o.pli_count;
    st.members["firCount"] = o.fir_count;
    st.members["retransmittedPacketsSent"] = o.retransmitted_packets_sent;
    st.members["retransmittedBytesSent"] = o.retransmitted_bytes_sent;
    st.members["targetBitrate"] = static_cast<double>(o.target_bitrate_bps);
    if (o.remote.valid) {
      RtcStats& r = add("RI" + std::to_string(o.ssrc), "remote-inbound-rtp");
      r.members["ssrc"] = static_cast<int64_t>(o.ssrc);
      r.members["kind"] = st.members["kind"];
      r.members["localId"] = st.id;
      r.members["fractionLost"] = o.remote.fraction_lost;
      r.members["packetsLost"] = o.remote.packets_lost;
      r.members["jitter"] = o.remote.jitter_seconds;
      if (o.remote.round_trip_time) {
        r.members["roundTripTime"] = static_cast<double>(o.remote.round_trip_time->us()) / 1e6;
      }
    }
  }
  for (const session::InboundRtpStats& in : media.inbound) {
    RtcStats& st = add("IT" + std::to_string(in.stream), "inbound-rtp");
    st.members["kind"] = std::string(in.kind == session::MediaKind::kAudio ? "audio" : "video");
    st.members["mid"] = in.mid;
    st.members["ssrc"] = static_cast<int64_t>(in.ssrc);
    st.members["transportId"] = std::string("T01");
    st.members["mimeType"] =
        std::string(in.kind == session::MediaKind::kAudio ? "audio/" : "video/") + in.codec;
    st.members["packetsReceived"] = in.packets_received;
    st.members["packetsLost"] = in.packets_lost;
    st.members["bytesReceived"] = in.bytes_received;
    st.members["jitter"] = in.jitter_seconds;
    st.members["framesReceived"] = in.frames_received;
    st.members["keyFramesReceived"] = in.key_frames_received;
    st.members["framesDropped"] = in.frames_dropped;
    st.members["nackCount"] = in.nack_count;
    st.members["pliCount"] = in.pli_count;
    st.members["firCount"] = in.fir_count;
    st.members["retransmittedPacketsReceived"] = in.retransmitted_packets_received;
    st.members["retransmittedBytesReceived"] = in.retransmitted_bytes_received;
    st.members["packetsDiscarded"] = in.packets_discarded;
    st.members["jitterBufferDelay"] = static_cast<double>(in.jitter_buffer_delay.us()) / 1e6;
    st.members["jitterBufferEmittedCount"] = in.jitter_buffer_emitted_count;
    st.members["concealmentEvents"] = in.concealment_events;
  }
  if (media.transport.available_outgoing_bitrate > 0) {
    transport.members["availableOutgoingBitrate"] =
        static_cast<double>(media.transport.available_outgoing_bitrate);
  }
  for (datachannel::ChannelHandle h : channels_->handles()) {
    const datachannel::ChannelInfo* info = channels_->Find(h);
    RtcStats& s = add("D" + std::to_string(h), "data-channel");
    s.members["label"] = info->init.label;
    s.members["protocol"] = info->init.protocol;
    if (info->id) s.members["dataChannelIdentifier"] = static_cast<int64_t>(*info->id);
    s.members["state"] = std::string(datachannel::ToString(info->state));
    s.members["messagesSent"] = info->messages_sent;
    s.members["bytesSent"] = info->bytes_sent;
    s.members["messagesReceived"] = info->messages_received;
    s.members["bytesReceived"] = info->bytes_received;
  }
  (void)now;
  return report;
}

}  // namespace tandem::peer
