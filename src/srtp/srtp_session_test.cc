// SrtpSession over libsrtp2: round trips for every profile, tampering, replay, limits, keys from a real DTLS
// handshake (RFC 5764), and known answers: an independent reference written here from RFC 3711 (§4.1.1
// AES-CM, §4.2 HMAC-SHA1, §4.3 key derivation, §3.4 SRTCP) and RFC 7714 (§8, §9 AES-GCM), checked first
// against the RFCs' own test vectors (RFC 3711 B.2, B.3; RFC 7714 §16.1) and then byte for byte against what
// libsrtp produces through our wrapper.
#include "srtp/srtp_session.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <string>
#include <vector>

#include "core/crypto.h"
#include "dtls/dtls_test_pair.h"

namespace tandem::srtp {
namespace {

using dtls::SrtpKeyingMaterial;
using dtls::SrtpProfile;

std::vector<uint8_t> Hex(std::string_view hex) {
  std::vector<uint8_t> out;
  int hi = -1;
  for (char c : hex) {
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v = c - 'A' + 10;
    } else {
      continue;
    }
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  return out;
}

// --- the reference implementation (OpenSSL primitives, RFC layouts) ---

std::vector<uint8_t> AesCtr(const std::vector<uint8_t>& key, const std::vector<uint8_t>& iv,
                            const std::vector<uint8_t>& data) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  EXPECT_EQ(EVP_EncryptInit_ex(ctx, key.size() == 32 ? EVP_aes_256_ctr() : EVP_aes_128_ctr(), nullptr,
                               key.data(), iv.data()),
            1);
  std::vector<uint8_t> out(data.size());
  int len = 0;
  EXPECT_EQ(EVP_EncryptUpdate(ctx, out.data(), &len, data.data(), static_cast<int>(data.size())), 1);
  EVP_CIPHER_CTX_free(ctx);
  return out;
}

// AES-GCM: ciphertext followed by the 16-byte tag.
std::vector<uint8_t> AesGcm(const std::vector<uint8_t>& key, const std::vector<uint8_t>& iv,
                            const std::vector<uint8_t>& aad, const std::vector<uint8_t>& plain) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  EXPECT_EQ(EVP_EncryptInit_ex(ctx, key.size() == 32 ? EVP_aes_256_gcm() : EVP_aes_128_gcm(), nullptr,
                               nullptr, nullptr),
            1);
  EXPECT_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(iv.size()), nullptr), 1);
  EXPECT_EQ(EVP_EncryptInit_ex(ctx, nullptr, nullptr, key.data(), iv.data()), 1);
  int len = 0;
  EXPECT_EQ(EVP_EncryptUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())), 1);
  std::vector<uint8_t> out(plain.size() + 16);
  EXPECT_EQ(EVP_EncryptUpdate(ctx, out.data(), &len, plain.data(), static_cast<int>(plain.size())), 1);
  EXPECT_EQ(EVP_EncryptFinal_ex(ctx, out.data() + len, &len), 1);
  EXPECT_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out.data() + plain.size()), 1);
  EVP_CIPHER_CTX_free(ctx);
  return out;
}

// RFC 3711 §4.3.1 with key_derivation_rate 0: x = (label << 48) XOR master_salt (112 bits, right-aligned),
// the PRF is AES-CM keyed with the master key over the IV x * 2^16. AEAD master salts (96 bits) take two zero
// bytes appended (RFC 7714 §11 feeds them to the same KDF).
std::vector<uint8_t> Kdf(const std::vector<uint8_t>& master_key, std::vector<uint8_t> master_salt,
                         uint8_t label, size_t length) {
  master_salt.resize(14, 0);
  std::vector<uint8_t> iv(16, 0);
  for (size_t i = 0; i < 14; ++i) iv[i] = master_salt[i];
  iv[7] ^= label;  // key_id = label || r (48 zero bits) occupies the low 56 bits of the 112
  return AesCtr(master_key, iv, std::vector<uint8_t>(length, 0));
}

