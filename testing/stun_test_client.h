// A small blocking STUN/TURN client over real sockets for integration tests and tools: long-term auth (401 → retry
// with REALM/NONCE, 438 → retry with the new nonce), Allocate, CreatePermission, ChannelBind, Send, ChannelData.
// Test-only: timeouts via poll(), bounded retries, no threads.
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/socket_address.h"
#include "stun/message.h"

namespace tandem::testing {

class StunTestClient {
 public:
  enum class Transport { kUdp, kTcp };
  StunTestClient(Transport transport, SocketAddress server, std::string user = {}, std::string password = {});
  ~StunTestClient();
  bool connected() const { return fd_ >= 0; }
  SocketAddress local_address() const;

  struct Response {
    std::vector<uint8_t> bytes;
    stun::MessageView view() const { return *stun::MessageView::Parse(bytes); }
    stun::MessageClass cls() const { return view().message_class(); }
    uint16_t error_code() const {
      auto e = view().GetErrorCode();
      return e ? e->code : 0;
    }
  };

  // Sends a request built by `add_attributes` (called with a builder that has the method/class/tid set; the client
  // adds USERNAME/REALM/NONCE/MESSAGE-INTEGRITY when it has credentials and a nonce) and waits for the response,
  // handling 401/438 once each. nullopt on timeout.
  using AttributeAdder = std::function<void(stun::MessageBuilder&)>;
  std::optional<Response> Request(stun::Method method, const AttributeAdder& add_attributes, int timeout_ms = 2000);

  // Allocate (UDP relay); returns the relayed address.
  std::optional<SocketAddress> Allocate(uint32_t lifetime = 0);
  bool CreatePermission(const SocketAddress& peer);
  bool ChannelBind(uint16_t channel, const SocketAddress& peer);
  void SendIndication(const SocketAddress& peer, ByteSpan data);
  void SendChannelData(uint16_t channel, ByteSpan data);
  // Receives one datagram/frame (raw) within the timeout.
  std::optional<std::vector<uint8_t>> ReceiveRaw(int timeout_ms = 2000);

  void SendRaw(ByteSpan bytes);

 private:
  bool ReceiveFrame(std::vector<uint8_t>& out, int timeout_ms);

  Transport transport_;
  SocketAddress server_;
  std::string user_, password_;
  std::string realm_, nonce_;
  int fd_ = -1;
  SeededRng rng_{1234};
  std::vector<uint8_t> stream_buffer_;
};

// A plain UDP socket on 127.0.0.1 (a TURN "peer").
class UdpPeer {
 public:
  explicit UdpPeer(const IpAddress& ip = IpAddress::LoopbackV4());
  ~UdpPeer();
  SocketAddress address() const;
  void SendTo(const SocketAddress& to, ByteSpan data);
  std::optional<std::pair<SocketAddress, std::vector<uint8_t>>> Receive(int timeout_ms = 2000);

 private:
  int fd_ = -1;
};

}  // namespace tandem::testing
