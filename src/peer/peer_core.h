// PeerCore: the sans-IO peer connection. It composes the protocol cores — ICE (src/ice), DTLS (src/dtls),
// SCTP (src/sctp) and data channels (src/datachannel) — with JSEP (RFC 8829) offer/answer on the SDP model
// (src/sdp), and keeps the W3C state machines (signaling, ICE gathering, ICE connection, connection states).
//
// Like every core it opens no socket and reads no clock: the driver (src/peer/peer_connection.cc, or a test
// on a simulated network) binds host sockets and registers them (AddHostEndpoint), feeds datagrams, stream
// bytes, name resolutions and timeouts, and drains PollTransmit() (send each at once: the view is valid until
// the next non-const call), PollEvent() and PollTimeout().
//
// Transport: one ICE agent, one DTLS association and one SCTP association for everything (BUNDLE with
// max-bundle, rtcp-mux). The ICE agent is created on the first offer or remote offer, when the ICE role is
// known (RFC 8445 §6.1.1: the offerer controls unless it is lite). The DTLS role follows a=setup (RFC 8842
// §5.3: we offer actpass and answer active), the DTLS client starts its handshake once ICE has selected a
// pair; SCTP connects once DTLS is up; data channels open once SCTP is.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/bytes.h"
#include "core/rng.h"
#include "core/socket_address.h"
#include "core/time.h"
#include "datachannel/data_channel_manager.h"
#include "dtls/certificate.h"
#include "dtls/dtls_transport.h"
#include "ice/agent.h"
#include "peer/media_jsep.h"
#include "sctp/association.h"
#include "sdp/session_description.h"
#include "session/rtp_session.h"
#include "tandem/peer_connection.h"

namespace tandem::peer {

struct PeerCoreConfig {
  std::vector<ice::ServerConfig> ice_servers;  // resolved addresses
  bool relay_only = false;
  bool ice_lite = false;
  dtls::Certificate certificate;  // required
  size_t max_message_size = 256 * 1024;
  // Timers of the cores, for tests that want them shorter; defaults otherwise.
  ice::AgentConfig ice_template;
  sctp::Options sctp_template;
  dtls::DtlsConfig dtls_template;
};

// A W3C-shaped failure: `name` is the DOMException name ("InvalidStateError", "OperationError", ...).
struct JsepError {
  std::string name;
  std::string message;
};

template <typename T>
class JsepResult {
 public:
  JsepResult(T value) : v_(std::move(value)) {}          // NOLINT(google-explicit-constructor)
  JsepResult(JsepError error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  T& value() { return std::get<0>(v_); }
  const JsepError& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, JsepError> v_;
};
using JsepStatus = std::optional<JsepError>;  // nullopt on success

// --- Events (drained with PollEvent) ---
struct IceCandidateEvent {
  std::optional<IceCandidate> candidate;  // nullopt: end-of-candidates
};
struct SignalingStateEvent {
  SignalingState state;
};
struct IceGatheringStateEvent {
  IceGatheringState state;
};
struct IceConnectionStateEvent {
  IceConnectionState state;
};
struct ConnectionStateEvent {
  PeerConnectionState state;
};
struct NegotiationNeededEvent {};
struct DataChannelEvent {
  datachannel::ChannelEvent event;
};
// Media (W3C RTCRtpTransceiver), by id.
using TransceiverId = uint32_t;
// A remote track arrived (W3C "process the addition of a remote track": fire track).
struct TrackAddedEvent {
  TransceiverId transceiver = 0;
  sdp::MediaType kind = sdp::MediaType::kVideo;
  std::vector<std::string> stream_ids;
  std::string track_id;
};
// The remote side stopped sending on this transceiver (W3C "process the removal of a remote track").
struct TrackEndedEvent {
  TransceiverId transceiver = 0;
};
// A received video frame (complete, decodable, in decode order) or an audio playout step, for a transceiver.
// `data` owns the bytes: point `video.data` / `audio.payload` at it before use (see Bytes()).
struct MediaFrameEvent {
  TransceiverId transceiver = 0;
  bool is_video = true;
  std::vector<uint8_t> data;
  media::EncodedVideoFrame video;  // data: empty span (use `data`)
  media::AudioPlayout audio;       // payload: empty span (use `data`)
};
// The peer asked for a key frame on what we send on this transceiver (PLI/FIR).
struct KeyFrameRequestEvent {
  TransceiverId transceiver = 0;
};
// The bandwidth estimate's share for what we send on this transceiver (encoder target).
struct TargetBitrateEvent {
  TransceiverId transceiver = 0;
  int64_t bps = 0;
};
// Requests for the driver (from ICE).
struct OpenStreamRequest {
  ice::OpenStream request;
};
struct CloseStreamRequest {
  ice::CloseStream request;
};
struct ResolveHostnameRequest {
  std::string name;
};
using PeerEvent =
    std::variant<IceCandidateEvent, SignalingStateEvent, IceGatheringStateEvent, IceConnectionStateEvent,
                 ConnectionStateEvent, NegotiationNeededEvent, DataChannelEvent, OpenStreamRequest,
                 CloseStreamRequest, ResolveHostnameRequest, TrackAddedEvent, TrackEndedEvent,
                 MediaFrameEvent, KeyFrameRequestEvent, TargetBitrateEvent>;

struct PeerCoreCounters {
  uint64_t dropped_before_dtls =
      0;                         // DTLS datagrams with no transport to take them (bounded early queue full)
  uint64_t dropped_rtp = 0;      // RTP/RTCP with no media support negotiated
  uint64_t dropped_unknown = 0;  // neither DTLS nor RTP (RFC 7983)
  uint64_t sctp_send_errors = 0;
  uint64_t dropped_unsent = 0;  // DTLS datagrams with no selected pair, beyond the bounded wait queue
};

class PeerCore {
 public:
  // `rng` must outlive the core.
  PeerCore(PeerCoreConfig config, Rng& rng);
  ~PeerCore();
  PeerCore(const PeerCore&) = delete;
  PeerCore& operator=(const PeerCore&) = delete;

