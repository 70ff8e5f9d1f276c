// DtlsTransport over OpenSSL 3 with memory BIOs.
//
// Time. OpenSSL's DTLS retransmission timer reads the wall clock (gettimeofday in d1_lib.c), and OpenSSL 3.0
// runs it not only in DTLSv1_handle_timeout() but at the start of every record read (dtls1_read_bytes) and
// whenever a read finds the BIO empty (dtls1_read_failed). Two consequences, both confirmed by tests in
// openssl_timer_test.cc:
//  - A timer callback returning a tiny duration (so that the timer is always "expired") does not work: the
//  read that
//    follows every flight retransmits at once and loops until OpenSSL gives up after 12 retransmissions.
//  - A long duration keeps OpenSSL quiet, but then DTLSv1_handle_timeout() never retransmits in simulated
//  time.
// What works, deterministically: when a flight starts (the timer callback sees 0), answer "expired" so that
// the read following the flight makes OpenSSL write the flight again, with fresh record sequence numbers,
// once per callback; answer "expired" again until we hold the copies this flight may need (one per
// retransmission that fits before the handshake deadline, at most 12), then answer a duration OpenSSL never
// reaches (~66 min), which ends the loop. The copies stay here; HandleTimeout() sends the next one exactly
// when *our* Timestamp deadline passes (initial_retransmit doubling up to max_retransmit). Each copy is a
// genuine OpenSSL retransmission, so the peer's replay window accepts it and a server that already finished
// answers a resent client Finished with its own final flight again (RFC 6347 §4.2.4). The flight is over when
// DTLSv1_get_timeout() reports that OpenSSL stopped the timer (the peer's next flight arrived); the remaining
// copies are dropped then.
//
// Output routing. Everything OpenSSL writes lands in the write BIO. Before each timer callback and after each
// call into OpenSSL the BIO is drained and split into records (record.h); records belong to the current
// "sink": sent now (ordinary output and the first transmission of a flight) or stored as a copy of the
// flight. A copy has as many records as the original; records past that (an alert written later in the same
// call, say) are sent now.
#include "dtls/dtls_transport.h"

#include <algorithm>
#include <deque>
#include <stdexcept>

#include "core/log.h"
#include "dtls/certificate_internal.h"
#include "dtls/datagram_queue.h"
#include "dtls/openssl_internal.h"
#include "dtls/record.h"

namespace tandem::dtls {

using internal::ByteStringQueue;
using internal::OpenSslPtr;
using internal::TakeOpenSslError;

const char* ToString(Role role) { return role == Role::kClient ? "client" : "server"; }

const char* ToString(DtlsState state) {
  switch (state) {
    case DtlsState::kNew:
      return "new";
    case DtlsState::kConnecting:
      return "connecting";
    case DtlsState::kConnected:
      return "connected";
    case DtlsState::kClosed:
      return "closed";
    case DtlsState::kFailed:
      return "failed";
  }
  return "unknown";
}

const char* ToString(DtlsEvent::Kind kind) {
  switch (kind) {
    case DtlsEvent::Kind::kConnected:
      return "connected";
    case DtlsEvent::Kind::kClosed:
      return "closed";
    case DtlsEvent::Kind::kFailed:
      return "failed";
  }
  return "unknown";
}

namespace {

constexpr char kComponent[] = "dtls";

// Timer callback answers (microseconds). OpenSSL treats a timer with less than 15 ms left as expired.
constexpr unsigned int kExpireNowUs = 1;
constexpr unsigned int kNeverExpireUs = 4'000'000'000u;  // ~66 min; handshake_timeout is capped at one hour

constexpr size_t kMinMtu = 256;
constexpr size_t kMaxMtu = 65535;
// Larger than any record a conforming peer sends (2^14 plaintext plus CBC or AEAD expansion) and smaller than
// the read buffer OpenSSL uses for one datagram, so that OpenSSL always sees each datagram whole.
constexpr size_t kMaxDatagram = 16384 + 256 + RecordHeader::kSize;

// RFC 8827 §6.5 makes TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 mandatory; the rest are what browsers offer in
// DTLS 1.2 (ECDSA first, RSA for peers with RSA certificates, CBC suites last for old stacks). All are
// forward secret.
constexpr char kCipherList[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA";
constexpr char kGroups[] = "X25519:P-256:P-384";
// RFC 5764 §4.2.
constexpr char kSrtpExporterLabel[] = "EXTRACTOR-dtls_srtp";

const char* OpenSslProfileName(SrtpProfile profile) {
  switch (profile) {
    case SrtpProfile::kAes128CmSha1_80:
      return "SRTP_AES128_CM_SHA1_80";
    case SrtpProfile::kAes128CmSha1_32:
      return "SRTP_AES128_CM_SHA1_32";
    case SrtpProfile::kAeadAes128Gcm:
      return "SRTP_AEAD_AES_128_GCM";
    case SrtpProfile::kAeadAes256Gcm:
      return "SRTP_AEAD_AES_256_GCM";
    case SrtpProfile::kNone:
      break;
  }
  return nullptr;
}

void ValidateConfig(const DtlsConfig& c) {
  if (!c.certificate.valid()) throw std::invalid_argument("DtlsConfig.certificate is empty");
  if (c.mtu < kMinMtu || c.mtu > kMaxMtu) {
    throw std::invalid_argument("DtlsConfig.mtu must be in [256, 65535]");
  }
  if (c.initial_retransmit <= TimeDelta::Zero() || c.max_retransmit < c.initial_retransmit) {
    throw std::invalid_argument("DtlsConfig retransmission timers must satisfy 0 < initial <= max");
  }
  if (c.handshake_timeout <= TimeDelta::Zero() || c.handshake_timeout > TimeDelta::Seconds(3600)) {
    throw std::invalid_argument("DtlsConfig.handshake_timeout must be in (0, 1 h]");
  }
  for (SrtpProfile p : c.srtp_profiles) {
    if (OpenSslProfileName(p) == nullptr) {
      throw std::invalid_argument("DtlsConfig.srtp_profiles: unknown profile");
    }
  }
}

}  // namespace

struct DtlsTransport::Impl {
  explicit Impl(DtlsConfig c);

