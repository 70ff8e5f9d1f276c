// SRTP/SRTCP protection (RFC 3711; AEAD AES-GCM per RFC 7714) of one DTLS-SRTP association (RFC 5764), over
// libsrtp2. Built from exactly what dtls::DtlsTransport::ExportSrtpKeys() returns: the negotiated profile and
// the local (outbound) and remote (inbound) master key and salt.
//
// Packets are transformed in place in caller buffers: Protect* needs the buffer to have RtpOverhead() /
// RtcpOverhead() bytes of room after the packet for the tag (and SRTCP index); Unprotect* shrinks the packet.
// Nothing is allocated per packet. Buffers should be 4-byte aligned (libsrtp reads 32-bit words; std::vector
// storage is).
//
// Inbound streams use libsrtp's "any inbound SSRC" template: a stream for a new SSRC is created only after a
// packet of it authenticated, so an attacker without the keys cannot make the session grow. Replay protection
// is libsrtp's (RFC 3711 §3.3.2), with a configurable window. Errors are values naming the libsrtp status
// ("srtp_err_status_auth_fail", "srtp_err_status_replay_fail", ...).
//
// Not thread-safe (one session per peer connection, on its loop); libsrtp's global initialization is done
// once per process, thread-safely.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/bytes.h"
#include "core/result.h"
#include "dtls/srtp.h"

namespace tandem::srtp {

struct SrtpConfig {
  // Replay window in packets (libsrtp accepts 64..32767; RFC 3711 §3.3.2 requires at least 64). Large windows
  // tolerate the reordering of retransmissions and simulcast bursts.
  size_t replay_window = 1024;
  // Whether ProtectRtp may be called twice for the same sequence number (libsrtp's allow_repeat_tx): needed
  // when a packet is retransmitted as is on its own SSRC (NACK without RTX). The payload must then be
  // identical.
  bool allow_repeat_tx = true;
};

struct SrtpStats {
  uint64_t rtp_protected = 0;
  uint64_t rtp_unprotected = 0;
  uint64_t rtcp_protected = 0;
  uint64_t rtcp_unprotected = 0;
  uint64_t auth_failures = 0;  // tag mismatch: tampered, wrong keys, or garbage
  uint64_t replays = 0;        // replay_fail and replay_old
  uint64_t other_errors = 0;
  uint64_t key_soft_limit_events = 0;  // libsrtp's warning that a key nears its usage limit
  uint64_t key_hard_limit_events = 0;  // a key is spent: the stream refuses further packets
};

class SrtpSession {
 public:
  // kInvalidArgument for an unsupported profile or key/salt lengths that do not match it
  // (dtls::KeyLengthsFor); kInternal when libsrtp cannot be initialized or refuses the policy.
  static Result<SrtpSession> Create(const dtls::SrtpKeyingMaterial& keys, const SrtpConfig& config = {});

  SrtpSession(SrtpSession&&) noexcept;
  SrtpSession& operator=(SrtpSession&&) noexcept;
  ~SrtpSession();

  // Protects the RTP packet in buffer[0, length) in place; returns the protected length. `buffer` must extend
  // at least RtpOverhead() bytes past the packet (kLimitExceeded otherwise).
  Result<size_t> ProtectRtp(MutableByteSpan buffer, size_t length);
  // Verifies and decrypts an SRTP packet in place; returns the plain length.
  Result<size_t> UnprotectRtp(MutableByteSpan packet);
  Result<size_t> ProtectRtcp(MutableByteSpan buffer, size_t length);
  Result<size_t> UnprotectRtcp(MutableByteSpan packet);

  // Bytes Protect* adds: the authentication tag (10, 4 or 16 bytes); SRTCP adds its 4-byte E+index too.
  size_t RtpOverhead() const;
  size_t RtcpOverhead() const;
  dtls::SrtpProfile profile() const;
  const SrtpStats& stats() const;

  // Forgets an inbound SSRC's stream (its replay state) after the remote ended it (BYE) or it timed out.
  void RemoveInboundStream(uint32_t ssrc);

  // libsrtp's name of a status code ("srtp_err_status_auth_fail"); "srtp_err_status_unknown" otherwise.
  static const char* StatusName(int status);

  struct Impl;

 private:
  explicit SrtpSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::srtp