  // --- Driver ---
  // A bound UDP socket on an interface address; call before the first description (later ones join at once).
  ice::EndpointId AddHostEndpoint(Timestamp now, const SocketAddress& bound);
  void HandleReceive(Timestamp now, ice::EndpointId endpoint, const SocketAddress& from, ByteSpan data);
  void HandleStreamOpened(Timestamp now, ice::EndpointId id, const SocketAddress& local);
  void HandleStreamClosed(Timestamp now, ice::EndpointId id);
  void HandleStreamData(Timestamp now, ice::EndpointId id, ByteSpan bytes);
  void HandleHostnameResolved(Timestamp now, const std::string& name, std::optional<IpAddress> ip);
  void HandleTimeout(Timestamp now);
  std::optional<ice::Transmit> PollTransmit();
  std::optional<PeerEvent> PollEvent();
  Timestamp PollTimeout() const;

  // --- JSEP / W3C ---
  JsepResult<std::string> CreateOffer(Timestamp now, bool ice_restart);
  JsepResult<std::string> CreateAnswer(Timestamp now);
  JsepStatus SetLocalDescription(Timestamp now, SdpType type, const std::string& sdp);
  JsepStatus SetRemoteDescription(Timestamp now, SdpType type, const std::string& sdp);
  JsepStatus AddIceCandidate(Timestamp now, const std::optional<IceCandidate>& candidate);
  void RestartIce(Timestamp now);
  void Close(Timestamp now);

  // The descriptions as W3C returns them: the local one with the candidates gathered so far.
  std::optional<SessionDescription> local_description() const;
  std::optional<SessionDescription> remote_description() const;
  SignalingState signaling_state() const { return signaling_state_; }
  IceGatheringState ice_gathering_state() const { return gathering_state_; }
  IceConnectionState ice_connection_state() const { return ice_state_; }
  PeerConnectionState connection_state() const { return connection_state_; }
  size_t max_message_size() const;

