// Tandem's native WebRTC peer: an API shaped like the W3C RTCPeerConnection (webrtc-pc), for C++
// applications, bots and servers that must talk to browsers the way a browser does.
//
//   tandem::RtcConfiguration config;
//   config.ice_servers = {{{"stun:stun.example.org:3478"}}};
//   tandem::PeerConnection pc(config);
//   pc.OnIceCandidate([&](std::optional<tandem::IceCandidate> c) { signal(c); });  // nullopt:
//   end-of-candidates auto channel = pc.CreateDataChannel("chat"); channel->OnMessage([](const
//   tandem::DataChannelMessage& m) { ... }); pc.SetLocalDescription(pc.CreateOffer());
//   ... pc.SetRemoteDescription(answer_from_signaling);  pc.AddIceCandidate(candidate_from_signaling);
//
// Threading. Every PeerConnection runs on an event loop thread of a Runtime (its own one unless the
// configuration shares one between several connections). All callbacks — of the PeerConnection and of its
// DataChannels — run on that thread, one at a time, in order. Every method may be called from any thread,
// including from inside a callback; calls made from other threads are run on the loop and wait for it
// (DataChannel::Send does not wait: it queues, and bufferedAmount grows at once, as in the W3C API).
// Destroying the PeerConnection closes it; no callback runs after the destructor returns.
//
// Errors. Methods that a browser rejects or throws from throw tandem::RtcError with the W3C DOMException name
// ("InvalidStateError", "InvalidAccessError", "OperationError", "SyntaxError", "TypeError", ...) and a
// message saying what was wrong; for a malformed SDP the message names the line and why.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tandem/certificate.h"
#include "tandem/data_channel.h"
#include "tandem/media.h"
#include "tandem/runtime.h"

namespace tandem {

// A failed operation, named like the DOMException a browser would raise.
class RtcError : public std::runtime_error {
 public:
  RtcError(std::string name, const std::string& message)
      : std::runtime_error(message), name_(std::move(name)) {}
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

// RTCIceServer: "stun:host:port", "turn:host:port?transport=udp|tcp", "turns:host:port" URLs with
// credentials.
struct IceServer {
  std::vector<std::string> urls;
  std::string username;
  std::string credential;
};

enum class IceTransportPolicy { kAll, kRelay };

struct RtcConfiguration {
  std::vector<IceServer> ice_servers;
  IceTransportPolicy ice_transport_policy = IceTransportPolicy::kAll;
  // DTLS certificates; one is generated (ECDSA P-256) when empty. Only the first is used.
  std::vector<Certificate> certificates;
  // Shares an event loop thread between connections; a new Runtime with one thread when null.
  std::shared_ptr<Runtime> runtime;

  // Beyond the W3C configuration:
  // Be an ICE-lite agent (RFC 8445 §2.5): host candidates only, always controlled. For servers with public
  // addresses.
  bool ice_lite = false;
  // Local addresses to gather host candidates on; every usable interface when empty (loopback only when there
  // is no other address, as in a network namespace with only `lo`).
  std::vector<std::string> host_addresses;
  // Also gather on loopback when other interfaces exist (tests on one machine).
  bool include_loopback = false;
  // Largest data channel message we accept (a=max-message-size, RFC 8841 §6); also the largest we send to a
  // peer that announces no limit.
  size_t max_message_size = 256 * 1024;
  // UDP port range for host candidates (0 = any ephemeral port).
  uint16_t port_range_begin = 0;
  uint16_t port_range_end = 0;
  // Verify TURN-over-TLS (turns:) server certificates against the system CA store.
  bool verify_turns_certificates = true;
  // Testing and demos of loss recovery: drop this fraction (0..1) of the RTP/RTCP datagrams sent and received
  // on host candidates, at random (NACK/RTX, PLI and the bandwidth estimate then have work to do).
  double simulated_media_loss = 0;
};

enum class SdpType { kOffer, kPranswer, kAnswer, kRollback };
const char* ToString(SdpType type);  // "offer", "pranswer", "answer", "rollback"
std::optional<SdpType> ParseSdpType(std::string_view text);

// RTCSessionDescriptionInit.
struct SessionDescription {
  SdpType type = SdpType::kOffer;
  std::string sdp;
};

// RTCIceCandidateInit. `candidate` is "candidate:..." (an empty string is end-of-candidates for that
// section).
struct IceCandidate {
  std::string candidate;
  std::optional<std::string> sdp_mid;
  std::optional<uint16_t> sdp_mline_index;
  std::optional<std::string> username_fragment;
};

struct OfferOptions {
  bool ice_restart = false;
};

enum class SignalingState {
  kStable,
  kHaveLocalOffer,
  kHaveRemoteOffer,
  kHaveLocalPranswer,
  kHaveRemotePranswer,
  kClosed
};
enum class IceGatheringState { kNew, kGathering, kComplete };
enum class IceConnectionState { kNew, kChecking, kConnected, kCompleted, kDisconnected, kFailed, kClosed };
enum class PeerConnectionState { kNew, kConnecting, kConnected, kDisconnected, kFailed, kClosed };
// The W3C enum strings: "have-local-offer", "gathering", "checking", "connected", ...
const char* ToString(SignalingState state);
const char* ToString(IceGatheringState state);
const char* ToString(IceConnectionState state);
const char* ToString(PeerConnectionState state);

// One RTCStats dictionary: `type` and members named as in W3C webrtc-stats ("candidate-pair" with "state",
// "nominated", "bytesSent", "currentRoundTripTime", ...).
using StatsValue = std::variant<bool, int64_t, uint64_t, double, std::string>;
struct RtcStats {
  std::string id;
  std::string type;
  double timestamp_ms = 0;  // wall clock, milliseconds since the Unix epoch
  std::map<std::string, StatsValue> members;
  // Convenience: a member as a number or string when present with that type.
  std::optional<double> Number(const std::string& name) const;
  std::optional<std::string> String(const std::string& name) const;
};
// RTCStatsReport: id -> stats.
struct StatsReport {
  std::map<std::string, RtcStats> stats;
  std::vector<const RtcStats*> OfType(std::string_view type) const;
  // The selected candidate pair (via the transport's selectedCandidatePairId), or null.
  const RtcStats* SelectedCandidatePair() const;
  std::string ToJson() const;
};

class PeerConnection {
 public:
  explicit PeerConnection(RtcConfiguration configuration = {});
  ~PeerConnection();
  PeerConnection(const PeerConnection&) = delete;
  PeerConnection& operator=(const PeerConnection&) = delete;

