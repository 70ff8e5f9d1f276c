#include "datachannel/data_channel_manager.h"

#include <algorithm>

#include "core/log.h"

namespace tandem::datachannel {

namespace {
constexpr char kLog[] = "datachannel";
// RFC 8831 §6.2: stream 65535 is reserved.
constexpr uint32_t kMaxStreamId = 65534;
}  // namespace

const char* ToString(ChannelState state) {
  switch (state) {
    case ChannelState::kConnecting:
      return "connecting";
    case ChannelState::kOpen:
      return "open";
    case ChannelState::kClosing:
      return "closing";
    case ChannelState::kClosed:
      return "closed";
  }
  return "unknown";
}

DataChannelManager::DataChannelManager(SctpPort& sctp, ManagerOptions options)
    : sctp_(sctp), options_(options) {}

void DataChannelManager::SetDtlsRole(bool is_client) {
  if (dtls_client_) return;
  dtls_client_ = is_client;
  for (auto& [handle, channel] : channels_) {
    if (channel.id || channel.state == ChannelState::kClosed) continue;
    std::optional<uint16_t> id = AllocateId();
    if (!id) {
      EmitError(handle, "no free SCTP stream id");
      channel.state = ChannelState::kClosed;
      Emit(ChannelEvent::Kind::kClosed, handle);
      continue;
    }
    channel.id = id;
    by_stream_[*id] = handle;
  }
}

std::optional<uint16_t> DataChannelManager::AllocateId() {
  if (!dtls_client_) return std::nullopt;
  // RFC 8832 §6: the DTLS client picks even ids, the server odd ones.
  for (uint32_t id = *dtls_client_ ? 0 : 1; id <= kMaxStreamId; id += 2) {
    if (!by_stream_.contains(static_cast<uint16_t>(id))) return static_cast<uint16_t>(id);
  }
  return std::nullopt;
}

Result<ChannelHandle> DataChannelManager::Create(const ChannelInit& init) {
  if (init.label.size() > OpenMessage::kMaxStringBytes ||
      init.protocol.size() > OpenMessage::kMaxStringBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "label or protocol too long");
  }
  if (init.reliability.max_retransmits && init.reliability.max_packet_lifetime_ms) {
    return MakeError(ErrorCode::kInvalidArgument, "maxRetransmits and maxPacketLifeTime are exclusive");
  }
  if (init.negotiated && !init.id)
    return MakeError(ErrorCode::kInvalidArgument, "a negotiated channel needs an id");
  if (init.id && *init.id > kMaxStreamId) return MakeError(ErrorCode::kInvalidArgument, "id above 65534");
  size_t live = 0;
  for (const auto& [handle, channel] : channels_) live += channel.state != ChannelState::kClosed;
  if (live >= options_.max_channels) return MakeError(ErrorCode::kLimitExceeded, "too many data channels");

  std::optional<uint16_t> id = init.id;
  if (id && by_stream_.contains(*id)) return MakeError(ErrorCode::kAlreadyExists, "a channel uses this id");
  if (!id && dtls_client_) {
    id = AllocateId();
    if (!id) return MakeError(ErrorCode::kLimitExceeded, "no free SCTP stream id");
  }
  const ChannelHandle handle = next_handle_++;
  Channel& channel = channels_[handle];
  channel.handle = handle;
  channel.init = init;
  channel.id = id;
  if (id) by_stream_[*id] = handle;
  if (sctp_connected_ && channel.id) Open(channel);
  return handle;
}

void DataChannelManager::Open(Channel& channel) {
  if (channel.open_sent || channel.state != ChannelState::kConnecting) return;
  channel.open_sent = true;
  if (channel.init.negotiated) {
    channel.state = ChannelState::kOpen;
    ++stats_.channels_opened;
    Emit(ChannelEvent::Kind::kOpen, channel.handle);
    return;
  }
  OpenMessage open;
  open.reliability = channel.init.reliability;
  open.priority = channel.init.priority;
  open.label = channel.init.label;
  open.protocol = channel.init.protocol;
  open.SerializeTo(scratch_);
  // RFC 8832 §6: the OPEN goes reliable and ordered.
  Status sent = sctp_.Send(*channel.id, ppid::kDcep, scratch_, Reliability{});
  if (!sent.ok()) {
    EmitError(channel.handle, "could not send DATA_CHANNEL_OPEN");
    channel.state = ChannelState::kClosed;
    Emit(ChannelEvent::Kind::kClosed, channel.handle);
    return;
  }
  channel.waiting_for_ack = true;
  // W3C: a channel announced with DCEP is "open" for its creator once the OPEN is sent (RFC 8832 §6 lets it
  // send at once); Chromium fires "open" at the same point.
  channel.state = ChannelState::kOpen;
  ++stats_.channels_opened;
  Emit(ChannelEvent::Kind::kOpen, channel.handle);
}