  // --- Media transceivers (W3C webrtc-pc §5) ---
  // A track to send: its id and the stream ids of its a=msid (RFC 8830).
  struct LocalTrack {
    std::string track_id;
    std::vector<std::string> stream_ids;
  };
  struct TransceiverState {
    TransceiverId id = 0;
    sdp::MediaType kind = sdp::MediaType::kVideo;
    std::optional<std::string> mid;
    sdp::Direction direction = sdp::Direction::kSendRecv;
    std::optional<sdp::Direction> current_direction;
    bool stopped = false;
    bool has_track = false;
    std::vector<NegotiatedCodec> codecs;  // of the current negotiation
    NegotiatedExtensions extensions;
    uint32_t ssrc = 0, rtx_ssrc = 0;     // what we send with
    std::vector<uint32_t> remote_ssrcs;  // signalled by the peer (a=ssrc), media then RTX
  };
  TransceiverId AddTransceiver(sdp::MediaType kind, sdp::Direction direction,
                               std::optional<LocalTrack> track);
  // W3C addTrack: reuses a transceiver of that kind that the remote side created and that never sent,
  // otherwise adds one (sendrecv).
  TransceiverId AddTrack(sdp::MediaType kind, LocalTrack track);
  // W3C replaceTrack (nullopt: send nothing), no renegotiation.
  void SetSenderTrack(TransceiverId id, std::optional<LocalTrack> track);
  // W3C removeTrack: no track, and the direction stops sending (sendrecv → recvonly, sendonly → inactive).
  void RemoveTrack(TransceiverId id);
  void SetDirection(TransceiverId id, sdp::Direction direction);
  void StopTransceiver(TransceiverId id);
  std::vector<TransceiverState> transceivers() const;
  std::optional<TransceiverState> transceiver(TransceiverId id) const;
  // One encoded frame (video) or Opus packet (audio) of the transceiver's sender. kUnavailable while it does
  // not send (not negotiated yet, direction, no keys), or the session's error.
  Status SendMediaFrame(Timestamp now, TransceiverId id, const session::EncodedFrame& frame);
  // The decoder of the transceiver's receiver failed on a frame: resynchronize on a key frame (PLI).
  void ReportDecodeError(Timestamp now, TransceiverId id);
  const session::RtpSession& media_session() const { return *media_; }

  // --- Data channels ---
  JsepResult<datachannel::ChannelHandle> CreateDataChannel(const datachannel::ChannelInit& init);
  Status SendData(datachannel::ChannelHandle handle, ByteSpan data, bool binary);
  void CloseDataChannel(datachannel::ChannelHandle handle);
  void SetBufferedAmountLowThreshold(datachannel::ChannelHandle handle, size_t bytes);
  const datachannel::ChannelInfo* FindDataChannel(datachannel::ChannelHandle handle) const;
  size_t buffered_amount(datachannel::ChannelHandle handle) const;

  StatsReport GetStats(Timestamp now, double wall_ms) const;
  const PeerCoreCounters& counters() const { return counters_; }
  // For tests and tools.
  const ice::Agent* ice_agent() const { return agent_.get(); }
  const dtls::DtlsTransport* dtls_transport() const { return dtls_.get(); }
  const sctp::Association* sctp_association() const { return sctp_.get(); }

 private:
  class SctpAdapter;
  struct Description {
    SdpType type;
    sdp::SessionDescription model;
    std::string text;
  };
  // One m= section of the negotiation, in m-line order (RFC 8829 §5.2.1: m-lines are never removed).
  struct MSection {
    std::string mid;
    sdp::MediaType type = sdp::MediaType::kApplication;
    bool rejected = false;  // port 0 in the current negotiation
    std::string proto;
    // The peer's latest version of this section (to answer it, and to mirror it with port 0 when rejected).
    sdp::MediaDescription remote;
    std::optional<TransceiverId> transceiver;  // audio/video
  };
  struct Transceiver {
    TransceiverState state;
    std::optional<LocalTrack> track;
    bool created_by_remote = false;  // by setRemoteDescription (W3C), reusable by addTrack
    bool ever_sent = false;          // its sender ever had a track
    // The peer's side (from its latest description).
    std::optional<sdp::Direction> remote_direction;
    std::vector<std::string> remote_stream_ids;
    std::string remote_track_id;
    bool receiving = false;  // a remote track was announced (TrackAddedEvent) and not ended
    std::optional<sdp::Direction> answered_direction;  // what our last answer said, for negotiation-needed
    std::optional<sdp::Direction> offered_reversed;    // the peer's offered direction, reversed
    // The RTP session's streams for this transceiver, and what they were configured with.
    std::optional<session::StreamId> send_stream, receive_stream;
    std::optional<session::Codec> send_codec;
    std::optional<session::ReceiveStreamConfig> receive_config;
  };