struct SessionKeys {
  std::vector<uint8_t> cipher, auth, salt;
};
SessionKeys Derive(const std::vector<uint8_t>& key, const std::vector<uint8_t>& salt, bool rtcp, bool aead) {
  const uint8_t base = rtcp ? 3 : 0;  // §4.3.2: labels 0/1/2 for SRTP, 3/4/5 for SRTCP
  return {Kdf(key, salt, base, key.size()), aead ? std::vector<uint8_t>{} : Kdf(key, salt, base + 1, 20),
          Kdf(key, salt, base + 2, aead ? 12 : 14)};
}

// RFC 3711 §3.1, §4.1.1, §4.2: AES-CM + HMAC-SHA1 over (header | ciphertext | ROC).
std::vector<uint8_t> ReferenceProtectRtpCm(const SessionKeys& k, const std::vector<uint8_t>& packet,
                                           size_t header, uint32_t roc, size_t tag) {
  const uint32_t ssrc = LoadBe32(&packet[8]);
  const uint64_t index = (uint64_t{roc} << 16) | LoadBe16(&packet[2]);
  std::vector<uint8_t> iv(16, 0);
  for (size_t i = 0; i < 14; ++i) iv[i] = k.salt[i];
  for (int i = 0; i < 4; ++i) iv[4 + i] ^= static_cast<uint8_t>(ssrc >> (24 - 8 * i));
  for (int i = 0; i < 6; ++i) iv[8 + i] ^= static_cast<uint8_t>(index >> (40 - 8 * i));
  std::vector<uint8_t> out(packet.begin(), packet.begin() + static_cast<ptrdiff_t>(header));
  const auto enc = AesCtr(
      k.cipher, iv, std::vector<uint8_t>(packet.begin() + static_cast<ptrdiff_t>(header), packet.end()));
  out.insert(out.end(), enc.begin(), enc.end());
  uint8_t roc_bytes[4];
  StoreBe32(roc_bytes, roc);
  const auto mac = crypto::HmacSha1(k.auth, out, ByteSpan(roc_bytes, 4));
  out.insert(out.end(), mac.begin(), mac.begin() + static_cast<ptrdiff_t>(tag));
  return out;
}

// RFC 7714 §8: IV = (0x0000 | SSRC | ROC | SEQ) XOR salt; AAD = the header.
std::vector<uint8_t> ReferenceProtectRtpGcm(const SessionKeys& k, const std::vector<uint8_t>& packet,
                                            size_t header, uint32_t roc) {
  std::vector<uint8_t> iv(12, 0);
  StoreBe32(&iv[2], LoadBe32(&packet[8]));
  StoreBe32(&iv[6], roc);
  StoreBe16(&iv[10], LoadBe16(&packet[2]));
  for (size_t i = 0; i < 12; ++i) iv[i] ^= k.salt[i];
  const std::vector<uint8_t> aad(packet.begin(), packet.begin() + static_cast<ptrdiff_t>(header));
  const auto sealed = AesGcm(
      k.cipher, iv, aad, std::vector<uint8_t>(packet.begin() + static_cast<ptrdiff_t>(header), packet.end()));
  std::vector<uint8_t> out = aad;
  out.insert(out.end(), sealed.begin(), sealed.end());
  return out;
}

// RFC 3711 §3.4: the first 8 bytes stay clear, the rest is encrypted with the SRTCP index as the packet
// index, then E || index, then the tag over all of it.
std::vector<uint8_t> ReferenceProtectRtcpCm(const SessionKeys& k, const std::vector<uint8_t>& packet,
                                            uint32_t index) {
  std::vector<uint8_t> iv(16, 0);
  for (size_t i = 0; i < 14; ++i) iv[i] = k.salt[i];
  const uint32_t ssrc = LoadBe32(&packet[4]);
  for (int i = 0; i < 4; ++i) iv[4 + i] ^= static_cast<uint8_t>(ssrc >> (24 - 8 * i));
  for (int i = 0; i < 4; ++i) iv[10 + i] ^= static_cast<uint8_t>(index >> (24 - 8 * i));
  std::vector<uint8_t> out(packet.begin(), packet.begin() + 8);
  const auto enc = AesCtr(k.cipher, iv, std::vector<uint8_t>(packet.begin() + 8, packet.end()));
  out.insert(out.end(), enc.begin(), enc.end());
  uint8_t e_index[4];
  StoreBe32(e_index, 0x80000000u | index);
  out.insert(out.end(), e_index, e_index + 4);
  const auto mac = crypto::HmacSha1(k.auth, out);
  out.insert(out.end(), mac.begin(), mac.begin() + 10);
  return out;
}