  // ---- public operations ----
  void Start(Timestamp t);
  void SetRemoteFingerprints(std::vector<Fingerprint> fingerprints);
  void HandleReceive(Timestamp t, ByteSpan datagram);
  void HandleTimeout(Timestamp t);
  Status Send(ByteSpan data);
  void Close(Timestamp t);
  Timestamp PollTimeout() const;
  Result<SrtpKeyingMaterial> ExportSrtpKeys() const;
  SrtpProfile SelectedSrtpProfile() const;
  size_t MaxApplicationData() const;

  // ---- OpenSSL callbacks (the SSL's ex_data slot 0 points back at the Impl) ----
  static Impl* From(const SSL* ssl) { return static_cast<Impl*>(SSL_get_ex_data(ssl, 0)); }
  static unsigned int TimerCallback(SSL* ssl, unsigned int previous_us);
  static int VerifyCallback(X509_STORE_CTX* store, void* arg);
  static void InfoCallback(const SSL* ssl, int where, int value);
  static SSL_CTX* SharedContext();
  unsigned int OnTimerCallback(unsigned int previous_us);
  int OnVerifyCertificate(X509_STORE_CTX* store);
  void OnAlert(int where, int value);

  // ---- internals ----
  void BeginCall(Timestamp t);
  void BeginHandshakeClock();
  void DriveOpenSsl();
  void ReadApplicationData();
  void AfterOpenSsl();
  void Collect();
  void Route(ByteSpan record);
  void Enqueue(ByteSpan record);
  void BeginFlight();
  void EndFlight();
  int PlanRetransmissions() const;
  void SendNextCopy();
  void OnHandshakeComplete();
  void VerifyAndConnect();
  void OnApplicationRecord(ByteSpan record);
  void OnCloseNotify();
  void Fail(std::string reason);
  void FailAfterHandshake(std::string reason);
  std::string DescribeFailure(const char* context);
  bool finished() const { return state == DtlsState::kClosed || state == DtlsState::kFailed; }

  DtlsConfig config;
  const char* role_name;
  OpenSslPtr<SSL> ssl;
  BIO* rbio = nullptr;  // owned by ssl
  BIO* wbio = nullptr;  // owned by ssl

  DtlsState state = DtlsState::kNew;
  bool handshake_done = false;
  bool awaiting_fingerprint = false;
  Timestamp now;
  Timestamp handshake_deadline = Timestamp::Infinity();

  // Where the records OpenSSL writes go (see the top of this file).
  enum class Sink { kSend, kFlight, kCopy };
  Sink sink = Sink::kSend;
  struct Flight {
    bool active = false;
    size_t records = 0;      // records in the first transmission
    int planned_copies = 0;  // copies OpenSSL is asked to write
    int generated_copies = 0;
    std::vector<ByteStringQueue> copies;  // each: the datagrams of one retransmission
    size_t records_in_last_copy = 0;
    size_t next_copy = 0;
    TimeDelta rto;
    Timestamp next_retransmit = Timestamp::Infinity();
  } flight;