  // JSEP (RFC 8829 §4.1.8 onwards).
  SessionDescription CreateOffer(const OfferOptions& options = {});
  SessionDescription CreateAnswer();
  void SetLocalDescription(const SessionDescription& description);
  // Implicit: creates the offer or answer the signaling state calls for (W3C setLocalDescription()).
  void SetLocalDescription();
  void SetRemoteDescription(const SessionDescription& description);
  // Trickle ICE; nullopt is end-of-candidates (W3C addIceCandidate()).
  void AddIceCandidate(const std::optional<IceCandidate>& candidate);
  void RestartIce();
  std::optional<SessionDescription> LocalDescription() const;
  std::optional<SessionDescription> RemoteDescription() const;
  SignalingState signaling_state() const;
  IceGatheringState ice_gathering_state() const;
  IceConnectionState ice_connection_state() const;
  PeerConnectionState connection_state() const;
  // The peer's a=max-message-size, or ours before negotiation (W3C RTCSctpTransport.maxMessageSize).
  size_t max_message_size() const;

  std::shared_ptr<DataChannel> CreateDataChannel(const std::string& label, const DataChannelInit& init = {});

  // Media (W3C webrtc-pc §5). Tracks come from the factories of media.h. addTrack reuses a transceiver of
  // that kind that a remote offer created and that never sent (the way to answer a call with our own media).
  std::shared_ptr<RtpSender> AddTrack(std::shared_ptr<MediaStreamTrack> track,
                                      const std::vector<std::string>& stream_ids = {});
  void RemoveTrack(const std::shared_ptr<RtpSender>& sender);
  std::shared_ptr<RtpTransceiver> AddTransceiver(std::shared_ptr<MediaStreamTrack> track,
                                                 const TransceiverInit& init = {});
  std::shared_ptr<RtpTransceiver> AddTransceiver(MediaKind kind, const TransceiverInit& init = {});
  std::vector<std::shared_ptr<RtpTransceiver>> GetTransceivers() const;

  StatsReport GetStats() const;
  void Close();

  // Events (W3C names). Set them before starting negotiation; each replaces the previous handler.
  void OnIceCandidate(std::function<void(const std::optional<IceCandidate>&)> handler);
  void OnIceGatheringStateChange(std::function<void(IceGatheringState)> handler);
  void OnIceConnectionStateChange(std::function<void(IceConnectionState)> handler);
  void OnConnectionStateChange(std::function<void(PeerConnectionState)> handler);
  void OnSignalingStateChange(std::function<void(SignalingState)> handler);
  void OnNegotiationNeeded(std::function<void()> handler);
  void OnDataChannel(std::function<void(std::shared_ptr<DataChannel>)> handler);
  // A remote track (W3C "track" event): set its sinks or Record() it in the handler.
  void OnTrack(std::function<void(const TrackEvent&)> handler);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace tandem
