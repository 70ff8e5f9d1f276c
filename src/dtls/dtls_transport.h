// Sans-IO DTLS 1.2 transport for WebRTC (RFC 6347, RFC 8827 §6.5, RFC 5763/5764, RFC 8842), built on OpenSSL
// 3 with memory BIOs. It never touches a socket or a clock: the peer connection feeds it the datagrams that
// RFC 7983 §7 classifies as DTLS and the current time, then drains what it produced:
//
//   transport.HandleReceive(now, datagram);            // or HandleTimeout(now) when PollTimeout() has passed
//   while (auto d = transport.PollTransmit()) ...      // datagrams to send, each at most config.mtu bytes
//   while (auto e = transport.PollEvent()) ...         // kConnected / kClosed / kFailed
//   while (auto r = transport.PollApplicationData()) ...  // one decrypted record each (SCTP packets)
//   next_wakeup = transport.PollTimeout();
//
// Retransmission runs on the injected time only (RFC 6347 §4.2.4): a flight that is not answered is resent at
// initial_retransmit, then at doubling intervals capped at max_retransmit, and the handshake fails after
// handshake_timeout. See dtls_transport.cc for how OpenSSL's wall-clock timer is kept out of the way.
//
// The remote certificate is authenticated by the SDP fingerprint only (RFC 8122 §5): any certificate is
// accepted by the X.509 layer and its digest compared with the fingerprints. The fingerprints may arrive
// after the handshake has finished (an offerer can receive the ClientHello before the answer): kConnected is
// then emitted only once they match, and application data received in between is held, bounded by
// max_held_records / max_held_bytes (beyond that it is dropped and counted).
//
// Not thread-safe: one transport belongs to one event loop. Views returned by PollTransmit and
// PollApplicationData stay valid until the next call other than a Poll* or const method, so a driver may
// collect several datagrams (for sendmmsg) before sending them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "core/time.h"
#include "dtls/certificate.h"
#include "dtls/fingerprint.h"
#include "dtls/srtp.h"

namespace tandem::dtls {

// RFC 5763 §5: a=setup:active is the DTLS client, a=setup:passive the server (actpass lets the answerer
// choose).
enum class Role { kClient, kServer };
const char* ToString(Role role);

enum class DtlsState {
  kNew,         // constructed; Start() not yet called (a server still accepts a ClientHello)
  kConnecting,  // handshake running, or finished and waiting for the remote fingerprint
  kConnected,   // handshake done and the remote certificate matched its fingerprint
  kClosed,      // close_notify sent or received
  kFailed,      // handshake failure, fingerprint mismatch, fatal alert or handshake timeout
};
const char* ToString(DtlsState state);

struct DtlsConfig {
  Role role = Role::kClient;
  Certificate certificate;                       // required
  std::vector<Fingerprint> remote_fingerprints;  // may be empty at first: see SetRemoteFingerprints
  // Largest datagram we send (the UDP payload). Handshake messages are fragmented to fit (RFC 6347 §4.2.3).
  size_t mtu = 1200;
  // use_srtp profiles in preference order (RFC 5764 §4.1.1); empty: no use_srtp extension (data channels
  // only).
  std::vector<SrtpProfile> srtp_profiles;
  // RFC 6347 §4.2.4.1 recommends 1 s initially; WebRTC stacks use shorter values on ICE-validated paths.
  TimeDelta initial_retransmit = TimeDelta::Millis(100);
  TimeDelta max_retransmit = TimeDelta::Seconds(4);
  TimeDelta handshake_timeout = TimeDelta::Seconds(30);  // from Start() until kConnected; at most one hour
  // Application data received before kConnected (remote fingerprint still unknown) is held up to these
  // bounds.
  size_t max_held_records = 64;
  size_t max_held_bytes = 256 * 1024;
  // Decrypted records not yet polled, and datagrams not yet polled, are bounded too (the caller should drain
  // them after every call); beyond the bound new ones are dropped and counted.
  size_t max_queued_records = 1024;
  size_t max_queued_datagrams = 1024;
};

struct DtlsEvent {
  enum class Kind { kConnected, kClosed, kFailed };
  Kind kind = Kind::kConnected;
  std::string reason;  // human readable, for kClosed and kFailed
};
const char* ToString(DtlsEvent::Kind kind);

// Counters, never reset. "records" are DTLS records (RFC 6347 §4.1); a datagram can carry several.
struct DtlsStats {
  uint64_t datagrams_received = 0;
  uint64_t bytes_received = 0;
  uint64_t records_received = 0;  // in datagrams that passed the framing check
  uint64_t datagrams_sent = 0;    // as handed out by PollTransmit
  uint64_t bytes_sent = 0;
  uint64_t records_sent = 0;
  uint64_t application_records_received = 0;
  uint64_t application_bytes_received = 0;
  uint64_t application_records_sent = 0;
  uint64_t application_bytes_sent = 0;
  // Handshake flights armed with a retransmission timer (first transmissions). A server's final flight has no
  // timer (RFC 6347 §4.2.4): it is resent when the client's last flight arrives again.
  uint64_t flights_sent = 0;
  uint64_t retransmissions = 0;  // flights resent on timeout
  // Datagrams that are not a sequence of well-formed DTLS records (record.h), or larger than any valid one.
  uint64_t malformed_dropped = 0;
  uint64_t dropped_wrong_state = 0;          // datagrams before Start() (client), after close or failure
  uint64_t application_records_dropped = 0;  // over the held / queued bounds
  uint64_t transmit_dropped = 0;             // datagrams dropped because the transmit queue was full
};

// What the handshake agreed on.
struct NegotiatedParameters {
  std::string cipher_suite;             // IANA name, e.g. "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
  bool extended_master_secret = false;  // RFC 7627
  SrtpProfile srtp_profile = SrtpProfile::kNone;
};

class DtlsTransport {
 public:
  // Largest application record (RFC 6347 §4.1: TLSPlaintext.length is at most 2^14).
  static constexpr size_t kMaxApplicationRecord = 16384;
  // Upper bound of OpenSSL's retransmissions of one flight (its DTLS1_TMO_ALERT_COUNT): more retransmissions
  // of a single flight than this are never sent, whatever the timers say.
  static constexpr int kMaxRetransmissionsPerFlight = 12;

