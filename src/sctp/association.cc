#include "sctp/association.h"

#include <algorithm>

#include "core/log.h"

namespace tandem::sctp {
namespace {

constexpr const char* kLog = "sctp";
// Largest number of streams named in one RE-CONFIG request (keeps the chunk well inside any sane MTU).
constexpr size_t kMaxStreamsPerResetRequest = 256;
// Bounds on queued output when the peer provokes replies faster than the application polls.
constexpr size_t kMaxQueuedPackets = 64;

uint32_t NonZeroRandom(Rng& rng) {
  uint32_t v = 0;
  while (v == 0) v = rng.NextU32();
  return v;
}

}  // namespace

const char* ToString(State state) {
  switch (state) {
    case State::kClosed:
      return "closed";
    case State::kCookieWait:
      return "cookie-wait";
    case State::kCookieEchoed:
      return "cookie-echoed";
    case State::kEstablished:
      return "established";
    case State::kShutdownPending:
      return "shutdown-pending";
    case State::kShutdownSent:
      return "shutdown-sent";
    case State::kShutdownReceived:
      return "shutdown-received";
    case State::kShutdownAckSent:
      return "shutdown-ack-sent";
  }
  return "?";
}

Association::Association(const Options& options, Rng& rng)
    : options_(options),
      rng_(rng),
      rto_(options.rto_initial, options.rto_min, options.rto_max),
      send_queue_(options.max_send_buffer,
                  [this](uint16_t stream) { EmitEvent(BufferedAmountLowEvent{stream}); }),
      rtx_(send_queue_),
      reassembly_(options.max_message_size, [this](Message&& m) { OnMessageReassembled(std::move(m)); }) {
  // Sanity limits: a packet must hold a DATA chunk with some payload; the receive buffer must hold a message.
  options_.mtu = std::clamp<size_t>(options_.mtu, 256, kMaxPacketSize);
  options_.max_receive_buffer = std::max(options_.max_receive_buffer, options_.max_message_size);
  options_.max_receive_buffer = std::min<size_t>(options_.max_receive_buffer, 0x7fffffff);
  if (options_.announced_streams == 0) options_.announced_streams = 1;
  rng_.Fill(cookie_key_);
  last_advertised_rwnd_ = static_cast<uint32_t>(options_.max_receive_buffer);
}

// ===================================================================================================================
// Public API
// ===================================================================================================================

void Association::Connect(Timestamp now) {
  if (state_ != State::kClosed) return;
  ResetAssociationState();
  my_tag_ = NonZeroRandom(rng_);
  my_initial_tsn_ = rng_.NextU32();
  state_ = State::kCookieWait;
  t1_init_.expirations = 0;
  SendInit(now);
  t1_init_.Start(now, options_.rto_initial);
}

Status Association::Send(Timestamp now, uint16_t stream, uint32_t ppid, ByteSpan payload,
                         const SendOptions& options) {
  switch (state_) {
    case State::kClosed:
      if (used_) return MakeError(ErrorCode::kUnavailable, "association closed");
      break;
    case State::kCookieWait:
    case State::kCookieEchoed:
    case State::kEstablished:
      break;
    default:
      return MakeError(ErrorCode::kUnavailable, "association shutting down");
  }
  const uint16_t limit = outbound_streams_ != 0 ? outbound_streams_ : options_.announced_streams;
  if (stream >= limit) return MakeError(ErrorCode::kInvalidArgument, "stream id beyond negotiated streams");
  if (closing_streams_.count(stream) != 0) return MakeError(ErrorCode::kUnavailable, "stream is being reset");
  return send_queue_.Add(now, stream, ppid, payload, options);
}

Status Association::ResetStreams(std::span<const uint16_t> outgoing_streams) {
  if (state_ != State::kEstablished) return MakeError(ErrorCode::kUnavailable, "association not established");
  if (!reconfig_supported_) return MakeError(ErrorCode::kUnsupported, "peer does not support RE-CONFIG");
  for (uint16_t s : outgoing_streams) {
    if (closing_streams_.insert(s).second) streams_to_reset_.push_back(s);
  }
  return OkStatus();
}

void Association::Shutdown(Timestamp now) {
  switch (state_) {
    case State::kClosed:
      return;
    case State::kCookieWait:
    case State::kCookieEchoed:
      // Nothing to flush yet: §9.2 starts from ESTABLISHED. Tell the peer we are gone if it knows us.
      if (tcb_) {
        AbortChunk abort;
        abort.causes.push_back(ErrorCause::UserInitiatedAbort("shutdown before established"));
        std::vector<uint8_t> bytes;
        ByteWriter w(bytes);
        abort.SerializeTo(w);
        QueuePacket(peer_tag_, bytes);
      }
      CloseWithEvent(ClosedEvent{});
      return;
    case State::kEstablished:
      // §9.2: SHUTDOWN-PENDING until all outstanding data is acknowledged.
      state_ = State::kShutdownPending;
      MaybeProgressShutdown(now);
      return;
    default:
      return;
  }
}

void Association::Abort(std::string_view reason) {
  if (state_ == State::kClosed) return;
  if (state_ == State::kCookieWait) {
    // The peer does not know our association yet (no tag to address an ABORT to).
    CloseWithEvent(AbortedEvent{std::string(reason), false});
    return;
  }
  AbortWithCause(ErrorCause::UserInitiatedAbort(reason), std::string(reason));
}

std::optional<Event> Association::PollEvent() {
  if (events_.empty()) return std::nullopt;
  Event e = std::move(events_.front());
  events_.pop_front();
  if (auto* m = std::get_if<MessageReceivedEvent>(&e)) {
    pending_event_bytes_ -= m->message.payload.size();
    // §6.2: tell the peer promptly when the window opens up again after it was (nearly) closed.
    if (tcb_ && last_advertised_rwnd_ < options_.max_receive_buffer / 4 &&
        AdvertisedReceiveWindow() >= options_.max_receive_buffer / 2) {
      sack_now_ = true;
    }
  }
  return e;
}

Timestamp Association::PollTimeout() const {
  Timestamp t = Timestamp::Infinity();
  for (const Timer* timer : {&t1_init_, &t1_cookie_, &t2_shutdown_, &t3_rtx_, &delayed_ack_,
                             &heartbeat_interval_, &heartbeat_timeout_}) {
    t = std::min(t, timer->deadline);
  }
  if (reset_in_flight_) t = std::min(t, reset_in_flight_->timer.deadline);
  t = std::min(t, reset_retry_at_);
  return t;
}

Stats Association::stats() const {
  Stats s = stats_;
  const auto& c = rtx_.counters();
  s.data_chunks_sent = c.data_chunks_sent;
  s.messages_sent = c.messages_sent;
  s.retransmissions_fast = c.retransmissions_fast;
  s.retransmissions_t3 = c.retransmissions_t3;
  s.abandoned_messages = c.abandoned_messages + send_queue_.expired_messages();
  s.reassembly_bytes = reassembly_.buffered_bytes();
  s.rtt_us = rto_.has_measurement() ? static_cast<uint64_t>(rto_.srtt().us()) : 0;
  s.rto_us = static_cast<uint64_t>(rto_.rto().us());
  s.cwnd = rtx_.cwnd();
  s.ssthresh = rtx_.ssthresh();
  s.peer_rwnd = rtx_.peer_rwnd();
  s.outstanding_bytes = rtx_.flight_size();
  s.outstanding_chunks = rtx_.outstanding_chunks();
  s.queued_bytes = send_queue_.total_buffered_amount();
  return s;
}

// ===================================================================================================================
// Receive path
// ===================================================================================================================

void Association::HandleReceive(Timestamp now, ByteSpan packet) {
  stats_.packets_received++;
  stats_.bytes_received += packet.size();
  auto parsed = PacketView::Parse(packet, /*verify_checksum=*/false);
  if (!parsed) {
    stats_.malformed_packets++;
    LOG_TRACE(kLog, "dropping malformed packet of " << packet.size() << " bytes");
    return;
  }
  // RFC 9260 §6.8: verify the CRC32c and silently discard on mismatch.
  if (ComputePacketChecksum(packet) != parsed->header().checksum) {
    stats_.bad_checksum_packets++;
    return;
  }
  const PacketView& p = *parsed;
  if (p.header().destination_port != options_.local_port || p.header().source_port != options_.remote_port) {
    stats_.dropped_packets++;
    return;
  }
  const ChunkView first = *p.begin();

  // §6.10 / §8.5.1 A: INIT travels alone with verification tag 0.
  if (first.type == chunk_type::kInit) {
    if (p.chunk_count() != 1 || p.header().verification_tag != 0) {
      stats_.dropped_packets++;
      return;
    }
    HandleInit(now, p, first);
    return;
  }
  if (!CheckVerificationTag(p)) {
    stats_.dropped_packets++;
    return;
  }
  if (!tcb_) {
    if (first.type == chunk_type::kAbort) {
      // COOKIE-WAIT: the peer refused our INIT. CLOSED: §8.4 2, ignore.
      if (state_ == State::kCookieWait) {
        HandleAbort(first);
      } else {
        stats_.dropped_packets++;
      }
      return;
    }
    if (first.type != chunk_type::kCookieEcho && first.type != chunk_type::kInitAck) {
      if (state_ == State::kClosed) {
        HandleOutOfTheBlue(p);
      } else {
        stats_.dropped_packets++;
      }
      return;
    }
  }

  bool data_seen = false;
  bool immediate = false;
  const bool had_gaps = tcb_ && tracker_.has_gaps();
  for (const ChunkView& c : p) {
    // Aborted while processing, or the leading INIT ACK / COOKIE ECHO did not create an association.
    if (!tcb_ && c.type != chunk_type::kCookieEcho && c.type != chunk_type::kInitAck) break;
    switch (c.type) {
      case chunk_type::kData:
      case chunk_type::kIData:
        data_seen = true;
        HandleData(now, c, immediate);
        break;
      case chunk_type::kInitAck:
        HandleInitAck(now, c);
        break;
      case chunk_type::kSack:
        HandleSack(now, c);
        break;
      case chunk_type::kHeartbeat:
        HandleHeartbeat(c);
        break;
      case chunk_type::kHeartbeatAck:
        HandleHeartbeatAck(now, c);
        break;
      case chunk_type::kAbort:
        HandleAbort(c);
        return;
      case chunk_type::kShutdown:
        HandleShutdown(now, c);
        break;
      case chunk_type::kShutdownAck:
        HandleShutdownAck(now, p);
        break;
      case chunk_type::kError:
        HandleError(now, c);
        break;
      case chunk_type::kCookieEcho:
        if (!HandleCookieEcho(now, p, c)) return;
        break;
      case chunk_type::kCookieAck:
        HandleCookieAck(now);
        break;
      case chunk_type::kShutdownComplete:
        HandleShutdownComplete();
        return;
      case chunk_type::kForwardTsn:
      case chunk_type::kIForwardTsn:
        HandleForwardTsn(now, c);
        break;
      case chunk_type::kReConfig:
        HandleReConfig(now, c);
        break;
      case chunk_type::kInit:
        // §6.10: INIT must not be bundled.
        stats_.malformed_packets++;
        return;
      default:
        if (!HandleUnrecognizedChunk(c)) return;
        break;
    }
  }
  if (state_ == State::kClosed) return;
  if (data_seen) {
    // §6.2: SACK at once when a gap appears or is filled, or for duplicates; otherwise every second packet.
    const bool gap_change = tracker_.has_gaps() || had_gaps;
    ScheduleSackAfterData(now, immediate || gap_change || tracker_.has_duplicates());
    if (state_ == State::kShutdownSent) {
      // §9.2: in SHUTDOWN-SENT answer every packet with DATA with a SHUTDOWN and restart T2.
      shutdown_pending_send_ = true;
      t2_shutdown_.Start(now, rto_.rto());
    }
  }
  MaybeProgressShutdown(now);
  MaybeSendReconfig(now);
}

bool Association::CheckVerificationTag(const PacketView& p) {
  const uint32_t tag = p.header().verification_tag;
  const ChunkView first = *p.begin();
  switch (first.type) {
    case chunk_type::kAbort:
    case chunk_type::kShutdownComplete:
      // §8.5.1 B/C: with the T bit the tag is the peer's own (reflected).
      if (first.flags & 0x01) return tcb_ && tag == peer_tag_;
      return tag == my_tag_ && my_tag_ != 0;
    case chunk_type::kCookieEcho:
      // §5.1 / §8.5.1 D: checked against the cookie in HandleCookieEcho.
      return true;
    case chunk_type::kShutdownAck:
      // §8.5.1 E: in COOKIE-WAIT / COOKIE-ECHOED this is out of the blue; answered in HandleShutdownAck.
      if (state_ == State::kCookieWait || state_ == State::kCookieEchoed || state_ == State::kClosed)
        return true;
      return tag == my_tag_ && my_tag_ != 0;
    default:
      if (state_ == State::kClosed) return true;  // out of the blue: §8.4 decides
      return tag == my_tag_ && my_tag_ != 0;
  }
}

void Association::HandleOutOfTheBlue(const PacketView& p) {
  // RFC 9260 §8.4.
  stats_.dropped_packets++;
  bool respond_abort = true;
  for (const ChunkView& c : p) {
    switch (c.type) {
      case chunk_type::kAbort:             // §8.4 2
      case chunk_type::kShutdownComplete:  // §8.4 6
      case chunk_type::kCookieAck:         // §8.4 7
      case chunk_type::kError:
        return;
      case chunk_type::kShutdownAck: {  // §8.4 5: SHUTDOWN COMPLETE with the T bit
        std::vector<uint8_t> bytes;
        ByteWriter w(bytes);
        ShutdownCompleteChunk{true}.SerializeTo(w);
        QueuePacket(p.header().verification_tag, bytes);
        return;
      }
      default:
        break;
    }
  }
  if (respond_abort) {
    // §8.4 8: ABORT with the T bit, reflecting the packet's tag.
    std::vector<uint8_t> bytes;
    ByteWriter w(bytes);
    AbortChunk{true, {}}.SerializeTo(w);
    QueuePacket(p.header().verification_tag, bytes);
  }
}

bool Association::HandleUnrecognizedChunk(const ChunkView& c) {
  // RFC 9260 §3.2: the two high bits of the type decide.
  if (ChunkMustBeReported(c.type) && tcb_) {
    ErrorChunk error;
    error.causes.push_back(
        ErrorCause::UnrecognizedChunk(c.raw.first(std::min<size_t>(c.raw.size(), options_.mtu - 64))));
    QueueControlChunk(error);
  }
  return !ChunkStopsProcessing(c.type);
}

std::vector<uint8_t> Association::BuildInitChunkBytes(
    uint8_t type, uint32_t tag, uint32_t initial_tsn, std::optional<std::vector<uint8_t>> cookie,
    const std::vector<std::vector<uint8_t>>& unrecognized) const {
  InitChunk init;
  init.initiate_tag = tag;
  init.a_rwnd = static_cast<uint32_t>(options_.max_receive_buffer);
  init.outbound_streams = options_.announced_streams;
  init.inbound_streams = options_.announced_streams;
  init.initial_tsn = initial_tsn;
  // RFC 5061 §4.2.7 and RFC 3758 §3.1: announce what we support (dcSCTP announces the same set).
  init.supported_extensions = {chunk_type::kReConfig, chunk_type::kForwardTsn};
  if (options_.enable_interleaving) {
    init.supported_extensions.push_back(chunk_type::kIData);
    init.supported_extensions.push_back(chunk_type::kIForwardTsn);
  }
  init.forward_tsn_supported = true;
  init.state_cookie = std::move(cookie);
  init.unrecognized_parameters = unrecognized;
  std::vector<uint8_t> bytes;
  ByteWriter w(bytes);
  init.SerializeAs(type, w);
  return bytes;
}

void Association::SendInit(Timestamp now) {
  (void)now;
  QueuePacket(0, BuildInitChunkBytes(chunk_type::kInit, my_tag_, my_initial_tsn_, std::nullopt, {}));
}

void Association::HandleInit(Timestamp now, const PacketView& p, const ChunkView& chunk) {
  auto init = InitChunk::Parse(chunk.raw);
  if (!init) {
    stats_.malformed_packets++;
    return;
  }
  // §3.3.2: a zero Initiate Tag is silently discarded; zero stream counts are a protocol error.
  if (init->initiate_tag == 0) {
    stats_.dropped_packets++;
    return;
  }
  if (init->outbound_streams == 0 || init->inbound_streams == 0 || init->a_rwnd < 1500) {
    AbortChunk abort;
    abort.causes.push_back(ErrorCause::InvalidMandatoryParameter());
    std::vector<uint8_t> bytes;
    ByteWriter w(bytes);
    abort.SerializeTo(w);
    QueuePacket(init->initiate_tag, bytes);
    return;
  }
  if (state_ == State::kShutdownAckSent) {
    // §9.2: the SHUTDOWN COMPLETE was probably lost; discard the INIT and retransmit SHUTDOWN ACK.
    shutdown_ack_pending_send_ = true;
    return;
  }
  StateCookie cookie;
  cookie.created_at = now;
  uint32_t tag = 0, tsn = 0;
  if (state_ == State::kCookieWait || state_ == State::kCookieEchoed) {
    // §5.2.1: answer with the parameters of our own INIT, Initiate Tag unchanged.
    tag = my_tag_;
    tsn = my_initial_tsn_;
  } else {
    // CLOSED: a fresh association. §5.2.2 (an association exists): new tag and TSN, with the current tags as
    // tie-tags so that a peer restart can be recognized when the cookie comes back.
    tag = NonZeroRandom(rng_);
    tsn = rng_.NextU32();
    if (tcb_) {
      cookie.local_tie_tag = my_tag_;
      cookie.peer_tie_tag = peer_tag_;
    }
  }
  cookie.my_tag = tag;
  cookie.my_initial_tsn = tsn;
  cookie.peer_tag = init->initiate_tag;
  cookie.peer_initial_tsn = init->initial_tsn;
  cookie.peer_a_rwnd = init->a_rwnd;
  cookie.peer_outbound_streams = init->outbound_streams;
  cookie.peer_inbound_streams = init->inbound_streams;
  cookie.peer_forward_tsn = init->forward_tsn_supported || init->SupportsExtension(chunk_type::kForwardTsn);
  cookie.peer_reconfig = init->SupportsExtension(chunk_type::kReConfig);
  cookie.peer_interleaving =
      init->SupportsExtension(chunk_type::kIData) && init->SupportsExtension(chunk_type::kIForwardTsn);
  (void)p;
  QueuePacket(init->initiate_tag,
              BuildInitChunkBytes(chunk_type::kInitAck, tag, tsn, cookie.Serialize(cookie_key_),
                                  init->unrecognized_to_report));
}

void Association::SetupTcb(uint32_t peer_tag, uint32_t peer_initial_tsn, uint32_t peer_a_rwnd,
                           uint16_t peer_os, uint16_t peer_mis, bool forward_tsn, bool reconfig,
                           bool interleaving) {
  tcb_ = true;
  peer_tag_ = peer_tag;
  peer_initial_tsn_ = peer_initial_tsn;
  partial_reliability_ = forward_tsn;
  reconfig_supported_ = reconfig;
  interleaving_ = interleaving && options_.enable_interleaving;
  // §5.1.1: each side uses min(own OS, peer's MIS) outbound and min(peer's OS, own MIS) inbound.
  outbound_streams_ = std::min(options_.announced_streams, peer_mis);
  inbound_streams_ = std::min(options_.announced_streams, peer_os);
  RetransmissionQueue::Config config;
  config.mtu = options_.mtu;
  config.initial_cwnd_mtus = options_.initial_cwnd_mtus;
  config.interleaved = interleaving_;
  config.partial_reliability = partial_reliability_;
  send_queue_.SetInterleaved(interleaving_);
  rtx_.Reset(config, my_initial_tsn_, peer_a_rwnd);
  tracker_.Reset(peer_initial_tsn);
  reassembly_.Reset(interleaving_);
  // RFC 6525 §5.1 / §5.2.1: request sequence numbers start at the initial TSN.
  next_reconfig_request_sequence_ = my_initial_tsn_;
  peer_next_request_sequence_ = peer_initial_tsn;
  last_peer_request_result_.reset();
  const size_t dropped = send_queue_.DiscardStreamsFrom(outbound_streams_);
  if (dropped > 0) {
    EmitEvent(
        ErrorEvent{std::to_string(dropped) + " queued message(s) dropped: stream beyond negotiated count"});
  }
}

void Association::HandleInitAck(Timestamp now, const ChunkView& chunk) {
  // §5.2.3: an INIT ACK outside COOKIE-WAIT is discarded.
  if (state_ != State::kCookieWait) return;
  auto ack = InitAckChunk::Parse(chunk.raw);
  if (!ack) {
    stats_.malformed_packets++;
    return;
  }
  if (!ack->state_cookie || ack->initiate_tag == 0 || ack->outbound_streams == 0 ||
      ack->inbound_streams == 0) {
    // §5.1 / §3.3.3: a broken INIT ACK; tell the peer (it knows our tag) and give up.
    peer_tag_ = ack->initiate_tag;
    tcb_ = ack->initiate_tag != 0;
    AbortWithCause(
        ack->state_cookie ? ErrorCause::InvalidMandatoryParameter() : ErrorCause::MissingMandatoryParameter(),
        "invalid INIT ACK");
    return;
  }
  t1_init_.Stop();
  SetupTcb(ack->initiate_tag, ack->initial_tsn, ack->a_rwnd, ack->outbound_streams, ack->inbound_streams,
           ack->forward_tsn_supported || ack->SupportsExtension(chunk_type::kForwardTsn),
           ack->SupportsExtension(chunk_type::kReConfig),
           ack->SupportsExtension(chunk_type::kIData) && ack->SupportsExtension(chunk_type::kIForwardTsn));
  cookie_echo_ = std::move(*ack->state_cookie);
  // §5.1 C: COOKIE-ECHOED, send COOKIE ECHO, start T1-cookie.
  state_ = State::kCookieEchoed;
  cookie_echo_pending_ = true;
  t1_cookie_.expirations = 0;
  t1_cookie_.Start(now, rto_.rto());
}

bool Association::HandleCookieEcho(Timestamp now, const PacketView& p, const ChunkView& chunk) {
  auto echo = CookieEchoChunk::Parse(chunk.raw);
  if (!echo) {
    stats_.malformed_packets++;
    return false;
  }
  auto cookie = StateCookie::Parse(echo->cookie, cookie_key_);
  if (!cookie || p.header().verification_tag != cookie->my_tag) {
    // §5.1.5: a cookie that fails the MAC (or is not addressed with its own tag) is silently discarded.
    stats_.dropped_packets++;
    return false;
  }
  const TimeDelta age = now - cookie->created_at;
  if (age > options_.cookie_lifetime) {
    // §5.1.5 step 3: stale; report how stale (in microseconds) so the peer may retry.
    const int64_t staleness = std::min<int64_t>((age - options_.cookie_lifetime).us(), 0xffffffff);
    ErrorChunk error;
    error.causes.push_back(ErrorCause::StaleCookie(static_cast<uint32_t>(staleness)));
    std::vector<uint8_t> bytes;
    ByteWriter w(bytes);
    error.SerializeTo(w);
    QueuePacket(cookie->peer_tag, bytes);
    return false;
  }

  auto setup_from_cookie = [&] {
    my_tag_ = cookie->my_tag;
    my_initial_tsn_ = cookie->my_initial_tsn;
    SetupTcb(cookie->peer_tag, cookie->peer_initial_tsn, cookie->peer_a_rwnd, cookie->peer_outbound_streams,
             cookie->peer_inbound_streams, cookie->peer_forward_tsn, cookie->peer_reconfig,
             cookie->peer_interleaving);
  };

  if (!tcb_) {
    // §5.1 D (CLOSED, or COOKIE-WAIT whose INIT crossed the peer's): create the association from the cookie.
    if (state_ == State::kCookieWait && cookie->my_tag != my_tag_) {
      // A cookie from an INIT ACK we sent before we started our own handshake: still valid, adopt it.
      LOG_DEBUG(kLog, "COOKIE ECHO with a tag from before Connect; adopting it");
    }
    ResetAssociationState();
    setup_from_cookie();
    QueueControlChunk(CookieAckChunk{});
    EnterEstablished(now);
    return true;
  }

  // §5.2.4: a COOKIE ECHO while an association exists.
  const bool my_match = cookie->my_tag == my_tag_;
  const bool peer_match = cookie->peer_tag == peer_tag_;
  if (!my_match && !peer_match && cookie->local_tie_tag == my_tag_ && cookie->peer_tie_tag == peer_tag_) {
    // Case A: the peer restarted.
    if (state_ == State::kShutdownAckSent) {
      ErrorChunk error;
      error.causes.push_back(ErrorCause::CookieWhileShuttingDown());
      std::vector<uint8_t> bytes;
      ByteWriter w(bytes);
      ShutdownAckChunk{}.SerializeTo(w);
      error.SerializeTo(w);
      QueuePacket(cookie->peer_tag, bytes);
      return false;
    }
    LOG_INFO(kLog, "peer restarted the association");
    ResetAssociationState();
    send_queue_.Restart();
    setup_from_cookie();
    QueueControlChunk(CookieAckChunk{});
    EmitEvent(RestartedEvent{});
    state_ = State::kEstablished;
    heartbeat_interval_.Stop();
    if (!options_.heartbeat_interval.IsInfinite() && options_.heartbeat_interval > TimeDelta::Zero()) {
      heartbeat_interval_.Start(now, options_.heartbeat_interval + rto_.rto());
    }
    return true;
  }
  if (my_match && !peer_match) {
    // Case B: setup collision; the peer's tag in the cookie wins. Until data flowed the TCB can be rebuilt.
    if (stats_.data_chunks_received == 0 && rtx_.next_tsn() == rtx_.cumulative_tsn_ack() + 1) {
      setup_from_cookie();
    } else {
      peer_tag_ = cookie->peer_tag;
    }
    QueueControlChunk(CookieAckChunk{});
    if (state_ == State::kCookieWait || state_ == State::kCookieEchoed) EnterEstablished(now);
    return true;
  }
  if (!my_match && peer_match && cookie->local_tie_tag == 0 && cookie->peer_tie_tag == 0) {
    // Case C: a late cookie; discard.
    return false;
  }
  if (my_match && peer_match) {
    // Case D: both tags match (the normal simultaneous open, or a retransmitted COOKIE ECHO).
    QueueControlChunk(CookieAckChunk{});
    if (state_ == State::kCookieWait || state_ == State::kCookieEchoed) EnterEstablished(now);
    return true;
  }
  stats_.dropped_packets++;
  return false;
}

void Association::HandleCookieAck(Timestamp now) {
  // §5.1 E.
  if (state_ == State::kCookieEchoed) EnterEstablished(now);
}

void Association::EnterEstablished(Timestamp now) {
  t1_init_.Stop();
  t1_cookie_.Stop();
  cookie_echo_pending_ = false;
  cookie_echo_.clear();
  state_ = State::kEstablished;
  used_ = false;
  error_count_ = 0;
  if (options_.heartbeat_interval > TimeDelta::Zero() && !options_.heartbeat_interval.IsInfinite()) {
    heartbeat_interval_.Start(now, options_.heartbeat_interval + rto_.rto());
  }
  EmitEvent(ConnectedEvent{});
}

void Association::ScheduleSackAfterData(Timestamp now, bool immediate) {
  sack_pending_ = true;
  data_packets_since_sack_++;
  // §6.2: at least every second packet with DATA, and within the delayed-ack time.
  if (immediate || data_packets_since_sack_ >= 2 || options_.delayed_ack <= TimeDelta::Zero()) {
    sack_now_ = true;
  } else if (!delayed_ack_.running()) {
    delayed_ack_.Start(now, options_.delayed_ack);
  }
}

void Association::HandleData(Timestamp now, const ChunkView& c, bool& immediate) {
  if (state_ != State::kEstablished && state_ != State::kShutdownPending && state_ != State::kShutdownSent &&
      state_ != State::kCookieEchoed) {
    // §9.2: after SHUTDOWN was received no new data is expected; drop it.
    return;
  }
  ReceivedFragment f;
  uint32_t tsn = 0;
  if (c.type == chunk_type::kData) {
    if (interleaving_) {
      // RFC 8260 §2.1: once I-DATA is negotiated DATA must not be used.
      AbortWithCause(ErrorCause::ProtocolViolation("DATA chunk with I-DATA negotiated"),
                     "protocol violation");
      return;
    }
    auto d = DataChunk::Parse(c.raw);
    if (!d) {
      stats_.malformed_packets++;
      return;
    }
    tsn = d->tsn;
    f.stream = d->stream;
    f.unordered = d->unordered;
    f.id = d->ssn;
    f.ppid = d->ppid;
    f.beginning = d->beginning;
    f.end = d->end;
    f.payload = d->payload;
    immediate = immediate || d->immediate;
  } else {
    if (!interleaving_) {
      AbortWithCause(ErrorCause::ProtocolViolation("I-DATA chunk without negotiation"), "protocol violation");
      return;
    }
    auto d = IDataChunk::Parse(c.raw);
    if (!d) {
      stats_.malformed_packets++;
      return;
    }
    tsn = d->tsn;
    f.stream = d->stream;
    f.unordered = d->unordered;
    f.id = d->mid;
    f.fsn = d->fsn;
    f.ppid = d->ppid;
    f.beginning = d->beginning;
    f.end = d->end;
    f.payload = d->payload;
    immediate = immediate || d->immediate;
  }
  stats_.data_chunks_received++;
  if (f.payload.empty()) {
    // §6.2: a DATA chunk without user data aborts the association with "No User Data".
    AbortWithCause(ErrorCause::NoUserData(tsn), "received DATA without user data");
    return;
  }
  f.tsn = tracker_.Unwrap(tsn);
  if (tracker_.IsDuplicate(f.tsn)) {
    tracker_.ObserveDuplicate(tsn);
    stats_.duplicate_tsns_received++;
    return;
  }
  if (!tracker_.CanAccept(f.tsn)) {
    stats_.dropped_data_chunks++;
    return;
  }
  if (f.stream >= inbound_streams_) {
    // §6.5: acknowledge as if delivered and report Invalid Stream Identifier.
    tracker_.Observe(f.tsn);
    ErrorChunk error;
    error.causes.push_back(ErrorCause::InvalidStreamIdentifier(f.stream));
    QueueControlChunk(error);
    return;
  }
  // §6.2 receive buffer: beyond it, keep only the chunk that advances the cumulative TSN (so the window
  // cannot deadlock on reordering), up to twice the buffer as a hard limit.
  const size_t used = reassembly_.buffered_bytes() + pending_event_bytes_;
  const size_t size = f.payload.size();
  const bool fits = used + size <= options_.max_receive_buffer;
  const bool next_in_line =
      f.tsn == tracker_.cumulative_tsn() + 1 && used + size <= 2 * options_.max_receive_buffer;
  if (!fits && !next_in_line) {
    // §6.2: drop it, but answer at once so the sender sees the closed window (and keeps probing, not
    // failing).
    stats_.dropped_data_chunks++;
    immediate = true;
    return;
  }
  switch (reassembly_.Add(f)) {
    case ReassemblyQueue::AddResult::kAccepted:
      tracker_.Observe(f.tsn);
      break;
    case ReassemblyQueue::AddResult::kNoResources:
      stats_.dropped_data_chunks++;
      break;
    case ReassemblyQueue::AddResult::kMessageTooLarge:
      AbortWithCause(ErrorCause::ProtocolViolation("message exceeds max-message-size"),
                     "received message exceeds max_message_size");
      break;
  }
}

void Association::OnMessageReassembled(Message&& message) {
  stats_.messages_received++;
  pending_event_bytes_ += message.payload.size();
  EmitEvent(MessageReceivedEvent{std::move(message)});
}

void Association::HandleSack(Timestamp now, const ChunkView& c) {
  if (!SackChunk::ParseInto(c.raw, sack_scratch_)) {
    stats_.malformed_packets++;
    return;
  }
  stats_.sacks_received++;
  if (state_ == State::kCookieWait || state_ == State::kClosed) return;
  const auto outcome = rtx_.HandleSack(now, sack_scratch_);
  if (!outcome.accepted) return;
  if (outcome.rtt) rto_.ObserveRtt(*outcome.rtt);
  // §8.1: acknowledged data resets the error counter (a cumulative ack moved by our FORWARD-TSN counts too:
  // the peer is alive).
  if (outcome.acked_new_data || outcome.cum_advanced) error_count_ = 0;
  sack_since_t3_start_ = true;
  // §6.3.2 R2/R3: stop T3 when nothing is outstanding; restart it when the earliest outstanding TSN was
  // acked.
  if (!rtx_.has_outstanding()) {
    t3_rtx_.Stop();
  } else if (outcome.cum_advanced) {
    t3_rtx_.Start(now, rto_.rto());
  }
}

void Association::HandleHeartbeat(const ChunkView& c) {
  auto hb = HeartbeatChunk::Parse(c.raw);
  if (!hb) {
    stats_.malformed_packets++;
    return;
  }
  // §8.3: echo the Heartbeat Info unchanged.
  HeartbeatAckChunk ack;
  ack.info = std::move(hb->info);
  if (ack.info.size() + 16 > options_.mtu) return;  // cannot echo it within our MTU
  QueueControlChunk(ack);
}

void Association::HandleHeartbeatAck(Timestamp now, const ChunkView& c) {
  auto ack = HeartbeatAckChunk::Parse(c.raw);
  if (!ack) {
    stats_.malformed_packets++;
    return;
  }
  // Our info: 8-byte send time (us) + 8-byte nonce.
  if (ack->info.size() != 16 || !heartbeat_timeout_.running()) return;
  ByteReader r(ack->info);
  uint64_t sent_us = 0, nonce = 0;
  r.ReadU64(sent_us);
  r.ReadU64(nonce);
  if (nonce != heartbeat_nonce_) return;
  heartbeat_timeout_.Stop();
  // §8.3: a HEARTBEAT ACK gives an RTT measurement and clears the error counter.
  rto_.ObserveRtt(now - Timestamp::Micros(static_cast<int64_t>(sent_us)));
  error_count_ = 0;
}

void Association::HandleAbort(const ChunkView& c) {
  auto abort = AbortChunk::Parse(c.raw);
  std::string reason = "ABORT received";
  if (abort && !abort->causes.empty()) reason += ": " + DescribeErrorCauses(abort->causes);
  LOG_DEBUG(kLog, reason);
  CloseWithEvent(AbortedEvent{std::move(reason), true});
}

void Association::HandleError(Timestamp now, const ChunkView& c) {
  auto error = ErrorChunk::Parse(c.raw);
  if (!error) {
    stats_.malformed_packets++;
    return;
  }
  for (const ErrorCause& cause : error->causes) {
    if (cause.code == cause_code::kStaleCookie && state_ == State::kCookieEchoed) {
      // §5.2.6: our cookie went stale; start over with a new INIT (counting towards Max.Init.Retransmits).
      if (++t1_cookie_.expirations > options_.max_init_retransmits) {
        CloseWithEvent(AbortedEvent{"stale cookie retries exceeded", false});
        return;
      }
      t1_cookie_.deadline = Timestamp::Infinity();
      cookie_echo_pending_ = false;
      tcb_ = false;
      state_ = State::kCookieWait;
      SendInit(now);
      t1_init_.Start(now, rto_.rto());
      return;
    }
  }
  EmitEvent(ErrorEvent{"peer reported: " + DescribeErrorCauses(error->causes)});
}

void Association::HandleShutdown(Timestamp now, const ChunkView& c) {
  auto shutdown = ShutdownChunk::Parse(c.raw);
  if (!shutdown) {
    stats_.malformed_packets++;
    return;
  }
  switch (state_) {
    case State::kEstablished:
    case State::kShutdownPending:
    case State::kShutdownReceived: {
      // §9.2: the Cumulative TSN Ack acts like a SACK without gap blocks.
      SackChunk sack;
      sack.cumulative_tsn_ack = shutdown->cumulative_tsn_ack;
      sack.a_rwnd = static_cast<uint32_t>(rtx_.peer_rwnd());
      const auto outcome = rtx_.HandleSack(now, sack);
      if (outcome.accepted && !rtx_.has_outstanding()) t3_rtx_.Stop();
      state_ = State::kShutdownReceived;
      MaybeProgressShutdown(now);
      break;
    }
    case State::kShutdownSent:
      // §9.2: both sides are shutting down: answer with SHUTDOWN ACK.
      SendShutdownAck(now);
      break;
    default:
      break;
  }
}

void Association::HandleShutdownAck(Timestamp now, const PacketView& p) {
  (void)now;
  if (state_ == State::kCookieWait || state_ == State::kCookieEchoed) {
    // §8.5.1 E: treat as out of the blue: SHUTDOWN COMPLETE with the T bit.
    std::vector<uint8_t> bytes;
    ByteWriter w(bytes);
    ShutdownCompleteChunk{true}.SerializeTo(w);
    QueuePacket(p.header().verification_tag, bytes);
    return;
  }
  if (state_ != State::kShutdownSent && state_ != State::kShutdownAckSent) return;
  // §9.2: stop T2, send SHUTDOWN COMPLETE, close.
  std::vector<uint8_t> bytes;
  ByteWriter w(bytes);
  ShutdownCompleteChunk{false}.SerializeTo(w);
  QueuePacket(peer_tag_, bytes);
  CloseWithEvent(ClosedEvent{});
}

void Association::HandleShutdownComplete() {
  // §9.2: SHUTDOWN-ACK-SENT -> CLOSED.
  if (state_ != State::kShutdownAckSent) return;
  CloseWithEvent(ClosedEvent{});
}

void Association::HandleForwardTsn(Timestamp now, const ChunkView& c) {
  if (state_ != State::kEstablished && state_ != State::kShutdownPending && state_ != State::kShutdownSent &&
      state_ != State::kCookieEchoed) {
    return;
  }
  stats_.forward_tsns_received++;
  if (c.type == chunk_type::kForwardTsn) {
    if (interleaving_) {
      AbortWithCause(ErrorCause::ProtocolViolation("FORWARD-TSN with I-DATA negotiated"),
                     "protocol violation");
      return;
    }
    auto ftsn = ForwardTsnChunk::Parse(c.raw);
    if (!ftsn) {
      stats_.malformed_packets++;
      return;
    }
    const uint64_t new_cum = tracker_.Unwrap(ftsn->new_cumulative_tsn);
    if (new_cum > tracker_.cumulative_tsn() + DataTracker::kMaxTsnAhead) return;  // implausible jump: ignore
    if (new_cum > tracker_.cumulative_tsn()) {
      tracker_.ForwardTo(new_cum);
      reassembly_.HandleForwardTsn(new_cum, ftsn->skipped);
    }
  } else {
    if (!interleaving_) {
      AbortWithCause(ErrorCause::ProtocolViolation("I-FORWARD-TSN without negotiation"),
                     "protocol violation");
      return;
    }
    auto ftsn = IForwardTsnChunk::Parse(c.raw);
    if (!ftsn) {
      stats_.malformed_packets++;
      return;
    }
    const uint64_t new_cum = tracker_.Unwrap(ftsn->new_cumulative_tsn);
    if (new_cum > tracker_.cumulative_tsn() + DataTracker::kMaxTsnAhead) return;
    if (new_cum > tracker_.cumulative_tsn()) {
      tracker_.ForwardTo(new_cum);
      reassembly_.HandleIForwardTsn(ftsn->skipped);
    }
  }
  // RFC 3758 §3.6: answer with a SACK at once (as on filling a gap).
  sack_pending_ = true;
  sack_now_ = true;
  (void)now;
}

void Association::HandleReConfig(Timestamp now, const ChunkView& c) {
  if (state_ != State::kEstablished && state_ != State::kShutdownPending &&
      state_ != State::kShutdownReceived && state_ != State::kShutdownSent) {
    return;
  }
  auto chunk = ReConfigChunk::Parse(c.raw);
  if (!chunk) {
    stats_.malformed_packets++;
    return;
  }
  std::vector<ReConfigChunk::Parameter> responses;
  for (const ReConfigChunk::Parameter& param : chunk->parameters) {
    switch (param.type) {
      case param_type::kOutgoingSsnResetRequest: {
        auto req = OutgoingSsnResetRequest::Parse(param.value);
        if (!req) {
          stats_.malformed_packets++;
          break;
        }
        HandleOutgoingResetRequest(now, *req, responses);
        break;
      }
      case param_type::kReconfigurationResponse: {
        auto resp = ReconfigurationResponse::Parse(param.value);
        if (!resp) {
          stats_.malformed_packets++;
          break;
        }
        HandleReconfigResponse(now, *resp);
        break;
      }
      case param_type::kIncomingSsnResetRequest:
      case param_type::kSsnTsnResetRequest:
      case param_type::kAddOutgoingStreamsRequest:
      case param_type::kAddIncomingStreamsRequest: {
        // Not used by WebRTC; RFC 6525 §5.2.3-5.2.6 allow refusing with "Denied".
        if (param.value.size() < 4) break;
        ReconfigurationResponse resp;
        resp.response_sequence = LoadBe32(param.value.data());
        resp.result = ReconfigurationResponse::Result::kDenied;
        responses.push_back(ReConfigChunk::Parameter::From(resp));
        break;
      }
      default:
        break;
    }
  }
  // A RE-CONFIG carries at most two parameters (§3.1).
  for (size_t i = 0; i < responses.size(); i += 2) {
    ReConfigChunk out;
    out.parameters.assign(responses.begin() + static_cast<std::ptrdiff_t>(i),
                          responses.begin() + static_cast<std::ptrdiff_t>(std::min(i + 2, responses.size())));
    QueueControlChunk(out);
  }
}

void Association::HandleOutgoingResetRequest(Timestamp now, const OutgoingSsnResetRequest& req,
                                             std::vector<ReConfigChunk::Parameter>& responses) {
  (void)now;
  using Result = ReconfigurationResponse::Result;
  ReconfigurationResponse resp;
  resp.response_sequence = req.request_sequence;
  if (req.request_sequence == peer_next_request_sequence_ - 1 && last_peer_request_result_) {
    // RFC 6525 §5.2.1: a retransmission of the last request gets the same answer.
    resp.result = *last_peer_request_result_;
  } else if (req.request_sequence != peer_next_request_sequence_) {
    resp.result = Result::kErrorBadSequenceNumber;
  } else {
    peer_next_request_sequence_++;
    const uint64_t last_tsn = tracker_.Unwrap(req.senders_last_assigned_tsn);
    if (last_tsn > tracker_.cumulative_tsn()) {
      // §5.2.2 E2: data before the reset is still missing. Answer "In progress"; the peer asks again (as
      // dcSCTP does) and we perform the reset once everything up to its last assigned TSN has arrived.
      resp.result = Result::kInProgress;
    } else {
      // §5.2.2 E3/E4: the SSNs of these incoming streams restart at 0.
      reassembly_.ResetStreams(req.streams);
      resp.result = Result::kSuccessPerformed;
      EmitEvent(IncomingStreamsResetEvent{req.streams});
    }
    last_peer_request_result_ = resp.result;
  }
  responses.push_back(ReConfigChunk::Parameter::From(resp));
}

void Association::HandleReconfigResponse(Timestamp now, const ReconfigurationResponse& resp) {
  using Result = ReconfigurationResponse::Result;
  if (!reset_in_flight_ || resp.response_sequence != reset_in_flight_->request_sequence) return;
  std::vector<uint16_t> streams = std::move(reset_in_flight_->streams);
  reset_in_flight_.reset();
  error_count_ = 0;
  switch (resp.result) {
    case Result::kSuccessPerformed:
    case Result::kSuccessNothingToDo:
      // Our outgoing streams restart at SSN/MID 0 and accept data again.
      for (uint16_t s : streams) {
        send_queue_.ResetSequenceNumbers(s);
        closing_streams_.erase(s);
      }
      EmitEvent(OutgoingStreamsResetEvent{std::move(streams)});
      break;
    case Result::kInProgress:
      // The peer still waits for some of our data; ask again (with a new request sequence number) after an
      // RTO.
      streams_to_reset_.insert(streams_to_reset_.begin(), streams.begin(), streams.end());
      reset_retry_at_ = now + rto_.rto();
      break;
    default:
      for (uint16_t s : streams) closing_streams_.erase(s);
      EmitEvent(OutgoingStreamsResetFailedEvent{std::move(streams), ToString(resp.result)});
      break;
  }
}

void Association::MaybeSendReconfig(Timestamp now) {
  if (reset_in_flight_ || streams_to_reset_.empty() || state_ != State::kEstablished) return;
  if (now < reset_retry_at_ && !reset_retry_at_.IsInfinite()) return;
  reset_retry_at_ = Timestamp::Infinity();
  // RFC 8831 §6.7 / RFC 6525 §5.1.2: reset a stream only once its queued and in-flight data is through.
  std::vector<uint16_t> ready;
  for (auto it = streams_to_reset_.begin(); it != streams_to_reset_.end();) {
    if (ready.size() < kMaxStreamsPerResetRequest && send_queue_.IsEmpty(*it) && !rtx_.HasUnackedData(*it)) {
      ready.push_back(*it);
      it = streams_to_reset_.erase(it);
    } else {
      ++it;
    }
  }
  if (ready.empty()) return;
  OutgoingSsnResetRequest req;
  req.request_sequence = next_reconfig_request_sequence_++;
  req.response_sequence = peer_next_request_sequence_ - 1;
  req.senders_last_assigned_tsn = rtx_.last_assigned_tsn();
  req.streams = ready;
  ReConfigChunk chunk;
  chunk.parameters.push_back(ReConfigChunk::Parameter::From(req));
  QueueControlChunk(chunk);
  PendingReset pending;
  pending.request_sequence = req.request_sequence;
  pending.streams = std::move(ready);
  pending.timer.Start(now, rto_.rto());
  reset_in_flight_ = std::move(pending);
}

// ===================================================================================================================
// Timers
// ===================================================================================================================

bool Association::IncrementErrorCounter(const char* what) {
  // §8.1: too many consecutive failures mean the peer is unreachable.
  if (++error_count_ > options_.max_retransmissions) {
    AbortWithCause(ErrorCause::ProtocolViolation("too many retransmissions"),
                   std::string("too many retransmissions (") + what + ")");
    return false;
  }
  return true;
}

void Association::HandleTimeout(Timestamp now) {
  if (t1_init_.Expired(now)) {
    // §5.1 / §6.3.3: retransmit INIT with back-off, up to Max.Init.Retransmits.
    if (++t1_init_.expirations > options_.max_init_retransmits) {
      CloseWithEvent(AbortedEvent{"INIT retransmissions exceeded", false});
      return;
    }
    SendInit(now);
    const int n = t1_init_.expirations;
    t1_init_.deadline = now + std::min(options_.rto_max, t1_init_.duration * 2);
    t1_init_.duration = std::min(options_.rto_max, t1_init_.duration * 2);
    t1_init_.expirations = n;
  }
  if (t1_cookie_.Expired(now)) {
    if (++t1_cookie_.expirations > options_.max_init_retransmits) {
      CloseWithEvent(AbortedEvent{"COOKIE ECHO retransmissions exceeded", false});
      return;
    }
    cookie_echo_pending_ = true;
    const int n = t1_cookie_.expirations;
    t1_cookie_.duration = std::min(options_.rto_max, t1_cookie_.duration * 2);
    t1_cookie_.deadline = now + t1_cookie_.duration;
    t1_cookie_.expirations = n;
  }
  if (t3_rtx_.Expired(now)) {
    stats_.t3_expirations++;
    // §6.3.3 E1-E3.
    rtx_.HandleT3Expiry(now);
    rto_.Backoff();
    // §6.1: while the peer keeps answering with a zero window, unacknowledged window probes do not count as
    // failures (its application may not read for a long time).
    const bool zero_window_probe = rtx_.peer_rwnd() == 0 && sack_since_t3_start_;
    sack_since_t3_start_ = false;
    if (!zero_window_probe && !IncrementErrorCounter("T3-rtx")) return;
    if (rtx_.has_outstanding()) {
      t3_rtx_.Start(now, rto_.rto());
    } else {
      t3_rtx_.Stop();
    }
  }
  if (t2_shutdown_.Expired(now)) {
    rto_.Backoff();
    if (!IncrementErrorCounter("T2-shutdown")) return;
    if (state_ == State::kShutdownSent) shutdown_pending_send_ = true;
    if (state_ == State::kShutdownAckSent) shutdown_ack_pending_send_ = true;
    t2_shutdown_.Start(now, rto_.rto());
  }
  if (delayed_ack_.Expired(now)) {
    delayed_ack_.Stop();
    if (sack_pending_) sack_now_ = true;
  }
  if (heartbeat_timeout_.Expired(now)) {
    heartbeat_timeout_.Stop();
    rto_.Backoff();
    if (!IncrementErrorCounter("heartbeat")) return;
  }
  if (heartbeat_interval_.Expired(now)) {
    if (state_ == State::kEstablished || state_ == State::kShutdownPending ||
        state_ == State::kShutdownReceived) {
      // §8.3: probe the idle peer.
      heartbeat_nonce_ = rng_.NextU64();
      HeartbeatChunk hb;
      hb.info.resize(16);
      StoreBe32(hb.info.data(), static_cast<uint32_t>(static_cast<uint64_t>(now.us()) >> 32));
      StoreBe32(hb.info.data() + 4, static_cast<uint32_t>(now.us()));
      StoreBe32(hb.info.data() + 8, static_cast<uint32_t>(heartbeat_nonce_ >> 32));
      StoreBe32(hb.info.data() + 12, static_cast<uint32_t>(heartbeat_nonce_));
      QueueControlChunk(hb);
      stats_.heartbeats_sent++;
      heartbeat_timeout_.Start(now, rto_.rto());
      heartbeat_interval_.Start(now, options_.heartbeat_interval + rto_.rto());
    } else {
      heartbeat_interval_.Stop();
    }
  }
  if (reset_in_flight_ && reset_in_flight_->timer.Expired(now)) {
    // RFC 6525 §5.1.1: retransmit the same request.
    rto_.Backoff();
    if (!IncrementErrorCounter("RE-CONFIG")) return;
    OutgoingSsnResetRequest req;
    req.request_sequence = reset_in_flight_->request_sequence;
    req.response_sequence = peer_next_request_sequence_ - 1;
    req.senders_last_assigned_tsn = rtx_.last_assigned_tsn();
    req.streams = reset_in_flight_->streams;
    ReConfigChunk chunk;
    chunk.parameters.push_back(ReConfigChunk::Parameter::From(req));
    QueueControlChunk(chunk);
    reset_in_flight_->timer.Start(now, rto_.rto());
  }
  if (!reset_retry_at_.IsInfinite() && reset_retry_at_ <= now) MaybeSendReconfig(now);
  MaybeProgressShutdown(now);
  MaybeSendReconfig(now);
}

// ===================================================================================================================
// Shutdown and close
// ===================================================================================================================

void Association::MaybeProgressShutdown(Timestamp now) {
  if (send_queue_.HasData() || rtx_.has_outstanding()) return;
  if (state_ == State::kShutdownPending) {
    SendShutdown(now);
  } else if (state_ == State::kShutdownReceived) {
    SendShutdownAck(now);
  }
}

void Association::SendShutdown(Timestamp now) {
  // §9.2: SHUTDOWN-SENT, start T2-shutdown.
  state_ = State::kShutdownSent;
  shutdown_pending_send_ = true;
  t3_rtx_.Stop();
  t2_shutdown_.Start(now, rto_.rto());
}

void Association::SendShutdownAck(Timestamp now) {
  state_ = State::kShutdownAckSent;
  shutdown_pending_send_ = false;
  shutdown_ack_pending_send_ = true;
  t3_rtx_.Stop();
  t2_shutdown_.Start(now, rto_.rto());
}

void Association::AbortWithCause(ErrorCause cause, std::string reason) {
  if (tcb_) {
    AbortChunk abort;
    abort.causes.push_back(std::move(cause));
    std::vector<uint8_t> bytes;
    ByteWriter w(bytes);
    abort.SerializeTo(w);
    QueuePacket(peer_tag_, bytes);
  }
  LOG_DEBUG(kLog, "aborting: " << reason);
  CloseWithEvent(AbortedEvent{std::move(reason), false});
}

void Association::ResetAssociationState() {
  for (Timer* timer : {&t1_init_, &t1_cookie_, &t2_shutdown_, &t3_rtx_, &delayed_ack_, &heartbeat_interval_,
                       &heartbeat_timeout_}) {
    timer->Stop();
  }
  rtx_.Clear();
  control_chunks_.clear();
  tcb_ = false;
  peer_tag_ = 0;
  interleaving_ = false;
  partial_reliability_ = false;
  reconfig_supported_ = false;
  outbound_streams_ = 0;
  inbound_streams_ = 0;
  cookie_echo_.clear();
  cookie_echo_pending_ = false;
  sack_now_ = false;
  sack_pending_ = false;
  data_packets_since_sack_ = 0;
  error_count_ = 0;
  shutdown_pending_send_ = false;
  shutdown_ack_pending_send_ = false;
  closing_streams_.clear();
  streams_to_reset_.clear();
  reset_in_flight_.reset();
  reset_retry_at_ = Timestamp::Infinity();
  last_peer_request_result_.reset();
}

void Association::CloseWithEvent(Event event) {
  const bool was_open = state_ != State::kClosed;
  send_queue_.Clear();
  ResetAssociationState();
  my_tag_ = 0;
  state_ = State::kClosed;
  used_ = true;
  if (was_open) EmitEvent(std::move(event));
}

// ===================================================================================================================
// Send path
// ===================================================================================================================

void Association::EmitEvent(Event event) { events_.push_back(std::move(event)); }

void Association::QueuePacket(uint32_t verification_tag, ByteSpan chunk_bytes) {
  // Bounded: replies to a flood that the application does not drain are dropped.
  if (packets_.size() >= kMaxQueuedPackets) return;
  std::vector<uint8_t> packet;
  PacketBuilder b(packet, options_.local_port, options_.remote_port, verification_tag, kMaxPacketSize);
  b.AddRaw(chunk_bytes);
  b.Finish();
  packets_.push_back(std::move(packet));
}

uint32_t Association::AdvertisedReceiveWindow() const {
  const size_t used = reassembly_.buffered_bytes() + pending_event_bytes_;
  return used >= options_.max_receive_buffer ? 0 : static_cast<uint32_t>(options_.max_receive_buffer - used);
}

void Association::AddSack(PacketBuilder& b) {
  const uint32_t rwnd = AdvertisedReceiveWindow();
  tracker_.FillSack(sack_scratch_, rwnd, std::min(b.remaining(), options_.mtu / 2));
  b.Add(sack_scratch_);
  last_advertised_rwnd_ = rwnd;
  sack_now_ = false;
  sack_pending_ = false;
  data_packets_since_sack_ = 0;
  delayed_ack_.Stop();
  stats_.sacks_sent++;
}

void Association::AddDataChunk(PacketBuilder& b, const OutstandingChunk& c, bool immediate) {
  const Fragment& f = c.fragment;
  if (interleaving_) {
    IDataChunk d;
    d.tsn = Wrap32(c.tsn);
    d.stream = f.stream;
    d.mid = f.id;
    d.fsn = f.fsn;
    d.ppid = f.ppid;
    d.unordered = f.unordered;
    d.beginning = f.beginning;
    d.end = f.end;
    d.immediate = immediate;
    d.payload = f.payload();
    b.Add(d);
  } else {
    DataChunk d;
    d.tsn = Wrap32(c.tsn);
    d.stream = f.stream;
    d.ssn = static_cast<uint16_t>(f.id);
    d.ppid = f.ppid;
    d.unordered = f.unordered;
    d.beginning = f.beginning;
    d.end = f.end;
    d.immediate = immediate;
    d.payload = f.payload();
    b.Add(d);
  }
}

std::optional<ByteSpan> Association::PollTransmit(Timestamp now) {
  // A reset asked for while idle (data already acknowledged) goes out with the next poll, not the next packet
  // in.
  if (!streams_to_reset_.empty()) MaybeSendReconfig(now);
  if (!packets_.empty()) {
    tx_buffer_.swap(packets_.front());
    packets_.pop_front();
    stats_.packets_sent++;
    stats_.bytes_sent += tx_buffer_.size();
    return ByteSpan(tx_buffer_);
  }
  if (!tcb_ || state_ == State::kClosed) return std::nullopt;

  PacketBuilder b(tx_buffer_, options_.local_port, options_.remote_port, peer_tag_, options_.mtu);
  // §5.1 C: COOKIE ECHO goes first.
  if (state_ == State::kCookieEchoed && cookie_echo_pending_) {
    CookieEchoChunk echo{cookie_echo_};
    b.Add(echo);
    cookie_echo_pending_ = false;
  }
  // Control chunks, in the order queued.
  while (!control_chunks_.empty() && control_chunks_.front().size() <= b.remaining()) {
    b.AddRaw(control_chunks_.front());
    control_chunks_.pop_front();
  }
  if (!control_chunks_.empty() && b.empty()) {
    // Larger than the MTU (cannot happen with our own chunk sizes): drop rather than wedge the queue.
    control_chunks_.pop_front();
  }
  if (shutdown_pending_send_ && b.remaining() >= 8) {
    b.Add(ShutdownChunk{tracker_.cumulative_tsn_wrapped()});
    shutdown_pending_send_ = false;
  }
  if (shutdown_ack_pending_send_ && b.remaining() >= 4) {
    b.Add(ShutdownAckChunk{});
    shutdown_ack_pending_send_ = false;
  }
  const bool can_send_data = state_ == State::kEstablished || state_ == State::kShutdownPending ||
                             state_ == State::kShutdownReceived;
  // RFC 3758 §3.5 C3: FORWARD-TSN when the Advanced.Peer.Ack.Point moved past the cumulative ack.
  if (can_send_data && rtx_.ShouldSendForwardTsn() && b.remaining() >= 64) {
    if (interleaving_) {
      IForwardTsnChunk f;
      rtx_.BuildIForwardTsn(f);
      while (8 + 8 * f.skipped.size() > b.remaining()) f.skipped.pop_back();
      b.Add(f);
    } else {
      ForwardTsnChunk f;
      rtx_.BuildForwardTsn(f);
      while (8 + 4 * f.skipped.size() > b.remaining()) f.skipped.pop_back();
      b.Add(f);
    }
    stats_.forward_tsns_sent++;
    if (!t3_rtx_.running())
      t3_rtx_.Start(now, rto_.rto());  // C5: a timer must run while it is unacknowledged
  }
  // SACK: when due, or bundled with the DATA we are about to send (§6.2: piggyback).
  const size_t sack_room = 16 + 4 * 8;
  bool data_allowed = can_send_data;
  if (data_allowed && options_.nagle && b.empty() && !sack_now_ && rtx_.has_outstanding() &&
      rtx_.WouldSendOnlySmallNewData(b.remaining())) {
    data_allowed = false;  // Nagle: wait for the outstanding data to be acknowledged
  }
  const bool piggyback = sack_pending_ && data_allowed && b.remaining() > sack_room &&
                         rtx_.CanSendData(b.remaining() - sack_room);
  if ((sack_now_ || piggyback) && b.remaining() >= 16) {
    AddSack(b);
  }
  if (data_allowed) {
    rtx_.BeginPacket();
    bool sent_data = false;
    const OutstandingChunk* last = nullptr;
    size_t last_offset = 0;
    while (const OutstandingChunk* c = rtx_.NextChunk(now, b.remaining())) {
      last_offset = b.size();
      last = c;
      AddDataChunk(b, *c, false);
      sent_data = true;
    }
    if (sent_data) {
      // RFC 7053: ask for an immediate SACK when this packet drains our queue (nothing follows that could
      // make the peer's delayed SACK fire sooner).
      if (last && !send_queue_.HasData()) tx_buffer_[last_offset + 1] |= DataChunk::kFlagImmediate;
      // §6.3.2 R1: T3 runs while data is outstanding.
      if (!t3_rtx_.running()) t3_rtx_.Start(now, rto_.rto());
      // §8.3: the peer is not idle while we send data.
      if (heartbeat_interval_.running()) {
        heartbeat_interval_.deadline = now + options_.heartbeat_interval + rto_.rto();
      }
    }
  }
  if (b.empty()) return std::nullopt;
  const ByteSpan packet = b.Finish();
  stats_.packets_sent++;
  stats_.bytes_sent += packet.size();
  return packet;
}

}  // namespace tandem::sctp