// RFC 7714 §9: IV = (0x0000 | SSRC | 0x0000 | 0 | index) XOR salt; AAD = first 8 bytes | E || index; the E ||
// index word follows the tag.
std::vector<uint8_t> ReferenceProtectRtcpGcm(const SessionKeys& k, const std::vector<uint8_t>& packet,
                                             uint32_t index) {
  std::vector<uint8_t> iv(12, 0);
  StoreBe32(&iv[2], LoadBe32(&packet[4]));
  StoreBe32(&iv[8], index);
  for (size_t i = 0; i < 12; ++i) iv[i] ^= k.salt[i];
  std::vector<uint8_t> aad(packet.begin(), packet.begin() + 8);
  uint8_t e_index[4];
  StoreBe32(e_index, 0x80000000u | index);
  aad.insert(aad.end(), e_index, e_index + 4);
  const auto sealed = AesGcm(k.cipher, iv, aad, std::vector<uint8_t>(packet.begin() + 8, packet.end()));
  std::vector<uint8_t> out(packet.begin(), packet.begin() + 8);
  out.insert(out.end(), sealed.begin(), sealed.end());
  out.insert(out.end(), e_index, e_index + 4);
  return out;
}

TEST(SrtpReferenceTest, MatchesRfc3711AppendixB2AndB3) {
  // B.2 AES-CM keystream: session key, salt, SSRC 0, index 0.
  const auto key = Hex("2B7E151628AED2A6ABF7158809CF4F3C");
  const auto iv = Hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000");
  const auto ks = AesCtr(key, iv, std::vector<uint8_t>(48, 0));
  EXPECT_EQ(std::vector<uint8_t>(ks.begin(), ks.begin() + 16), Hex("E03EAD0935C95E80E166B16DD92B4EB4"));
  EXPECT_EQ(std::vector<uint8_t>(ks.begin() + 16, ks.begin() + 32), Hex("D23513162B02D0F72A43A2FE4A5F97AB"));
  EXPECT_EQ(std::vector<uint8_t>(ks.begin() + 32, ks.end()), Hex("41E95B3BB0A2E8DD477901E4FCA894C0"));
  // B.3 key derivation.
  const auto master_key = Hex("E1F97A0D3E018BE0D64FA32C06DE4139");
  const auto master_salt = Hex("0EC675AD498AFEEBB6960B3AABE6");
  const SessionKeys k = Derive(master_key, master_salt, false, false);
  EXPECT_EQ(k.cipher, Hex("C61E7A93744F39EE10734AFE3FF7A087"));
  EXPECT_EQ(k.salt, Hex("30CBBC08863D8C85D49DB34A9AE1"));
  EXPECT_EQ(k.auth, Hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"));
}

TEST(SrtpReferenceTest, MatchesRfc7714Section16_1) {
  // AEAD_AES_128_GCM with the session key and salt given directly.
  const SessionKeys k{Hex("000102030405060708090a0b0c0d0e0f"), {}, Hex("517569642070726f2071756f")};
  const auto plain =
      Hex("8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973 20646976 69736120 696e2070"
          "61727465 73207472 6573");
  const auto expected =
      Hex("8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca be633bd5 0d294e6f"
          "42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1 6a9152cf 765ee439 0cce");
  EXPECT_EQ(ReferenceProtectRtpGcm(k, plain, 12, 0), expected);
}

// --- sessions ---

SrtpKeyingMaterial Material(SrtpProfile profile, uint8_t seed) {
  const auto lengths = dtls::KeyLengthsFor(profile).value();
  SrtpKeyingMaterial m;
  m.profile = profile;
  for (size_t i = 0; i < lengths.key; ++i) {
    m.local_key.push_back(static_cast<uint8_t>(seed + i));
    m.remote_key.push_back(static_cast<uint8_t>(seed * 3 + i));
  }
  for (size_t i = 0; i < lengths.salt; ++i) {
    m.local_salt.push_back(static_cast<uint8_t>(0xA0 + seed + i));
    m.remote_salt.push_back(static_cast<uint8_t>(0x50 + seed + i));
  }
  return m;
}

SrtpKeyingMaterial Swapped(SrtpKeyingMaterial m) {
  std::swap(m.local_key, m.remote_key);
  std::swap(m.local_salt, m.remote_salt);
  return m;
}

std::vector<uint8_t> RtpPacket(uint16_t seq, uint32_t ssrc = 0xCAFEBABE, size_t payload = 160) {
  std::vector<uint8_t> p = {0x80, 0x6F, 0, 0, 0, 0, 0x12, 0x34, 0, 0, 0, 0};
  StoreBe16(&p[2], seq);
  StoreBe32(&p[8], ssrc);
  for (size_t i = 0; i < payload; ++i) p.push_back(static_cast<uint8_t>(i * 13 + seq));
  return p;
}

std::vector<uint8_t> RtcpPacket() {
  // A receiver report with one block (RFC 3550 §6.4.2).
  std::vector<uint8_t> p = {0x81, 0xC9, 0x00, 0x07, 0x11, 0x22, 0x33, 0x44};
  for (int i = 0; i < 24; ++i) p.push_back(static_cast<uint8_t>(i));
  return p;
}

class SrtpProfileTest : public ::testing::TestWithParam<SrtpProfile> {};

TEST_P(SrtpProfileTest, RoundTripsRtpAndRtcpInPlace) {
  auto a = SrtpSession::Create(Material(GetParam(), 1));
  auto b = SrtpSession::Create(Swapped(Material(GetParam(), 1)));
  ASSERT_TRUE(a.ok()) << a.error().ToString();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->profile(), GetParam());
  const bool gcm = GetParam() == SrtpProfile::kAeadAes128Gcm || GetParam() == SrtpProfile::kAeadAes256Gcm;
  EXPECT_EQ(a->RtpOverhead(), gcm ? 16u : GetParam() == SrtpProfile::kAes128CmSha1_32 ? 4u : 10u);
  EXPECT_EQ(a->RtcpOverhead(), gcm ? 20u : 14u);
  for (uint16_t seq = 65530; seq != 10; ++seq) {  // across the rollover
    const auto plain = RtpPacket(seq);
    std::vector<uint8_t> buf(plain.size() + a->RtpOverhead());
    std::copy(plain.begin(), plain.end(), buf.begin());
    auto n = a->ProtectRtp(buf, plain.size());
    ASSERT_TRUE(n.ok()) << n.error().ToString();
    ASSERT_EQ(*n, plain.size() + a->RtpOverhead());
    EXPECT_TRUE(std::equal(plain.begin(), plain.begin() + 12, buf.begin()));      // header in clear
    EXPECT_FALSE(std::equal(plain.begin() + 12, plain.end(), buf.begin() + 12));  // payload not
    auto m = b->UnprotectRtp(MutableByteSpan(buf.data(), *n));
    ASSERT_TRUE(m.ok()) << m.error().ToString();
    EXPECT_EQ(std::vector<uint8_t>(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(*m)), plain);
  }
  const auto rtcp = RtcpPacket();
  std::vector<uint8_t> buf(rtcp.size() + b->RtcpOverhead());
  std::copy(rtcp.begin(), rtcp.end(), buf.begin());
  auto n = b->ProtectRtcp(buf, rtcp.size());
  ASSERT_TRUE(n.ok()) << n.error().ToString();
  EXPECT_EQ(*n, rtcp.size() + b->RtcpOverhead());
  auto m = a->UnprotectRtcp(MutableByteSpan(buf.data(), *n));
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  EXPECT_EQ(std::vector<uint8_t>(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(*m)), rtcp);
  EXPECT_EQ(a->stats().rtp_protected, 16u);
  EXPECT_EQ(b->stats().rtp_unprotected, 16u);
  EXPECT_EQ(a->stats().rtcp_unprotected, 1u);
}