  // Throws std::invalid_argument for an unusable configuration (no certificate, mtu outside [256, 65535],
  // non-positive or inconsistent timers) and std::runtime_error if OpenSSL cannot set up a context.
  explicit DtlsTransport(DtlsConfig config);
  ~DtlsTransport();
  DtlsTransport(const DtlsTransport&) = delete;
  DtlsTransport& operator=(const DtlsTransport&) = delete;

  // Client: sends the ClientHello. Server: starts the handshake clock and waits for a ClientHello (one that
  // arrives before Start() is accepted too and starts the clock then). Only the first call has an effect.
  void Start(Timestamp now);
  // Replaces the remote fingerprints. If the handshake already finished, this verifies the certificate now
  // and emits kConnected or kFailed; a mismatch found after the handshake closes the session with
  // close_notify, as OpenSSL has no way to send a fatal alert once the handshake is over.
  void SetRemoteFingerprints(std::vector<Fingerprint> fingerprints);
  // One datagram, possibly holding several records. Hostile input is dropped and counted, never fatal by
  // itself.
  void HandleReceive(Timestamp now, ByteSpan datagram);
  void HandleTimeout(Timestamp now);
  // Encrypts `data` as one application-data record. Errors: kUnavailable before kConnected or after close,
  // kInvalidArgument for empty data, kLimitExceeded above kMaxApplicationRecord or when the transmit queue is
  // full. A record larger than max_application_data() yields a datagram larger than the mtu.
  Status Send(ByteSpan data);
  // Sends close_notify (when the handshake has finished) and moves to kClosed, emitting kClosed.
  void Close(Timestamp now);

  // The next datagram to send, at most mtu bytes (see Send for the exception).
  std::optional<ByteSpan> PollTransmit();
  // The next decrypted application record, in order. Only while kConnected, and after kClosed for what
  // arrived before the close; never held data.
  std::optional<ByteSpan> PollApplicationData();
  std::optional<DtlsEvent> PollEvent();
  Timestamp PollTimeout() const;  // Timestamp::Infinity() when nothing is pending

  DtlsState state() const;
  Role role() const;
  // RFC 5764 §4.2: keys from the "EXTRACTOR-dtls_srtp" exporter, split into local and remote by our role.
  // kUnavailable before kConnected; kNotFound when no SRTP profile was negotiated.
  Result<SrtpKeyingMaterial> ExportSrtpKeys() const;
  SrtpProfile srtp_profile() const;                        // kNone until the handshake has finished
  std::optional<NegotiatedParameters> negotiated() const;  // once the handshake has finished
  // The peer's certificate (DER), e.g. for RTCCertificateStats; empty until it was received.
  const std::vector<uint8_t>& remote_certificate_der() const;
  // Largest Send() whose datagram fits in the mtu, given the negotiated cipher (a conservative estimate
  // before).
  size_t max_application_data() const;
  const DtlsStats& stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::dtls
