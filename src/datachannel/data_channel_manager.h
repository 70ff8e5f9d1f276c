// Data channels (RFC 8831) over one SCTP association, opened in-band with DCEP (RFC 8832) or negotiated out
// of band. Sans-IO: the peer feeds it what the association reports (connected, messages, stream resets,
// buffered-amount-low, closed) and it answers through a narrow SctpPort and an event queue.
//
// Channels are known by a handle that never changes (a W3C RTCDataChannel exists before its stream id is
// known: the id depends on the DTLS role, RFC 8832 §6: the DTLS client uses even ids, the server odd ones).
//
// Closing (RFC 8831 §6.7): the closing side resets its outgoing stream; the other side, seeing the incoming
// reset, resets its own outgoing stream; a channel is closed when both directions are reset. Stream ids are
// reused only after that.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "core/time.h"
#include "datachannel/dcep.h"

namespace tandem::datachannel {

// What the manager needs from the SCTP association (an adapter in the peer; a fake in tests).
class SctpPort {
 public:
  virtual ~SctpPort() = default;
  virtual Status Send(uint16_t stream, uint32_t ppid, ByteSpan payload, const Reliability& reliability) = 0;
  virtual Status ResetStreams(std::span<const uint16_t> outgoing) = 0;
  virtual size_t buffered_amount(uint16_t stream) const = 0;
  virtual void SetBufferedAmountLowThreshold(uint16_t stream, size_t bytes) = 0;
};

using ChannelHandle = uint32_t;

enum class ChannelState { kConnecting, kOpen, kClosing, kClosed };
const char* ToString(
    ChannelState state);  // "connecting", "open", "closing", "closed" (W3C RTCDataChannelState)

struct ChannelInit {
  std::string label;
  std::string protocol;
  Reliability reliability;
  bool negotiated = false;
  std::optional<uint16_t> id;  // required when negotiated; otherwise chosen by the manager
  uint16_t priority = 256;
};

struct ChannelEvent {
  enum class Kind {
    kAnnounced,          // the peer opened a channel in-band (W3C "datachannel"); it is open already
    kOpen,               // our channel is open (W3C "open")
    kMessage,            // a message arrived
    kBufferedAmountLow,  // buffered amount fell to or below the threshold
    kClosing,            // the peer started closing it
    kClosed,             // W3C "close"
    kError,              // W3C "error" (e.g. the id could not be used); kClosed follows
  };
  Kind kind;
  ChannelHandle handle = 0;
  bool binary = false;
  std::vector<uint8_t> data;  // kMessage: the payload; kError: the reason as text
};

struct ChannelInfo {
  ChannelHandle handle = 0;
  ChannelInit init;
  std::optional<uint16_t> id;
  ChannelState state = ChannelState::kConnecting;
  uint64_t messages_sent = 0, bytes_sent = 0, messages_received = 0, bytes_received = 0;
  size_t buffered_amount_low_threshold = 0;
};

struct ManagerStats {
  uint64_t channels_opened = 0;  // in-band and negotiated, both sides
  uint64_t channels_closed = 0;
  uint64_t dropped_messages = 0;  // on a stream without a channel, malformed DCEP, wrong PPID
  uint64_t refused_opens = 0;     // DCEP OPEN for a stream in use, over the channel limit, malformed
};

struct ManagerOptions {
  size_t max_channels = 1024;
  // The peer's a=max-message-size (RFC 8841 §6); 0 means "no limit". Sends above it fail.
  size_t remote_max_message_size = 65536;
};

class DataChannelManager {
 public:
  DataChannelManager(SctpPort& sctp, ManagerOptions options);

  // The DTLS role is known: ids for channels created without one can be chosen now.
  void SetDtlsRole(bool is_client);
  void SetRemoteMaxMessageSize(size_t bytes) { options_.remote_max_message_size = bytes; }

  // Creates a channel (W3C createDataChannel). Errors: kInvalidArgument (label/protocol too long, both
  // maxRetransmits and maxPacketLifeTime, negotiated without id), kAlreadyExists (id in use), kLimitExceeded.
  Result<ChannelHandle> Create(const ChannelInit& init);

  // The association is established: opens what was created so far (DCEP OPEN, or directly for negotiated
  // ones).
  void HandleSctpConnected();
  // The association is gone (closed or aborted): every channel closes.
  void HandleSctpClosed();
  void HandleSctpMessage(uint16_t stream, uint32_t ppid, ByteSpan payload);
  // The same, taking the reassembled payload over: it becomes the kMessage event's data without a copy.
  void HandleSctpMessage(uint16_t stream, uint32_t ppid, std::vector<uint8_t>&& payload);
  void HandleIncomingStreamsReset(std::span<const uint16_t> streams);
  void HandleOutgoingStreamsReset(std::span<const uint16_t> streams);
  void HandleBufferedAmountLow(uint16_t stream);

  // Sends one message (W3C send). Errors: kUnavailable when not open, kLimitExceeded above the peer's max
  // message size or when the SCTP send buffer is full.
  Status Send(ChannelHandle handle, ByteSpan data, bool binary);
  // Starts closing (W3C close()); no-op when closing or closed.
  void Close(ChannelHandle handle);
  void SetBufferedAmountLowThreshold(ChannelHandle handle, size_t bytes);

  const ChannelInfo* Find(ChannelHandle handle) const;
  size_t buffered_amount(ChannelHandle handle) const;
  std::vector<ChannelHandle> handles() const;
  const ManagerStats& stats() const { return stats_; }

  std::optional<ChannelEvent> PollEvent();

 private:
  struct Channel : ChannelInfo {
    bool outgoing_reset_requested = false;
    bool incoming_reset = false;
    bool waiting_for_ack =
        false;  // we sent OPEN; until the ACK (or any message) data goes ordered (RFC 8832 §6)
    bool open_sent = false;
  };

  Channel* ByStream(uint16_t stream);
  Channel* ByHandle(ChannelHandle handle);
  std::optional<uint16_t> AllocateId();
  void Open(Channel& channel);
  void HandleDcep(uint16_t stream, ByteSpan payload);
  void StartClosing(Channel& channel);
  void MaybeFinishClosing(Channel& channel);
  void Emit(ChannelEvent::Kind kind, ChannelHandle handle, bool binary = false,
            std::vector<uint8_t> data = {});
  void EmitError(ChannelHandle handle, std::string_view reason);

  SctpPort& sctp_;
  ManagerOptions options_;
  std::optional<bool> dtls_client_;
  bool sctp_connected_ = false;
  ChannelHandle next_handle_ = 1;
  std::map<ChannelHandle, Channel> channels_;
  std::unordered_map<uint16_t, ChannelHandle> by_stream_;
  std::deque<ChannelEvent> events_;
  std::vector<uint8_t> scratch_;
  ManagerStats stats_;
};

}  // namespace tandem::datachannel