TEST_P(SrtpProfileTest, TamperingFailsAuthentication) {
  auto a = SrtpSession::Create(Material(GetParam(), 2)).value();
  auto b = SrtpSession::Create(Swapped(Material(GetParam(), 2))).value();
  for (size_t flip : {size_t{1}, size_t{5}, size_t{20}, size_t{100}}) {  // header, payload and tag bytes
    const auto plain = RtpPacket(static_cast<uint16_t>(flip));
    std::vector<uint8_t> buf(plain.size() + 16);
    std::copy(plain.begin(), plain.end(), buf.begin());
    const size_t n = a.ProtectRtp(buf, plain.size()).value();
    buf[flip < n ? flip : n - 1] ^= 0x01;
    auto r = b.UnprotectRtp(MutableByteSpan(buf.data(), n));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kUnauthorized);
    EXPECT_STREQ(r.error().reason, "srtp_err_status_auth_fail");
  }
  EXPECT_EQ(b.stats().auth_failures, 4u);
  // Wrong keys: the other side's own key material.
  auto c = SrtpSession::Create(Material(GetParam(), 2)).value();
  const auto plain = RtpPacket(1000);
  std::vector<uint8_t> buf(plain.size() + 16);
  std::copy(plain.begin(), plain.end(), buf.begin());
  const size_t n = a.ProtectRtp(buf, plain.size()).value();
  EXPECT_EQ(c.UnprotectRtp(MutableByteSpan(buf.data(), n)).error().code, ErrorCode::kUnauthorized);
  // RTCP too.
  const auto rtcp = RtcpPacket();
  std::vector<uint8_t> rbuf(rtcp.size() + 20);
  std::copy(rtcp.begin(), rtcp.end(), rbuf.begin());
  const size_t rn = a.ProtectRtcp(rbuf, rtcp.size()).value();
  rbuf[10] ^= 0x80;
  EXPECT_EQ(b.UnprotectRtcp(MutableByteSpan(rbuf.data(), rn)).error().code, ErrorCode::kUnauthorized);
}

