#include "srtp/srtp_session.h"

#include <arpa/inet.h>
#include <srtp2/srtp.h>

#include <array>
#include <climits>
#include <cstring>
#include <mutex>

namespace tandem::srtp {

struct SrtpSession::Impl {
  srtp_t inbound = nullptr;
  srtp_t outbound = nullptr;
  dtls::SrtpProfile profile = dtls::SrtpProfile::kNone;
  size_t rtp_overhead = 0;
  size_t rtcp_overhead = 0;
  SrtpStats stats;

  ~Impl() {
    if (inbound != nullptr) srtp_dealloc(inbound);
    if (outbound != nullptr) srtp_dealloc(outbound);
  }
};

namespace {

// libsrtp has one global event handler; it finds the session through the context's user data.
void OnSrtpEvent(srtp_event_data_t* data) {
  if (data == nullptr || data->session == nullptr) return;
  auto* impl = static_cast<SrtpSession::Impl*>(srtp_get_user_data(data->session));
  if (impl == nullptr) return;
  switch (data->event) {
    case event_key_soft_limit:
      ++impl->stats.key_soft_limit_events;
      break;
    case event_key_hard_limit:
    case event_packet_index_limit:
      ++impl->stats.key_hard_limit_events;
      break;
    case event_ssrc_collision:
      break;
  }
}

// srtp_init() must run once per process before anything else (and is not thread-safe itself).
srtp_err_status_t InitLibsrtp() {
  static std::once_flag once;
  static srtp_err_status_t status = srtp_err_status_ok;
  std::call_once(once, [] {
    status = srtp_init();
    if (status == srtp_err_status_ok) srtp_install_event_handler(&OnSrtpEvent);
  });
  return status;
}

void Wipe(uint8_t* p, size_t n) {
  volatile uint8_t* v = p;
  for (size_t i = 0; i < n; ++i) v[i] = 0;
}

struct ProfilePolicy {
  void (*rtp)(srtp_crypto_policy_t*);
  void (*rtcp)(srtp_crypto_policy_t*);
  size_t rtp_tag;
  size_t rtcp_tag;
};

std::optional<ProfilePolicy> PolicyFor(dtls::SrtpProfile profile) {
  switch (profile) {
    case dtls::SrtpProfile::kAes128CmSha1_80:
      return ProfilePolicy{&srtp_crypto_policy_set_rtp_default, &srtp_crypto_policy_set_rtp_default, 10, 10};
    case dtls::SrtpProfile::kAes128CmSha1_32:
      // RFC 5764 §4.1.2: SRTP_AES128_CM_HMAC_SHA1_32 shortens the SRTP tag only; SRTCP keeps 80 bits.
      return ProfilePolicy{&srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32,
                           &srtp_crypto_policy_set_rtp_default, 4, 10};
    case dtls::SrtpProfile::kAeadAes128Gcm:
      return ProfilePolicy{&srtp_crypto_policy_set_aes_gcm_128_16_auth,
                           &srtp_crypto_policy_set_aes_gcm_128_16_auth, 16,
                           16};  // RFC 7714 §12: 16-octet tag
    case dtls::SrtpProfile::kAeadAes256Gcm:
      return ProfilePolicy{&srtp_crypto_policy_set_aes_gcm_256_16_auth,
                           &srtp_crypto_policy_set_aes_gcm_256_16_auth, 16, 16};
    case dtls::SrtpProfile::kNone:
      break;
  }
  return std::nullopt;
}

srtp_err_status_t CreateContext(srtp_t* ctx, const ProfilePolicy& pp, srtp_ssrc_type_t direction,
                                const std::vector<uint8_t>& key, const std::vector<uint8_t>& salt,
                                const SrtpConfig& config) {
  // libsrtp takes the master key followed by the master salt in one buffer (RFC 5764 §4.2 order).
  std::array<uint8_t, SRTP_MAX_KEY_LEN> material{};
  std::memcpy(material.data(), key.data(), key.size());
  std::memcpy(material.data() + key.size(), salt.data(), salt.size());
  srtp_policy_t policy;
  std::memset(&policy, 0, sizeof(policy));
  pp.rtp(&policy.rtp);
  pp.rtcp(&policy.rtcp);
  policy.ssrc.type = direction;
  policy.ssrc.value = 0;
  policy.key = material.data();
  policy.window_size = config.replay_window;
  policy.allow_repeat_tx = config.allow_repeat_tx ? 1 : 0;
  policy.next = nullptr;
  const srtp_err_status_t status = srtp_create(ctx, &policy);
  Wipe(material.data(), material.size());
  return status;
}

}  // namespace

const char* SrtpSession::StatusName(int status) {
  switch (status) {
    case srtp_err_status_ok:
      return "srtp_err_status_ok";
    case srtp_err_status_fail:
      return "srtp_err_status_fail";
    case srtp_err_status_bad_param:
      return "srtp_err_status_bad_param";
    case srtp_err_status_alloc_fail:
      return "srtp_err_status_alloc_fail";
    case srtp_err_status_dealloc_fail:
      return "srtp_err_status_dealloc_fail";
    case srtp_err_status_init_fail:
      return "srtp_err_status_init_fail";
    case srtp_err_status_terminus:
      return "srtp_err_status_terminus";
    case srtp_err_status_auth_fail:
      return "srtp_err_status_auth_fail";
    case srtp_err_status_cipher_fail:
      return "srtp_err_status_cipher_fail";
    case srtp_err_status_replay_fail:
      return "srtp_err_status_replay_fail";
    case srtp_err_status_replay_old:
      return "srtp_err_status_replay_old";
    case srtp_err_status_algo_fail:
      return "srtp_err_status_algo_fail";
    case srtp_err_status_no_such_op:
      return "srtp_err_status_no_such_op";
    case srtp_err_status_no_ctx:
      return "srtp_err_status_no_ctx";
    case srtp_err_status_cant_check:
      return "srtp_err_status_cant_check";
    case srtp_err_status_key_expired:
      return "srtp_err_status_key_expired";
    case srtp_err_status_socket_err:
      return "srtp_err_status_socket_err";
    case srtp_err_status_signal_err:
      return "srtp_err_status_signal_err";
    case srtp_err_status_nonce_bad:
      return "srtp_err_status_nonce_bad";
    case srtp_err_status_read_fail:
      return "srtp_err_status_read_fail";
    case srtp_err_status_write_fail:
      return "srtp_err_status_write_fail";
    case srtp_err_status_parse_err:
      return "srtp_err_status_parse_err";
    case srtp_err_status_encode_err:
      return "srtp_err_status_encode_err";
    case srtp_err_status_semaphore_err:
      return "srtp_err_status_semaphore_err";
    case srtp_err_status_pfkey_err:
      return "srtp_err_status_pfkey_err";
    case srtp_err_status_bad_mki:
      return "srtp_err_status_bad_mki";
    case srtp_err_status_pkt_idx_old:
      return "srtp_err_status_pkt_idx_old";
    case srtp_err_status_pkt_idx_adv:
      return "srtp_err_status_pkt_idx_adv";
  }
  return "srtp_err_status_unknown";
}

namespace {

Error Fail(SrtpStats& stats, srtp_err_status_t status) {
  ErrorCode code = ErrorCode::kInternal;
  switch (status) {
    case srtp_err_status_auth_fail:
      ++stats.auth_failures;
      code = ErrorCode::kUnauthorized;
      break;
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old:
      ++stats.replays;
      code = ErrorCode::kAlreadyExists;
      break;
    case srtp_err_status_key_expired:
      ++stats.other_errors;
      code = ErrorCode::kLimitExceeded;
      break;
    case srtp_err_status_bad_param:
    case srtp_err_status_parse_err:
      ++stats.other_errors;
      code = ErrorCode::kMalformed;
      break;
    default:
      ++stats.other_errors;
      break;
  }
  return MakeError(code, SrtpSession::StatusName(status));
}

}  // namespace

Result<SrtpSession> SrtpSession::Create(const dtls::SrtpKeyingMaterial& keys, const SrtpConfig& config) {
  const auto pp = PolicyFor(keys.profile);
  const auto lengths = dtls::KeyLengthsFor(keys.profile);
  if (!pp || !lengths) return MakeError(ErrorCode::kInvalidArgument, "srtp: unsupported protection profile");
  if (keys.local_key.size() != lengths->key || keys.remote_key.size() != lengths->key ||
      keys.local_salt.size() != lengths->salt || keys.remote_salt.size() != lengths->salt) {
    return MakeError(ErrorCode::kInvalidArgument, "srtp: key or salt length does not match the profile");
  }
  // RFC 3711 §3.3.2: the replay list must cover at least 64 packets; libsrtp refuses 2^15 and more.
  if (config.replay_window < 64 || config.replay_window >= 0x8000) {
    return MakeError(ErrorCode::kInvalidArgument, "srtp: replay window outside 64..32767");
  }
  if (InitLibsrtp() != srtp_err_status_ok) return MakeError(ErrorCode::kInternal, "srtp: srtp_init failed");

  auto impl = std::make_unique<Impl>();
  impl->profile = keys.profile;
  impl->rtp_overhead = pp->rtp_tag;
  impl->rtcp_overhead = pp->rtcp_tag + 4;  // RFC 3711 §3.4: the E flag and 31-bit SRTCP index
  srtp_err_status_t status =
      CreateContext(&impl->outbound, *pp, ssrc_any_outbound, keys.local_key, keys.local_salt, config);
  if (status != srtp_err_status_ok) {
    impl->outbound = nullptr;
    return MakeError(ErrorCode::kInternal, StatusName(status));
  }
  status = CreateContext(&impl->inbound, *pp, ssrc_any_inbound, keys.remote_key, keys.remote_salt, config);
  if (status != srtp_err_status_ok) {
    impl->inbound = nullptr;
    return MakeError(ErrorCode::kInternal, StatusName(status));
  }
  srtp_set_user_data(impl->outbound, impl.get());
  srtp_set_user_data(impl->inbound, impl.get());
  return SrtpSession(std::move(impl));
}

SrtpSession::SrtpSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SrtpSession::SrtpSession(SrtpSession&&) noexcept = default;
SrtpSession& SrtpSession::operator=(SrtpSession&&) noexcept = default;
SrtpSession::~SrtpSession() = default;

size_t SrtpSession::RtpOverhead() const { return impl_->rtp_overhead; }
size_t SrtpSession::RtcpOverhead() const { return impl_->rtcp_overhead; }
dtls::SrtpProfile SrtpSession::profile() const { return impl_->profile; }
const SrtpStats& SrtpSession::stats() const { return impl_->stats; }

Result<size_t> SrtpSession::ProtectRtp(MutableByteSpan buffer, size_t length) {
  if (length < 12 || length > buffer.size())
    return MakeError(ErrorCode::kInvalidArgument, "srtp: not an RTP packet");
  // libsrtp writes the tag without knowing the buffer's size: check here.
  if (buffer.size() - length < impl_->rtp_overhead || length + impl_->rtp_overhead > INT_MAX) {
    return MakeError(ErrorCode::kLimitExceeded, "srtp: no room for the authentication tag");
  }
  int len = static_cast<int>(length);
  const srtp_err_status_t status = srtp_protect(impl_->outbound, buffer.data(), &len);
  if (status != srtp_err_status_ok) return Fail(impl_->stats, status);
  ++impl_->stats.rtp_protected;
  return static_cast<size_t>(len);
}

Result<size_t> SrtpSession::UnprotectRtp(MutableByteSpan packet) {
  if (packet.size() < 12 || packet.size() > INT_MAX) {
    ++impl_->stats.other_errors;
    return MakeError(ErrorCode::kTruncated, "srtp: not an SRTP packet");
  }
  int len = static_cast<int>(packet.size());
  const srtp_err_status_t status = srtp_unprotect(impl_->inbound, packet.data(), &len);
  if (status != srtp_err_status_ok) return Fail(impl_->stats, status);
  ++impl_->stats.rtp_unprotected;
  return static_cast<size_t>(len);
}

Result<size_t> SrtpSession::ProtectRtcp(MutableByteSpan buffer, size_t length) {
  if (length < 8 || length > buffer.size())
    return MakeError(ErrorCode::kInvalidArgument, "srtp: not an RTCP packet");
  if (buffer.size() - length < impl_->rtcp_overhead || length + impl_->rtcp_overhead > INT_MAX) {
    return MakeError(ErrorCode::kLimitExceeded, "srtp: no room for the SRTCP trailer");
  }
  int len = static_cast<int>(length);
  const srtp_err_status_t status = srtp_protect_rtcp(impl_->outbound, buffer.data(), &len);
  if (status != srtp_err_status_ok) return Fail(impl_->stats, status);
  ++impl_->stats.rtcp_protected;
  return static_cast<size_t>(len);
}

Result<size_t> SrtpSession::UnprotectRtcp(MutableByteSpan packet) {
  if (packet.size() < 8 || packet.size() > INT_MAX) {
    ++impl_->stats.other_errors;
    return MakeError(ErrorCode::kTruncated, "srtp: not an SRTCP packet");
  }
  int len = static_cast<int>(packet.size());
  const srtp_err_status_t status = srtp_unprotect_rtcp(impl_->inbound, packet.data(), &len);
  if (status != srtp_err_status_ok) return Fail(impl_->stats, status);
  ++impl_->stats.rtcp_unprotected;
  return static_cast<size_t>(len);
}

void SrtpSession::RemoveInboundStream(uint32_t ssrc) { srtp_remove_stream(impl_->inbound, htonl(ssrc)); }

}  // namespace tandem::srtp