void DataChannelManager::HandleSctpConnected() {
  if (sctp_connected_) return;
  sctp_connected_ = true;
  std::vector<ChannelHandle> pending;
  for (auto& [handle, channel] : channels_) {
    if (channel.state == ChannelState::kConnecting && channel.id) pending.push_back(handle);
  }
  for (ChannelHandle handle : pending) {
    if (Channel* c = ByHandle(handle)) Open(*c);
  }
}

void DataChannelManager::HandleSctpClosed() {
  sctp_connected_ = false;
  for (auto& [handle, channel] : channels_) {
    if (channel.state == ChannelState::kClosed) continue;
    channel.state = ChannelState::kClosed;
    ++stats_.channels_closed;
    Emit(ChannelEvent::Kind::kClosed, handle);
  }
  by_stream_.clear();
}

DataChannelManager::Channel* DataChannelManager::ByStream(uint16_t stream) {
  auto it = by_stream_.find(stream);
  return it == by_stream_.end() ? nullptr : ByHandle(it->second);
}

DataChannelManager::Channel* DataChannelManager::ByHandle(ChannelHandle handle) {
  auto it = channels_.find(handle);
  return it == channels_.end() ? nullptr : &it->second;
}

void DataChannelManager::HandleSctpMessage(uint16_t stream, uint32_t payload_ppid, ByteSpan payload) {
  if (payload_ppid == ppid::kDcep) return HandleDcep(stream, payload);
  HandleSctpMessage(stream, payload_ppid, std::vector<uint8_t>(payload.begin(), payload.end()));
}

void DataChannelManager::HandleSctpMessage(uint16_t stream, uint32_t payload_ppid,
                                           std::vector<uint8_t>&& payload) {
  if (payload_ppid == ppid::kDcep) return HandleDcep(stream, payload);
  Channel* channel = ByStream(stream);
  if (!channel || channel->state == ChannelState::kClosed || channel->state == ChannelState::kConnecting) {
    ++stats_.dropped_messages;
    LOG_TRACE(kLog, "dropped a message on stream " << stream << " without an open channel");
    return;
  }
  // Any user message proves the peer got our OPEN (RFC 8832 §6: it may serve as the ACK).
  channel->waiting_for_ack = false;
  bool binary = false;
  switch (payload_ppid) {
    case ppid::kString:
    case ppid::kStringPartial:
      break;
    case ppid::kStringEmpty:
      payload.clear();
      break;
    case ppid::kBinary:
    case ppid::kBinaryPartial:
      binary = true;
      break;
    case ppid::kBinaryEmpty:
      binary = true;
      payload.clear();
      break;
    default:
      ++stats_.dropped_messages;
      return;
  }
  ++channel->messages_received;
  channel->bytes_received += payload.size();
  Emit(ChannelEvent::Kind::kMessage, channel->handle, binary, std::move(payload));
}