TEST_P(SrtpProfileTest, ReplayIsRejected) {
  auto a = SrtpSession::Create(Material(GetParam(), 3)).value();
  auto b = SrtpSession::Create(Swapped(Material(GetParam(), 3))).value();
  const auto plain = RtpPacket(42);
  std::vector<uint8_t> buf(plain.size() + 16);
  std::copy(plain.begin(), plain.end(), buf.begin());
  const size_t n = a.ProtectRtp(buf, plain.size()).value();
  const std::vector<uint8_t> wire(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(n));
  auto copy = wire;
  ASSERT_TRUE(b.UnprotectRtp(copy).ok());
  copy = wire;
  auto r = b.UnprotectRtp(copy);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kAlreadyExists);
  EXPECT_STREQ(r.error().reason, "srtp_err_status_replay_fail");
  EXPECT_EQ(b.stats().replays, 1u);
  // SRTCP has its own replay list.
  const auto rtcp = RtcpPacket();
  std::vector<uint8_t> rbuf(rtcp.size() + 20);
  std::copy(rtcp.begin(), rtcp.end(), rbuf.begin());
  const size_t rn = a.ProtectRtcp(rbuf, rtcp.size()).value();
  const std::vector<uint8_t> rwire(rbuf.begin(), rbuf.begin() + static_cast<ptrdiff_t>(rn));
  auto rcopy = rwire;
  ASSERT_TRUE(b.UnprotectRtcp(rcopy).ok());
  rcopy = rwire;
  EXPECT_EQ(b.UnprotectRtcp(rcopy).error().code, ErrorCode::kAlreadyExists);
  // Forgetting the stream (after a BYE) forgets its replay state.
  b.RemoveInboundStream(0xCAFEBABE);
  copy = wire;
  EXPECT_TRUE(b.UnprotectRtp(copy).ok());
}