  ByteStringQueue outbox;  // datagrams for PollTransmit
  ByteStringQueue inbox;   // decrypted application records for PollApplicationData
  std::deque<DtlsEvent> events;
  std::vector<uint8_t> drain_buffer;
  std::vector<uint8_t> read_buffer;

  std::vector<uint8_t> remote_der;
  std::optional<NegotiatedParameters> negotiated;
  std::string verify_failure;  // set by OnVerifyCertificate when it refuses the certificate
  std::string alert_received;  // fatal alert descriptions, from the info callback
  std::string alert_sent;
  DtlsStats stats;
};

unsigned int DtlsTransport::Impl::TimerCallback(SSL* ssl, unsigned int previous_us) {
  return From(ssl)->OnTimerCallback(previous_us);
}

int DtlsTransport::Impl::VerifyCallback(X509_STORE_CTX* store, void* /*arg*/) {
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (ssl == nullptr) return 0;
  return From(ssl)->OnVerifyCertificate(store);
}

void DtlsTransport::Impl::InfoCallback(const SSL* ssl, int where, int value) {
  if ((where & SSL_CB_ALERT) != 0) From(ssl)->OnAlert(where, value);
}

// One immutable context for every transport of the process: SSL_CTX_new costs most of a millisecond in
// OpenSSL 3 (it fetches every algorithm from the providers), and nothing in it is per connection — the
// certificate, SRTP profiles, MTU and callbacks are set on each SSL. OpenSSL allows SSL_new on a shared
// context from any thread.
SSL_CTX* DtlsTransport::Impl::SharedContext() {
  static SSL_CTX* const kContext = [] {
    SSL_CTX* x = SSL_CTX_new(DTLS_method());
    if (x == nullptr) throw std::runtime_error("SSL_CTX_new(DTLS) failed");
    // RFC 8827 §6.5: DTLS 1.2; no renegotiation, tickets, session cache or compression (none has a use in
    // WebRTC). SSL_OP_NO_QUERY_MTU: the MTU is ours; OpenSSL must not ask the (memory) BIO or lower it after
    // retransmissions. The extended master secret (RFC 7627) is on by default in OpenSSL 3 and stays on.
    if (SSL_CTX_set_min_proto_version(x, DTLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(x, DTLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(x, kCipherList) != 1 || SSL_CTX_set1_groups_list(x, kGroups) != 1) {
      throw std::runtime_error("OpenSSL rejected the DTLS 1.2 parameters");
    }
    SSL_CTX_set_options(
        x, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_session_cache_mode(x, SSL_SESS_CACHE_OFF);
    // Both sides demand the other's certificate (the server sends CertificateRequest), and the whole chain
    // check is replaced by the fingerprint comparison.
    SSL_CTX_set_verify(x, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    SSL_CTX_set_cert_verify_callback(x, VerifyCallback, nullptr);
    return x;
  }();
  return kContext;
}

DtlsTransport::Impl::Impl(DtlsConfig c) : config(std::move(c)), role_name(ToString(config.role)) {
  ValidateConfig(config);
  ssl.reset(SSL_new(SharedContext()));
  if (!ssl) throw std::runtime_error("SSL_new failed");
  SSL_set_ex_data(ssl.get(), 0, this);
  if (SSL_use_certificate(ssl.get(), CertificateAccess::x509(config.certificate)) != 1 ||
      SSL_use_PrivateKey(ssl.get(), CertificateAccess::private_key(config.certificate)) != 1 ||
      SSL_check_private_key(ssl.get()) != 1) {
    ERR_clear_error();
    throw std::invalid_argument("DtlsConfig.certificate is unusable for DTLS");
  }
  rbio = BIO_new(BIO_s_mem());
  wbio = BIO_new(BIO_s_mem());
  if (rbio == nullptr || wbio == nullptr) {
    BIO_free(rbio);
    BIO_free(wbio);
    throw std::runtime_error("BIO_new failed");
  }
  // An empty memory BIO reports "retry", which OpenSSL reads as "no datagram yet" (not end of stream).
  BIO_set_mem_eof_return(rbio, -1);
  BIO_set_mem_eof_return(wbio, -1);
  SSL_set_bio(ssl.get(), rbio, wbio);
  if (SSL_set_mtu(ssl.get(), static_cast<long>(config.mtu)) == 0) throw std::invalid_argument("mtu refused");
  DTLS_set_timer_cb(ssl.get(), TimerCallback);
  SSL_set_info_callback(ssl.get(), InfoCallback);
  if (!config.srtp_profiles.empty()) {
    std::string profiles;
    for (SrtpProfile p : config.srtp_profiles) {
      if (!profiles.empty()) profiles += ':';
      profiles += OpenSslProfileName(p);
    }
    // RFC 5764 §4.1.1; note the inverted return convention of this OpenSSL call (0 is success).
    if (SSL_set_tlsext_use_srtp(ssl.get(), profiles.c_str()) != 0) {
      throw std::invalid_argument("OpenSSL rejected the SRTP profiles");
    }
  }
  if (config.role == Role::kClient) {
    SSL_set_connect_state(ssl.get());
  } else {
    SSL_set_accept_state(ssl.get());
  }
  read_buffer.resize(kMaxApplicationRecord);
  drain_buffer.reserve(config.mtu * 2);
  ERR_clear_error();
}

// ---- time and flights ----

void DtlsTransport::Impl::BeginCall(Timestamp t) {
  now = t;
  outbox.Compact();
  inbox.Compact();
}

void DtlsTransport::Impl::BeginHandshakeClock() {
  state = DtlsState::kConnecting;
  handshake_deadline = now + config.handshake_timeout;
}

int DtlsTransport::Impl::PlanRetransmissions() const {
  // One copy per retransmission that the schedule fits before the handshake deadline.
  int planned = 0;
  Timestamp at = now;
  TimeDelta rto = config.initial_retransmit;
  while (planned < kMaxRetransmissionsPerFlight) {
    at = at + rto;
    if (at >= handshake_deadline) break;
    ++planned;
    rto = std::min(rto * 2, config.max_retransmit);
  }
  return planned;
}

void DtlsTransport::Impl::BeginFlight() {
  EndFlight();
  flight.active = true;
  flight.planned_copies = PlanRetransmissions();
  flight.rto = config.initial_retransmit;
  flight.next_retransmit = now + flight.rto;
  ++stats.flights_sent;
}

void DtlsTransport::Impl::EndFlight() {
  flight.active = false;
  flight.records = 0;
  flight.planned_copies = 0;
  flight.generated_copies = 0;
  flight.copies.clear();
  flight.records_in_last_copy = 0;
  flight.next_copy = 0;
  flight.next_retransmit = Timestamp::Infinity();
}

unsigned int DtlsTransport::Impl::OnTimerCallback(unsigned int previous_us) {
  Collect();  // what was written so far belongs to the current sink
  if (previous_us == 0) {
    // OpenSSL arms the timer for a new flight, before writing its first message (dtls1_start_timer).
    BeginFlight();
    sink = Sink::kFlight;
    return flight.planned_copies > 0 ? kExpireNowUs : kNeverExpireUs;
  }
  // OpenSSL saw its timer expired and is about to write the flight again (dtls1_handle_timeout).
  if (!flight.active || flight.records == 0) {
    // Not a loop we asked for (only possible once ~66 min of wall-clock time passed): let it go out and push
    // the timer far away again.
    sink = Sink::kSend;
    return kNeverExpireUs;
  }
  flight.copies.emplace_back();
  flight.records_in_last_copy = 0;
  sink = Sink::kCopy;
  ++flight.generated_copies;
  return flight.generated_copies >= flight.planned_copies ? kNeverExpireUs : kExpireNowUs;
}

void DtlsTransport::Impl::SendNextCopy() {
  const ByteStringQueue& copy = flight.copies[flight.next_copy++];
  for (size_t i = 0; i < copy.size(); ++i) {
    if (outbox.pending() >= config.max_queued_datagrams) {
      ++stats.transmit_dropped;
      continue;
    }
    outbox.Append(copy.at(i));
  }
  stats.records_sent += flight.records;
  ++stats.retransmissions;
  // RFC 6347 §4.2.4.1: double the timer on each retransmission, up to the cap.
  flight.rto = std::min(flight.rto * 2, config.max_retransmit);
  flight.next_retransmit = now + flight.rto;
  LOG_DEBUG(kComponent, role_name << ": retransmitted flight (" << flight.next_copy << "/"
                                  << flight.copies.size() << "), next in " << flight.rto.ms() << " ms");
}

// ---- output ----

void DtlsTransport::Impl::Collect() {
  const size_t pending = BIO_ctrl_pending(wbio);
  if (pending == 0) return;
  drain_buffer.resize(pending);
  const int n = BIO_read(wbio, drain_buffer.data(), static_cast<int>(pending));
  if (n <= 0) return;
  ByteSpan written(drain_buffer.data(), static_cast<size_t>(n));
  // OpenSSL writes whole records; anything unparseable (never seen) is sent as it is rather than lost.
  size_t consumed = 0;
  ForEachRecord(written, [&](const RecordHeader&, ByteSpan record) {
    Route(record);
    consumed += record.size();
  });
  if (consumed < written.size()) Enqueue(written.subspan(consumed));
}

void DtlsTransport::Impl::Route(ByteSpan record) {
  switch (sink) {
    case Sink::kSend:
      Enqueue(record);
      return;
    case Sink::kFlight:
      ++flight.records;
      Enqueue(record);
      return;
    case Sink::kCopy:
      if (flight.records_in_last_copy < flight.records) {
        flight.copies.back().Append(record, config.mtu);
        ++flight.records_in_last_copy;
        return;
      }
      sink = Sink::kSend;  // the copy is complete; later records are ordinary output
      Enqueue(record);
      return;
  }
}

void DtlsTransport::Impl::Enqueue(ByteSpan record) {
  // Records share a datagram while it is not yet handed out and the mtu allows (RFC 6347 §4.1.1).
  if (outbox.pending() >= config.max_queued_datagrams) {
    ++stats.transmit_dropped;
    return;
  }
  outbox.Append(record, config.mtu);
  ++stats.records_sent;
}

void DtlsTransport::Impl::AfterOpenSsl() {
  Collect();
  sink = Sink::kSend;
  // OpenSSL stops its timer once the peer's next flight arrived (or the handshake ended): the flight is
  // answered.
  struct timeval left {};
  if (flight.active && DTLSv1_get_timeout(ssl.get(), &left) != 1) EndFlight();
}

// ---- input ----

void DtlsTransport::Impl::DriveOpenSsl() {
  if (!handshake_done) {
    ERR_clear_error();
    const int r = SSL_do_handshake(ssl.get());
    if (r != 1) {
      const int error = SSL_get_error(ssl.get(), r);
      if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
        Fail(DescribeFailure("DTLS handshake failed"));
      }
      return;
    }
    OnHandshakeComplete();
    if (finished()) return;
  }
  ReadApplicationData();
}

void DtlsTransport::Impl::ReadApplicationData() {
  while (!finished()) {
    ERR_clear_error();
    const int n = SSL_read(ssl.get(), read_buffer.data(), static_cast<int>(read_buffer.size()));
    if (n > 0) {
      OnApplicationRecord(ByteSpan(read_buffer.data(), static_cast<size_t>(n)));
      continue;
    }
    const int error = SSL_get_error(ssl.get(), n);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) return;
    if (error == SSL_ERROR_ZERO_RETURN) {
      OnCloseNotify();
      return;
    }
    Fail(DescribeFailure("DTLS read failed"));
    return;
  }
}

void DtlsTransport::Impl::OnApplicationRecord(ByteSpan record) {
  ++stats.application_records_received;
  stats.application_bytes_received += record.size();
  const bool held = state != DtlsState::kConnected;
  const size_t max_records = held ? config.max_held_records : config.max_queued_records;
  const bool too_many = inbox.pending() >= max_records ||
                        (held && inbox.pending_bytes() + record.size() > config.max_held_bytes);
  if (too_many) {
    ++stats.application_records_dropped;
    return;
  }
  inbox.Append(record);
}

void DtlsTransport::Impl::OnCloseNotify() {
  // RFC 5246 §7.2.1: answer close_notify with our own before closing.
  ERR_clear_error();
  SSL_shutdown(ssl.get());
  ERR_clear_error();
  if (state != DtlsState::kConnected) inbox.Clear();  // held data from an unauthenticated peer is discarded
  state = DtlsState::kClosed;
  handshake_deadline = Timestamp::Infinity();
  EndFlight();
  events.push_back({DtlsEvent::Kind::kClosed, "peer sent close_notify"});
  LOG_DEBUG(kComponent, role_name << ": closed by the peer");
}

void DtlsTransport::Impl::HandleReceive(Timestamp t, ByteSpan datagram) {
  BeginCall(t);
  ++stats.datagrams_received;
  stats.bytes_received += datagram.size();
  if (finished() || (state == DtlsState::kNew && config.role == Role::kClient)) {
    ++stats.dropped_wrong_state;
    return;
  }
  // RFC 6347 §4.1.2.7: invalid records are discarded silently. A datagram that is not a clean sequence of
  // DTLS 1.x records, or holds malformed plaintext (IsWellFormedRecord), never reaches OpenSSL, so that
  // garbage cannot provoke an alert or a state change.
  size_t records = 0;
  bool records_valid = true;
  const bool framed = datagram.size() <= kMaxDatagram &&
                      ForEachRecord(datagram, [&](const RecordHeader& header, ByteSpan record) {
                        records_valid = records_valid && IsWellFormedRecord(header, record);
                        ++records;
                      });
  if (!framed || !records_valid) {
    ++stats.malformed_dropped;
    LOG_TRACE(kComponent, role_name << ": dropped a malformed datagram of " << datagram.size() << " bytes");
    return;
  }
  stats.records_received += records;
  if (state == DtlsState::kNew) BeginHandshakeClock();  // a server may see the ClientHello before Start()
  if (BIO_write(rbio, datagram.data(), static_cast<int>(datagram.size())) !=
      static_cast<int>(datagram.size())) {
    ++stats.malformed_dropped;
    return;
  }
  DriveOpenSsl();
  // OpenSSL consumes a datagram whole; anything left (only after a failure) must not merge with the next one.
  if (BIO_ctrl_pending(rbio) != 0) (void)BIO_reset(rbio);
  AfterOpenSsl();
}

// ---- handshake completion and authentication ----

int DtlsTransport::Impl::OnVerifyCertificate(X509_STORE_CTX* store) {
  X509* leaf = X509_STORE_CTX_get0_cert(store);
  const int size = leaf != nullptr ? i2d_X509(leaf, nullptr) : -1;
  if (size <= 0) {
    verify_failure = "remote certificate is unreadable";
    X509_STORE_CTX_set_error(store, X509_V_ERR_UNSPECIFIED);
    return 0;
  }
  remote_der.resize(static_cast<size_t>(size));
  unsigned char* out = remote_der.data();
  i2d_X509(leaf, &out);
  // RFC 8122 §5 / RFC 5763 §5: the certificate is authenticated by its fingerprint, not by a chain. Without
  // fingerprints yet, the check happens when they arrive (OnHandshakeComplete / SetRemoteFingerprints).
  if (config.remote_fingerprints.empty() || MatchesAnyFingerprint(remote_der, config.remote_fingerprints)) {
    return 1;
  }
  verify_failure = "remote certificate does not match the SDP fingerprint";
  X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);  // OpenSSL answers with a bad_certificate alert
  return 0;
}

void DtlsTransport::Impl::OnAlert(int where, int value) {
  if ((value >> 8) != SSL3_AL_FATAL) return;
  std::string description = SSL_alert_desc_string_long(value);
  if ((where & SSL_CB_READ) != 0) {
    alert_received = std::move(description);
  } else {
    alert_sent = std::move(description);
  }
}

void DtlsTransport::Impl::OnHandshakeComplete() {
  handshake_done = true;
  if (remote_der.empty()) {
    Fail("peer presented no certificate");
    return;
  }
  NegotiatedParameters n;
  if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl.get())) {
    n.cipher_suite = SSL_CIPHER_standard_name(cipher);
  }
  n.extended_master_secret = SSL_get_extms_support(ssl.get()) == 1;
  n.srtp_profile = SelectedSrtpProfile();
  negotiated = n;
  LOG_DEBUG(kComponent,
            role_name << ": handshake done, " << n.cipher_suite << ", srtp " << ToString(n.srtp_profile));
  if (config.remote_fingerprints.empty()) {
    awaiting_fingerprint = true;
    LOG_DEBUG(kComponent, role_name << ": waiting for the remote fingerprint");
    return;
  }
  VerifyAndConnect();
}

void DtlsTransport::Impl::VerifyAndConnect() {
  awaiting_fingerprint = false;
  if (!MatchesAnyFingerprint(remote_der, config.remote_fingerprints)) {
    FailAfterHandshake("remote certificate does not match the SDP fingerprint");
    return;
  }
  state = DtlsState::kConnected;
  handshake_deadline = Timestamp::Infinity();
  events.push_back({DtlsEvent::Kind::kConnected, {}});
  LOG_DEBUG(kComponent, role_name << ": connected");
}

void DtlsTransport::Impl::SetRemoteFingerprints(std::vector<Fingerprint> fingerprints) {
  outbox.Compact();
  config.remote_fingerprints = std::move(fingerprints);
  if (awaiting_fingerprint && state == DtlsState::kConnecting && !config.remote_fingerprints.empty()) {
    VerifyAndConnect();
  }
}

// ---- failure ----

std::string DtlsTransport::Impl::DescribeFailure(const char* context) {
  const std::string openssl_error = TakeOpenSslError();
  if (!verify_failure.empty()) return verify_failure;
  if (!alert_received.empty()) return "peer sent fatal alert: " + alert_received;
  std::string reason =
      std::string(context) + ": " + (openssl_error.empty() ? "unknown error" : openssl_error);
  if (!alert_sent.empty()) reason += " (sent fatal alert: " + alert_sent + ")";
  return reason;
}

void DtlsTransport::Impl::Fail(std::string reason) {
  if (finished()) return;
  state = DtlsState::kFailed;
  handshake_deadline = Timestamp::Infinity();
  EndFlight();
  inbox.Clear();
  LOG_INFO(kComponent, role_name << ": failed: " << reason);
  events.push_back({DtlsEvent::Kind::kFailed, std::move(reason)});
}

void DtlsTransport::Impl::FailAfterHandshake(std::string reason) {
  // No public OpenSSL call sends a fatal alert once the handshake is over; close_notify at least tells the
  // peer.
  ERR_clear_error();
  SSL_shutdown(ssl.get());
  ERR_clear_error();
  Collect();
  Fail(std::move(reason));
}

// ---- the remaining operations ----

void DtlsTransport::Impl::Start(Timestamp t) {
  BeginCall(t);
  if (state != DtlsState::kNew) return;
  BeginHandshakeClock();
  if (config.role == Role::kClient) {
    DriveOpenSsl();  // writes the ClientHello and its retransmission copies
    AfterOpenSsl();
  }
}

void DtlsTransport::Impl::HandleTimeout(Timestamp t) {
  BeginCall(t);
  if (state == DtlsState::kConnecting && now >= handshake_deadline) {
    const std::string limit = std::to_string(config.handshake_timeout.ms()) + " ms";
    Fail(awaiting_fingerprint ? "remote fingerprint not provided within " + limit
                              : "DTLS handshake did not complete within " + limit);
    return;
  }
  if (flight.active && now >= flight.next_retransmit) {
    if (flight.next_copy < flight.copies.size()) {
      SendNextCopy();
    } else {
      flight.next_retransmit = Timestamp::Infinity();  // out of copies: the handshake deadline decides
    }
  }
}

Status DtlsTransport::Impl::Send(ByteSpan data) {
  outbox.Compact();
  inbox.Compact();
  if (state != DtlsState::kConnected) {
    return MakeError(ErrorCode::kUnavailable, "DTLS transport is not connected");
  }
  if (data.empty()) return MakeError(ErrorCode::kInvalidArgument, "empty application data");
  if (data.size() > kMaxApplicationRecord) {
    return MakeError(ErrorCode::kLimitExceeded, "application data exceeds one DTLS record");
  }
  if (outbox.pending() >= config.max_queued_datagrams) {
    return MakeError(ErrorCode::kLimitExceeded, "DTLS transmit queue is full");
  }
  ERR_clear_error();
  const int n = SSL_write(ssl.get(), data.data(), static_cast<int>(data.size()));
  if (n != static_cast<int>(data.size())) {
    LOG_WARN(kComponent, role_name << ": SSL_write failed: " << TakeOpenSslError());
    Collect();
    return MakeError(ErrorCode::kInternal, "DTLS encryption failed");
  }
  Collect();
  ++stats.application_records_sent;
  stats.application_bytes_sent += data.size();
  return OkStatus();
}

void DtlsTransport::Impl::Close(Timestamp t) {
  BeginCall(t);
  if (finished()) return;
  if (handshake_done) {
    ERR_clear_error();
    SSL_shutdown(ssl.get());  // close_notify (RFC 5246 §7.2.1)
    ERR_clear_error();
    Collect();
  }
  if (state != DtlsState::kConnected) inbox.Clear();
  state = DtlsState::kClosed;
  handshake_deadline = Timestamp::Infinity();
  EndFlight();
  events.push_back({DtlsEvent::Kind::kClosed, "closed locally"});
}

Timestamp DtlsTransport::Impl::PollTimeout() const {
  Timestamp next = Timestamp::Infinity();
  if (state == DtlsState::kConnecting) next = handshake_deadline;
  if (flight.active && flight.next_copy < flight.copies.size()) next = std::min(next, flight.next_retransmit);
  return next;
}

SrtpProfile DtlsTransport::Impl::SelectedSrtpProfile() const {
  if (!handshake_done) return SrtpProfile::kNone;
  const SRTP_PROTECTION_PROFILE* profile = SSL_get_selected_srtp_profile(ssl.get());
  return profile != nullptr ? static_cast<SrtpProfile>(profile->id) : SrtpProfile::kNone;
}

Result<SrtpKeyingMaterial> DtlsTransport::Impl::ExportSrtpKeys() const {
  if (state != DtlsState::kConnected) {
    return MakeError(ErrorCode::kUnavailable, "DTLS transport is not connected");
  }
  const SrtpProfile profile = SelectedSrtpProfile();
  const auto lengths = KeyLengthsFor(profile);
  if (!lengths) return MakeError(ErrorCode::kNotFound, "no SRTP profile was negotiated");
  // RFC 5764 §4.2: client_write_SRTP_master_key | server_write_SRTP_master_key |
  // client_write_SRTP_master_salt | server_write_SRTP_master_salt.
  const size_t key = lengths->key, salt = lengths->salt;
  std::vector<uint8_t> material(2 * (key + salt));
  if (SSL_export_keying_material(ssl.get(), material.data(), material.size(), kSrtpExporterLabel,
                                 sizeof(kSrtpExporterLabel) - 1, nullptr, 0, 0) != 1) {
    ERR_clear_error();
    return MakeError(ErrorCode::kInternal, "SRTP keying material export failed");
  }
  auto slice = [&material](size_t offset, size_t length) {
    return std::vector<uint8_t>(material.begin() + static_cast<ptrdiff_t>(offset),
                                material.begin() + static_cast<ptrdiff_t>(offset + length));
  };
  const bool client = config.role == Role::kClient;
  SrtpKeyingMaterial keys;
  keys.profile = profile;
  keys.local_key = slice(client ? 0 : key, key);
  keys.remote_key = slice(client ? key : 0, key);
  keys.local_salt = slice(2 * key + (client ? 0 : salt), salt);
  keys.remote_salt = slice(2 * key + (client ? salt : 0), salt);
  return keys;
}

size_t DtlsTransport::Impl::MaxApplicationData() const {
  if (handshake_done) {
    const size_t n = DTLS_get_data_mtu(ssl.get());
    if (n > 0) return n;
  }
  // Before the cipher is known: the worst case of the configured suites (CBC: 16-byte IV, 20-byte MAC, up to
  // 16 bytes of padding) rounded up.
  return config.mtu - RecordHeader::kSize - 64;
}

// ---- DtlsTransport ----

DtlsTransport::DtlsTransport(DtlsConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
DtlsTransport::~DtlsTransport() = default;

void DtlsTransport::Start(Timestamp now) { impl_->Start(now); }
void DtlsTransport::SetRemoteFingerprints(std::vector<Fingerprint> fingerprints) {
  impl_->SetRemoteFingerprints(std::move(fingerprints));
}
void DtlsTransport::HandleReceive(Timestamp now, ByteSpan datagram) { impl_->HandleReceive(now, datagram); }
void DtlsTransport::HandleTimeout(Timestamp now) { impl_->HandleTimeout(now); }
Status DtlsTransport::Send(ByteSpan data) { return impl_->Send(data); }
void DtlsTransport::Close(Timestamp now) { impl_->Close(now); }

std::optional<ByteSpan> DtlsTransport::PollTransmit() {
  auto datagram = impl_->outbox.Pop();
  if (datagram) {
    ++impl_->stats.datagrams_sent;
    impl_->stats.bytes_sent += datagram->size();
  }
  return datagram;
}

std::optional<ByteSpan> DtlsTransport::PollApplicationData() {
  // Held data (remote fingerprint not yet verified) never comes out; data that arrived while connected still
  // does after close_notify.
  if (impl_->state != DtlsState::kConnected && impl_->state != DtlsState::kClosed) return std::nullopt;
  return impl_->inbox.Pop();
}

std::optional<DtlsEvent> DtlsTransport::PollEvent() {
  if (impl_->events.empty()) return std::nullopt;
  DtlsEvent event = std::move(impl_->events.front());
  impl_->events.pop_front();
  return event;
}

Timestamp DtlsTransport::PollTimeout() const { return impl_->PollTimeout(); }
DtlsState DtlsTransport::state() const { return impl_->state; }
Role DtlsTransport::role() const { return impl_->config.role; }
Result<SrtpKeyingMaterial> DtlsTransport::ExportSrtpKeys() const { return impl_->ExportSrtpKeys(); }
SrtpProfile DtlsTransport::srtp_profile() const { return impl_->SelectedSrtpProfile(); }
std::optional<NegotiatedParameters> DtlsTransport::negotiated() const { return impl_->negotiated; }
const std::vector<uint8_t>& DtlsTransport::remote_certificate_der() const { return impl_->remote_der; }
size_t DtlsTransport::max_application_data() const { return impl_->MaxApplicationData(); }
const DtlsStats& DtlsTransport::stats() const { return impl_->stats; }

}  // namespace tandem::dtls