void DataChannelManager::HandleDcep(uint16_t stream, ByteSpan payload) {
  if (AckMessage::Matches(payload)) {
    if (Channel* channel = ByStream(stream)) channel->waiting_for_ack = false;
    return;
  }
  Result<OpenMessage> open = OpenMessage::Parse(payload);
  if (!open.ok()) {
    ++stats_.refused_opens;
    LOG_DEBUG(kLog, "malformed DCEP message on stream " << stream << ": " << open.error().reason);
    return;
  }
  if (by_stream_.contains(stream) || stream > kMaxStreamId) {
    // RFC 8832 §6: an OPEN for a stream in use is an error; the stream is not ours to reset while we use it.
    ++stats_.refused_opens;
    LOG_DEBUG(kLog, "DATA_CHANNEL_OPEN for stream " << stream << ", which is in use");
    return;
  }
  size_t live = 0;
  for (const auto& [handle, channel] : channels_) live += channel.state != ChannelState::kClosed;
  if (live >= options_.max_channels) {
    ++stats_.refused_opens;
    // Refusing = resetting the stream (RFC 8832 §6: "the stream is reset").
    const uint16_t streams[] = {stream};
    (void)sctp_.ResetStreams(streams);
    return;
  }
  const ChannelHandle handle = next_handle_++;
  Channel& channel = channels_[handle];
  channel.handle = handle;
  channel.init.label = std::move(open->label);
  channel.init.protocol = std::move(open->protocol);
  channel.init.reliability = open->reliability;
  channel.init.priority = open->priority;
  channel.init.id = stream;
  channel.id = stream;
  channel.open_sent = true;
  channel.state = ChannelState::kOpen;
  by_stream_[stream] = handle;
  AckMessage::SerializeTo(scratch_);
  (void)sctp_.Send(stream, ppid::kDcep, scratch_, Reliability{});
  ++stats_.channels_opened;
  Emit(ChannelEvent::Kind::kAnnounced, handle);
}

void DataChannelManager::HandleIncomingStreamsReset(std::span<const uint16_t> streams) {
  // RFC 6525 §4.1: an empty list resets every stream.
  std::vector<uint16_t> all;
  if (streams.empty()) {
    for (const auto& [stream, handle] : by_stream_) all.push_back(stream);
    streams = all;
  }
  for (uint16_t stream : streams) {
    Channel* channel = ByStream(stream);
    LOG_DEBUG(kLog, "the peer reset stream " << stream << (channel ? "" : " (no channel)"));
    if (!channel) continue;
    channel->incoming_reset = true;
    if (channel->state == ChannelState::kClosed) {
      // Our close already completed; the peer's answering reset frees the id.
      MaybeFinishClosing(*channel);
      continue;
    }
    if (channel->state != ChannelState::kClosing) {
      channel->state = ChannelState::kClosing;
      Emit(ChannelEvent::Kind::kClosing, channel->handle);
    }
    // RFC 8831 §6.7: answer the peer's reset with ours.
    StartClosing(*channel);
    MaybeFinishClosing(*channel);
  }
}

void DataChannelManager::HandleOutgoingStreamsReset(std::span<const uint16_t> streams) {
  for (uint16_t stream : streams) {
    Channel* channel = ByStream(stream);
    LOG_DEBUG(kLog, "our reset of stream " << stream << " completed");
    if (!channel || !channel->outgoing_reset_requested) continue;
    MaybeFinishClosing(*channel);
    // Our side is reset; the channel is done once the peer's reset arrives too. Chromium answers within an
    // RTT; a peer that never does keeps the id busy, not the channel open.
    if (channel->state == ChannelState::kClosing && !channel->incoming_reset) {
      channel->state = ChannelState::kClosed;
      ++stats_.channels_closed;
      Emit(ChannelEvent::Kind::kClosed, channel->handle);
    }
  }
}

void DataChannelManager::HandleBufferedAmountLow(uint16_t stream) {
  if (Channel* channel = ByStream(stream); channel && channel->state == ChannelState::kOpen) {
    Emit(ChannelEvent::Kind::kBufferedAmountLow, channel->handle);
  }
}

Status DataChannelManager::Send(ChannelHandle handle, ByteSpan data, bool binary) {
  Channel* channel = ByHandle(handle);
  if (!channel || channel->state != ChannelState::kOpen || !channel->id) {
    return MakeError(ErrorCode::kUnavailable, "the data channel is not open");
  }
  if (options_.remote_max_message_size && data.size() > options_.remote_max_message_size) {
    return MakeError(ErrorCode::kLimitExceeded, "message larger than the peer's max-message-size");
  }
  uint32_t payload_ppid = binary ? ppid::kBinary : ppid::kString;
  static constexpr uint8_t kEmptyPlaceholder[1] = {0};
  ByteSpan payload = data;
  if (data.empty()) {
    // RFC 8831 §6.6: an empty message is one byte with the "empty" PPID.
    payload_ppid = binary ? ppid::kBinaryEmpty : ppid::kStringEmpty;
    payload = ByteSpan(kEmptyPlaceholder, 1);
  }
  Reliability reliability = channel->init.reliability;
  // RFC 8832 §6: until the ACK arrives, messages go ordered so that they cannot overtake the OPEN.
  if (channel->waiting_for_ack) reliability.ordered = true;
  Status sent = sctp_.Send(*channel->id, payload_ppid, payload, reliability);
  if (!sent.ok()) return sent;
  ++channel->messages_sent;
  channel->bytes_sent += data.size();
  return OkStatus();
}