  void EnsureAgent(Timestamp now, ice::Role role);
  void EnsureDtls(Timestamp now, dtls::Role role);
  void EnsureSctp(Timestamp now);
  sdp::SessionDescription BuildDescription(bool offer, const std::string& ufrag,
                                           const std::string& pwd) const;
  std::optional<JsepError> ApplyRemote(Timestamp now, const sdp::SessionDescription& remote, SdpType type);
  std::optional<JsepError> ApplyLocal(Timestamp now, const Description& local);
  void SetSignalingState(SignalingState state);
  void UpdateConnectionState();
  void MaybeNegotiationNeeded();
  bool NeedsNegotiation() const;
  const MSection* DataSection() const;
  Transceiver* FindTransceiver(TransceiverId id);
  std::string NewMid() const;
  // Fills the audio/video part of one of our sections (offer or answer) for its transceiver.
  void BuildMediaSection(const MSection& section, bool offer, sdp::MediaDescription& m) const;
  // The remote description's view of a media section: directions, tracks, SSRCs.
  void ApplyRemoteMedia(const MSection& section, const sdp::MediaDescription& m, bool is_offer);
  // A negotiation completed (stable again): what each transceiver now sends and receives, with which codecs.
  void ApplyNegotiatedMedia();
  // Creates, updates and removes the RTP session's streams to match the transceivers' negotiated state.
  void ConfigureMediaStreams();
  void HandleMediaEvent(session::Event event);
  // After a rollback: transceivers whose section went away lose their mid.
  void ForgetUnusedMids();
  // Moves data between the cores until nothing is left to do.
  void Pump(Timestamp now);
  void DeliverApplicationData(Timestamp now, ByteSpan data);
  // Hands a DTLS datagram to ICE, or keeps it (bounded) until ICE has a pair to send it on.
  void SendOnIce(Timestamp now, ByteSpan datagram);
  void HandleIceEvent(Timestamp now, ice::Event event);
  void HandleSctpEvent(Timestamp now, sctp::Event event);
  void Emit(PeerEvent event) { events_.push_back(std::move(event)); }

  PeerCoreConfig config_;
  Rng& rng_;
  bool closed_ = false;
  uint64_t session_id_ = 0;
  uint64_t session_version_ = 1;

  // JSEP state.
  SignalingState signaling_state_ = SignalingState::kStable;
  std::optional<Description> current_local_, pending_local_, current_remote_, pending_remote_;
  std::vector<MSection> msections_;
  std::vector<Transceiver> transceivers_;  // index = TransceiverId - 1
  std::string cname_;                      // RFC 3550 §6.5.1, one per connection
  bool ice_restart_requested_ = false;
  std::optional<std::pair<std::string, std::string>> offered_credentials_;  // ufrag/pwd of our restart offer
  std::optional<std::string> last_created_offer_, last_created_answer_;
  bool negotiation_needed_ = false;
  std::optional<dtls::Role> dtls_role_;
  size_t remote_max_message_size_ = 65536;
  uint16_t remote_sctp_port_ = 5000;
  std::string remote_ufrag_;

  // Transports.
  std::vector<std::pair<ice::EndpointId, SocketAddress>> pending_endpoints_;
  std::vector<SocketAddress> host_addresses_;
  std::unique_ptr<ice::Agent> agent_;
  bool gathering_started_ = false;
  std::vector<ice::Candidate> local_candidates_;
  bool gathering_complete_ = false;
  std::unique_ptr<dtls::DtlsTransport> dtls_;
  bool dtls_started_ = false;
  std::deque<std::vector<uint8_t>> early_dtls_;  // DTLS datagrams that came before we knew our DTLS role
  std::deque<std::vector<uint8_t>> unsent_;      // DTLS datagrams waiting for a selected pair
  std::unique_ptr<sctp::Association> sctp_;
  bool sctp_connect_sent_ = false;
  std::unique_ptr<SctpAdapter> sctp_adapter_;
  std::unique_ptr<datachannel::DataChannelManager> channels_;
  std::unique_ptr<session::RtpSession> media_;
  std::optional<ice::Transmit> stream_payload_pending_;

  // W3C states.
  IceGatheringState gathering_state_ = IceGatheringState::kNew;
  IceConnectionState ice_state_ = IceConnectionState::kNew;
  PeerConnectionState connection_state_ = PeerConnectionState::kNew;

  std::deque<PeerEvent> events_;
  PeerCoreCounters counters_;
  Timestamp now_ = Timestamp::Zero();
};

}  // namespace tandem::peer
