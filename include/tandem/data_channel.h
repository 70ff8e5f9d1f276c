// RTCDataChannel (W3C webrtc-pc §6.2) of Tandem's native peer. Created by PeerConnection::CreateDataChannel
// or announced by the remote peer (PeerConnection::OnDataChannel); carried by SCTP over DTLS (RFC 8831, RFC
// 8832).
//
// Threading: see peer_connection.h. Callbacks run on the connection's loop thread. Send() may be called from
// any thread without waiting for the loop; bufferedAmount() counts what was sent and not yet handed to the
// network.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tandem {

// RTCDataChannelInit.
struct DataChannelInit {
  bool ordered = true;
  std::optional<uint16_t> max_packet_life_time;  // milliseconds
  std::optional<uint16_t> max_retransmits;
  std::string protocol;
  bool negotiated = false;
  std::optional<uint16_t> id;  // required when negotiated
};

enum class DataChannelState { kConnecting, kOpen, kClosing, kClosed };
const char* ToString(DataChannelState state);  // "connecting", "open", "closing", "closed"

// A received message: text (UTF-8 as sent; not validated) or binary.
struct DataChannelMessage {
  bool binary = false;
  std::vector<uint8_t> data;
  std::string_view text() const { return {reinterpret_cast<const char*>(data.data()), data.size()}; }
};

class DataChannel {
 public:
  virtual ~DataChannel() = default;

  virtual std::string label() const = 0;
  virtual std::string protocol() const = 0;
  virtual std::optional<uint16_t> id() const = 0;  // null until the DTLS role is known
  virtual bool ordered() const = 0;
  virtual std::optional<uint16_t> max_packet_life_time() const = 0;
  virtual std::optional<uint16_t> max_retransmits() const = 0;
  virtual bool negotiated() const = 0;
  virtual DataChannelState ready_state() const = 0;
  virtual size_t buffered_amount() const = 0;
  virtual size_t buffered_amount_low_threshold() const = 0;
  virtual void set_buffered_amount_low_threshold(size_t bytes) = 0;

  // Sends a text or binary message. Throws RtcError "InvalidStateError" unless open, "TypeError" above the
  // peer's max message size, "OperationError" when the send buffer (16 MiB) is full.
  virtual void Send(std::string_view text) = 0;
  virtual void Send(std::span<const uint8_t> binary) = 0;
  virtual void Close() = 0;

  virtual void OnOpen(std::function<void()> handler) = 0;
  virtual void OnMessage(std::function<void(const DataChannelMessage&)> handler) = 0;
  virtual void OnBufferedAmountLow(std::function<void()> handler) = 0;
  virtual void OnClosing(std::function<void()> handler) = 0;
  virtual void OnClose(std::function<void()> handler) = 0;
  virtual void OnError(std::function<void(const std::string&)> handler) = 0;
};

}  // namespace tandem