INSTANTIATE_TEST_SUITE_P(Profiles, SrtpProfileTest,
                         ::testing::Values(SrtpProfile::kAes128CmSha1_80, SrtpProfile::kAes128CmSha1_32,
                                           SrtpProfile::kAeadAes128Gcm, SrtpProfile::kAeadAes256Gcm),
                         [](const auto& info) { return std::string(dtls::ToString(info.param)).substr(5); });

TEST(SrtpSessionTest, ReplayWindowIsConfigurable) {
  for (size_t window : {size_t{64}, size_t{1024}}) {
    auto a = SrtpSession::Create(Material(SrtpProfile::kAeadAes128Gcm, 4), {.replay_window = window}).value();
    auto b = SrtpSession::Create(Swapped(Material(SrtpProfile::kAeadAes128Gcm, 4)), {.replay_window = window})
                 .value();
    std::vector<std::vector<uint8_t>> wire;
    for (uint16_t seq = 1; seq <= 300; ++seq) {
      auto p = RtpPacket(seq);
      p.resize(p.size() + 16);
      const size_t n = a.ProtectRtp(p, p.size() - 16).value();
      p.resize(n);
      wire.push_back(p);
    }
    // Deliver 300 first, then 200 (100 behind): inside a window of 1024, outside one of 64.
    ASSERT_TRUE(b.UnprotectRtp(wire[299]).ok());
    auto late = b.UnprotectRtp(wire[199]);
    if (window == 64) {
      ASSERT_FALSE(late.ok());
      EXPECT_STREQ(late.error().reason, "srtp_err_status_replay_old");
    } else {
      EXPECT_TRUE(late.ok()) << late.error().ToString();
    }
  }
}

TEST(SrtpSessionTest, RejectsBadKeysAndMissingRoom) {
  EXPECT_EQ(
      SrtpSession::Create(Material(SrtpProfile::kAes128CmSha1_80, 1), {.replay_window = 10}).error().code,
      ErrorCode::kInvalidArgument);
  SrtpKeyingMaterial none;
  EXPECT_EQ(SrtpSession::Create(none).error().code, ErrorCode::kInvalidArgument);
  auto short_key = Material(SrtpProfile::kAeadAes128Gcm, 1);
  short_key.remote_key.pop_back();
  EXPECT_EQ(SrtpSession::Create(short_key).error().code, ErrorCode::kInvalidArgument);
  auto cm_salt_for_gcm = Material(SrtpProfile::kAeadAes128Gcm, 1);
  cm_salt_for_gcm.local_salt.resize(14);  // an AES-CM salt (RFC 5764) where RFC 7714 wants 12 bytes
  EXPECT_EQ(SrtpSession::Create(cm_salt_for_gcm).error().code, ErrorCode::kInvalidArgument);

  auto s = SrtpSession::Create(Material(SrtpProfile::kAes128CmSha1_80, 1)).value();
  auto p = RtpPacket(1);
  const size_t len = p.size();
  p.resize(len + 9);  // one byte short of the tag
  EXPECT_EQ(s.ProtectRtp(p, len).error().code, ErrorCode::kLimitExceeded);
  EXPECT_EQ(s.ProtectRtp(p, p.size() + 1).error().code, ErrorCode::kInvalidArgument);
  std::vector<uint8_t> tiny(5);
  EXPECT_FALSE(s.UnprotectRtp(tiny).ok());
  EXPECT_FALSE(s.UnprotectRtcp(tiny).ok());
  auto rtcp = RtcpPacket();
  const size_t rlen = rtcp.size();
  rtcp.resize(rlen + 13);
  EXPECT_EQ(s.ProtectRtcp(rtcp, rlen).error().code, ErrorCode::kLimitExceeded);
  EXPECT_STREQ(SrtpSession::StatusName(9), "srtp_err_status_replay_fail");
  EXPECT_STREQ(SrtpSession::StatusName(1234), "srtp_err_status_unknown");
}