void DataChannelManager::Close(ChannelHandle handle) {
  Channel* channel = ByHandle(handle);
  if (!channel || channel->state == ChannelState::kClosing || channel->state == ChannelState::kClosed) return;
  if (!channel->id || !sctp_connected_ || !channel->open_sent) {
    // Never reached the wire: nothing to reset.
    channel->state = ChannelState::kClosed;
    if (channel->id) by_stream_.erase(*channel->id);
    ++stats_.channels_closed;
    Emit(ChannelEvent::Kind::kClosed, handle);
    return;
  }
  channel->state = ChannelState::kClosing;
  StartClosing(*channel);
}

void DataChannelManager::StartClosing(Channel& channel) {
  if (channel.outgoing_reset_requested || !channel.id) return;
  channel.outgoing_reset_requested = true;
  LOG_DEBUG(kLog, "closing stream " << *channel.id << ": resetting our outgoing stream (RFC 8831 §6.7)");
  const uint16_t streams[] = {*channel.id};
  Status reset = sctp_.ResetStreams(streams);
  if (!reset.ok()) {
    LOG_DEBUG(kLog, "stream reset for " << *channel.id << " failed: " << reset.error().reason);
    channel.state = ChannelState::kClosed;
    ++stats_.channels_closed;
    Emit(ChannelEvent::Kind::kClosed, channel.handle);
  }
}

void DataChannelManager::MaybeFinishClosing(Channel& channel) {
  if (!channel.incoming_reset || !channel.outgoing_reset_requested) return;
  // Both directions are (being) reset: the channel is closed for the application now; its id is free once our
  // outgoing reset completes — SCTP queues the reset after outstanding data, so reusing the id early is safe
  // for the peer too (it sees our reset before any new OPEN).
  if (channel.state != ChannelState::kClosed) {
    channel.state = ChannelState::kClosed;
    ++stats_.channels_closed;
    Emit(ChannelEvent::Kind::kClosed, channel.handle);
  }
  if (channel.id) {
    auto it = by_stream_.find(*channel.id);
    if (it != by_stream_.end() && it->second == channel.handle) by_stream_.erase(it);
  }
}

void DataChannelManager::SetBufferedAmountLowThreshold(ChannelHandle handle, size_t bytes) {
  Channel* channel = ByHandle(handle);
  if (!channel) return;
  channel->buffered_amount_low_threshold = bytes;
  if (channel->id) sctp_.SetBufferedAmountLowThreshold(*channel->id, bytes);
}

const ChannelInfo* DataChannelManager::Find(ChannelHandle handle) const {
  auto it = channels_.find(handle);
  return it == channels_.end() ? nullptr : &it->second;
}

size_t DataChannelManager::buffered_amount(ChannelHandle handle) const {
  const ChannelInfo* channel = Find(handle);
  if (!channel || !channel->id || channel->state == ChannelState::kClosed) return 0;
  return sctp_.buffered_amount(*channel->id);
}

std::vector<ChannelHandle> DataChannelManager::handles() const {
  std::vector<ChannelHandle> out;
  out.reserve(channels_.size());
  for (const auto& [handle, channel] : channels_) out.push_back(handle);
  return out;
}

void DataChannelManager::Emit(ChannelEvent::Kind kind, ChannelHandle handle, bool binary,
                              std::vector<uint8_t> data) {
  events_.push_back(ChannelEvent{kind, handle, binary, std::move(data)});
}

void DataChannelManager::EmitError(ChannelHandle handle, std::string_view reason) {
  Emit(ChannelEvent::Kind::kError, handle, false, std::vector<uint8_t>(reason.begin(), reason.end()));
}

std::optional<ChannelEvent> DataChannelManager::PollEvent() {
  if (events_.empty()) return std::nullopt;
  ChannelEvent event = std::move(events_.front());
  events_.pop_front();
  return event;
}

}  // namespace tandem::datachannel