TEST(SrtpSessionTest, MovedSessionKeepsWorking) {
  auto a = SrtpSession::Create(Material(SrtpProfile::kAes128CmSha1_80, 5)).value();
  auto b = SrtpSession::Create(Swapped(Material(SrtpProfile::kAes128CmSha1_80, 5))).value();
  SrtpSession moved = std::move(a);
  auto p = RtpPacket(9);
  const size_t len = p.size();
  p.resize(len + 10);
  ASSERT_TRUE(moved.ProtectRtp(p, len).ok());
  EXPECT_TRUE(b.UnprotectRtp(p).ok());
  EXPECT_EQ(moved.stats().rtp_protected, 1u);
}

// Known answers: libsrtp through SrtpSession against the reference, with the RFC 3711 B.3 master key for
// AES-CM.
TEST(SrtpKnownAnswerTest, AesCmRtpAndRtcpMatchReference) {
  for (SrtpProfile profile : {SrtpProfile::kAes128CmSha1_80, SrtpProfile::kAes128CmSha1_32}) {
    SrtpKeyingMaterial m;
    m.profile = profile;
    m.local_key = Hex("E1F97A0D3E018BE0D64FA32C06DE4139");
    m.local_salt = Hex("0EC675AD498AFEEBB6960B3AABE6");
    m.remote_key = m.local_key;
    m.remote_salt = m.local_salt;
    auto s = SrtpSession::Create(m).value();
    const size_t tag = profile == SrtpProfile::kAes128CmSha1_80 ? 10 : 4;
    const SessionKeys rtp_keys = Derive(m.local_key, m.local_salt, false, false);
    for (uint16_t seq : {uint16_t{1}, uint16_t{2}, uint16_t{500}}) {
      const auto plain = RtpPacket(seq, 0xDECAFBAD, 37);
      std::vector<uint8_t> buf(plain.size() + 16);
      std::copy(plain.begin(), plain.end(), buf.begin());
      const size_t n = s.ProtectRtp(buf, plain.size()).value();
      buf.resize(n);
      EXPECT_EQ(buf, ReferenceProtectRtpCm(rtp_keys, plain, 12, 0, tag)) << seq;
    }
    // What the reference protects, libsrtp accepts (same keys both ways here).
    const auto ours = ReferenceProtectRtpCm(rtp_keys, RtpPacket(600, 0x01020304), 12, 0, tag);
    auto copy = ours;
    auto plain_len = s.UnprotectRtp(copy);
    ASSERT_TRUE(plain_len.ok()) << plain_len.error().ToString();
    copy.resize(*plain_len);
    EXPECT_EQ(copy, RtpPacket(600, 0x01020304));
    // SRTCP (always an 80-bit tag, RFC 5764 §4.1.2); the index is read from libsrtp's trailer.
    const SessionKeys rtcp_keys = Derive(m.local_key, m.local_salt, true, false);
    const auto rtcp = RtcpPacket();
    std::vector<uint8_t> rbuf(rtcp.size() + 14);
    std::copy(rtcp.begin(), rtcp.end(), rbuf.begin());
    const size_t rn = s.ProtectRtcp(rbuf, rtcp.size()).value();
    rbuf.resize(rn);
    const uint32_t e_index = LoadBe32(&rbuf[rtcp.size()]);
    EXPECT_TRUE(e_index & 0x80000000u);  // E: encrypted
    EXPECT_EQ(rbuf, ReferenceProtectRtcpCm(rtcp_keys, rtcp, e_index & 0x7FFFFFFF));
  }
}

TEST(SrtpKnownAnswerTest, AesGcmRtpAndRtcpMatchReference) {
  for (SrtpProfile profile : {SrtpProfile::kAeadAes128Gcm, SrtpProfile::kAeadAes256Gcm}) {
    SrtpKeyingMaterial m = Material(profile, 7);
    m.remote_key = m.local_key;
    m.remote_salt = m.local_salt;
    auto s = SrtpSession::Create(m).value();
    const SessionKeys rtp_keys = Derive(m.local_key, m.local_salt, false, true);
    for (uint16_t seq : {uint16_t{1}, uint16_t{0xF17B}}) {
      const auto plain = RtpPacket(seq, 0x5501A0B2, 38);
      std::vector<uint8_t> buf(plain.size() + 16);
      std::copy(plain.begin(), plain.end(), buf.begin());
      const size_t n = s.ProtectRtp(buf, plain.size()).value();
      buf.resize(n);
      EXPECT_EQ(buf, ReferenceProtectRtpGcm(rtp_keys, plain, 12, 0)) << seq;
    }
    const auto ours = ReferenceProtectRtpGcm(rtp_keys, RtpPacket(40000, 0x0A0B0C0D), 12, 0);
    auto copy = ours;
    auto plain_len = s.UnprotectRtp(copy);
    ASSERT_TRUE(plain_len.ok()) << plain_len.error().ToString();
    copy.resize(*plain_len);
    EXPECT_EQ(copy, RtpPacket(40000, 0x0A0B0C0D));
    const SessionKeys rtcp_keys = Derive(m.local_key, m.local_salt, true, true);
    const auto rtcp = RtcpPacket();
    std::vector<uint8_t> rbuf(rtcp.size() + 20);
    std::copy(rtcp.begin(), rtcp.end(), rbuf.begin());
    const size_t rn = s.ProtectRtcp(rbuf, rtcp.size()).value();
    rbuf.resize(rn);
    const uint32_t e_index = LoadBe32(&rbuf[rn - 4]);
    EXPECT_TRUE(e_index & 0x80000000u);
    EXPECT_EQ(rbuf, ReferenceProtectRtcpGcm(rtcp_keys, rtcp, e_index & 0x7FFFFFFF));
  }
}

// RFC 5764: keys exported by a real DTLS handshake between two of our transports key two sessions that talk.
TEST(SrtpDtlsTest, KeysFromDtlsHandshakeInteroperate) {
  for (SrtpProfile profile : {SrtpProfile::kAeadAes128Gcm, SrtpProfile::kAes128CmSha1_80}) {
    auto client = dtls::testing::DtlsPair::ClientConfig();
    auto server = dtls::testing::DtlsPair::ServerConfig();
    client.srtp_profiles = {profile};
    server.srtp_profiles = {SrtpProfile::kAeadAes128Gcm, SrtpProfile::kAes128CmSha1_80};
    dtls::testing::DtlsPair pair(client, server);
    ASSERT_TRUE(pair.Handshake());
    auto client_keys = pair.client().ExportSrtpKeys();
    auto server_keys = pair.server().ExportSrtpKeys();
    ASSERT_TRUE(client_keys.ok());
    ASSERT_TRUE(server_keys.ok());
    auto c = SrtpSession::Create(*client_keys).value();
    auto s = SrtpSession::Create(*server_keys).value();
    EXPECT_EQ(c.profile(), profile);
    auto p = RtpPacket(77);
    const auto plain = p;
    p.resize(p.size() + c.RtpOverhead());
    const size_t n = c.ProtectRtp(p, plain.size()).value();
    auto m = s.UnprotectRtp(MutableByteSpan(p.data(), n));
    ASSERT_TRUE(m.ok()) << m.error().ToString();
    EXPECT_EQ(std::vector<uint8_t>(p.begin(), p.begin() + static_cast<ptrdiff_t>(*m)), plain);
    // And the other way, RTCP.
    auto r = RtcpPacket();
    const auto rplain = r;
    r.resize(r.size() + s.RtcpOverhead());
    const size_t rn = s.ProtectRtcp(r, rplain.size()).value();
    auto rm = c.UnprotectRtcp(MutableByteSpan(r.data(), rn));
    ASSERT_TRUE(rm.ok());
    EXPECT_EQ(*rm, rplain.size());
  }
}

}  // namespace
}  // namespace tandem::srtp
