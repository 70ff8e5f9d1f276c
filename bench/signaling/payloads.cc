#include "bench/signaling/payloads.h"

#include <algorithm>
#include <cstring>

namespace tandem::bench::sig {
namespace {

// A browser offer's session part and one audio, one video and one data-channel section (RFC 8866, RFC 8829
// attributes), repeated until the text is long enough. Lines end in "\r\n", written JSON-escaped.
constexpr std::string_view kSession[] = {
    "v=0",
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
    "s=-",
    "t=0 0",
    "a=group:BUNDLE 0 1 2",
    "a=extmap-allow-mixed",
    "a=msid-semantic: WMS 7a3c9e2f-1b44-4d0e-9d7a-5c2f1e8b6a90",
};
constexpr std::string_view kMedia[] = {
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
    "c=IN IP4 0.0.0.0",
    "a=rtcp:9 IN IP4 0.0.0.0",
    "a=ice-ufrag:EsAw",
    "a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y",
    "a=ice-options:trickle",
    "a=fingerprint:sha-256 "
    "DA:39:A3:EE:5E:6B:4B:0D:32:55:BF:EF:95:60:18:90:AF:D8:07:09:1E:C4:8B:E4:7E:05:9C:1F:"
    "72:3A:6B:C0",
    "a=setup:actpass",
    "a=mid:0",
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
    "a=sendrecv",
    "a=msid:7a3c9e2f-1b44-4d0e-9d7a-5c2f1e8b6a90 0f3e1c2d-8a7b-4c6d-9e5f-1a2b3c4d5e6f",
    "a=rtcp-mux",
    "a=rtcp-rsize",
    "a=rtpmap:111 opus/48000/2",
    "a=rtcp-fb:111 transport-cc",
    "a=fmtp:111 minptime=10;useinbandfec=1",
    "a=rtpmap:63 red/48000/2",
    "a=fmtp:63 111/111",
    "a=rtpmap:9 G722/8000",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:13 CN/8000",
    "a=rtpmap:110 telephone-event/48000",
    "a=rtpmap:126 telephone-event/8000",
    "a=ssrc:3735928559 cname:k3Jd8Qz1Xw0pLm2N",
    "a=ssrc:3735928559 msid:7a3c9e2f-1b44-4d0e-9d7a-5c2f1e8b6a90 0f3e1c2d-8a7b-4c6d-9e5f-1a2b3c4d5e6f",
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 106 107 108 109 127 125 39 40 45 46 98 99 100 101",
    "c=IN IP4 0.0.0.0",
    "a=rtcp:9 IN IP4 0.0.0.0",
    "a=ice-ufrag:EsAw",
    "a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y",
    "a=ice-options:trickle",
    "a=setup:actpass",
    "a=mid:1",
    "a=extmap:14 urn:ietf:params:rtp-hdrext:toffset",
    "a=extmap:13 urn:3gpp:video-orientation",
    "a=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay",
    "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
    "a=sendrecv",
    "a=rtcp-mux",
    "a=rtcp-rsize",
    "a=rtpmap:96 VP8/90000",
    "a=rtcp-fb:96 goog-remb",
    "a=rtcp-fb:96 transport-cc",
    "a=rtcp-fb:96 ccm fir",
    "a=rtcp-fb:96 nack",
    "a=rtcp-fb:96 nack pli",
    "a=rtpmap:97 rtx/90000",
    "a=fmtp:97 apt=96",
    "a=rtpmap:102 H264/90000",
    "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
    "a=rtpmap:103 rtx/90000",
    "a=fmtp:103 apt=102",
    "a=rtpmap:104 H264/90000",
    "a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f",
    "a=rtpmap:45 AV1/90000",
    "a=fmtp:45 level-idx=5;profile=0;tier=0",
    "a=rtpmap:98 VP9/90000",
    "a=fmtp:98 profile-id=0",
    "a=ssrc-group:FID 2882400001 2882400002",
    "a=ssrc:2882400001 cname:k3Jd8Qz1Xw0pLm2N",
    "a=ssrc:2882400002 cname:k3Jd8Qz1Xw0pLm2N",
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
    "c=IN IP4 0.0.0.0",
    "a=ice-ufrag:EsAw",
    "a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y",
    "a=ice-options:trickle",
    "a=setup:actpass",
    "a=mid:2",
    "a=sctp-port:5000",
    "a=max-message-size:262144",
};

// RFC 8839 §5.1 candidate attributes, space separated, as browsers trickle them.
constexpr std::string_view kCandidates =
    "candidate:1467250027 1 udp 2122260223 192.168.0.196 46243 typ host generation 0 ufrag EsAw network-id 1 "
    "candidate:842163049 1 udp 1677729535 203.0.113.7 54321 typ srflx raddr 192.168.0.196 rport 46243 "
    "generation 0 ufrag EsAw network-id 1 network-cost 10 "
    "candidate:3600343163 1 udp 41885439 198.51.100.20 61022 typ relay raddr 203.0.113.7 rport 54321 "
    "generation 0 ufrag EsAw network-id 1 network-cost 10 "
    "candidate:1467250027 1 tcp 1518280447 192.168.0.196 9 typ host tcptype active generation 0 ufrag EsAw ";

constexpr size_t kMaxTextBytes = 60 * 1024;

void AppendPrefix(const std::string& text, size_t length, std::string& out) {
  // Never cut an escape ("\r" written as backslash + r) in half: the frame must stay valid JSON.
  if (length > 0 && length <= text.size() && text[length - 1] == '\\') --length;
  out.append(text, 0, length);
}

}  // namespace

const char* MessageKindName(MessageKind kind) {
  switch (kind) {
    case MessageKind::kOffer:
      return "offer";
    case MessageKind::kAnswer:
      return "answer";
    case MessageKind::kCandidate:
      return "candidate";
  }
  return "?";
}

PayloadFactory::PayloadFactory(const MessageMix& mix) : mix_(mix) {
  if (mix_.offer_weight + mix_.answer_weight + mix_.candidate_weight == 0) mix_.candidate_weight = 1;
  for (std::string_view line : kSession) sdp_.append(line).append("\\r\\n");
  while (sdp_.size() < kMaxTextBytes) {
    for (std::string_view line : kMedia) sdp_.append(line).append("\\r\\n");
  }
  sdp_.resize(kMaxTextBytes);
  while (candidate_.size() < 1800) candidate_.append(kCandidates);  // tandem accepts up to 2 KiB
  candidate_.resize(1800);
}

MessageKind PayloadFactory::DrawKind(uint64_t random) const {
  const uint64_t total = uint64_t{mix_.offer_weight} + mix_.answer_weight + mix_.candidate_weight;
  const uint64_t r = random % total;
  if (r < mix_.offer_weight) return MessageKind::kOffer;
  if (r < uint64_t{mix_.offer_weight} + mix_.answer_weight) return MessageKind::kAnswer;
  return MessageKind::kCandidate;
}

size_t PayloadFactory::DrawSize(MessageKind kind, uint64_t random) const {
  const SizeRange& r = kind == MessageKind::kOffer    ? mix_.offer
                       : kind == MessageKind::kAnswer ? mix_.answer
                                                      : mix_.candidate;
  if (r.max <= r.min) return r.min;
  return r.min + static_cast<size_t>(random % (r.max - r.min + 1));
}

size_t PayloadFactory::max_frame_bytes() const { return kMaxTextBytes + 256; }

void PayloadFactory::Append(std::string& out, MessageKind kind, std::string_view to, Marker marker,
                            size_t size) const {
  char mark[kMaxMarkerBytes];
  const size_t mark_len = WriteMarker(mark, marker);
  const size_t start = out.size();
  if (kind == MessageKind::kCandidate) {
    constexpr std::string_view kHead = R"({"type":"candidate","to":")";
    constexpr std::string_view kMid = R"(","candidate":{"candidate":")";
    constexpr std::string_view kTail = R"(","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"EsAw"}})";
    const size_t fixed = kHead.size() + to.size() + kMid.size() + mark_len + kTail.size();
    const size_t body = std::min(size > fixed ? size - fixed : 0, candidate_.size());
    out.reserve(start + fixed + body);
    out.append(kHead).append(to).append(kMid).append(mark, mark_len);
    out.append(candidate_, 0, body);
    out.append(kTail);
    return;
  }
  const std::string_view head =
      kind == MessageKind::kOffer ? R"({"type":"offer","to":")" : R"({"type":"answer","to":")";
  constexpr std::string_view kMid = R"(","sdp":")";
  constexpr std::string_view kTail = R"("})";
  const size_t fixed = head.size() + to.size() + kMid.size() + mark_len + kTail.size();
  const size_t body = std::min(size > fixed ? size - fixed : 0, sdp_.size());
  out.reserve(start + fixed + body);
  out.append(head).append(to).append(kMid).append(mark, mark_len);
  AppendPrefix(sdp_, body, out);
  out.append(kTail);
}

}  // namespace tandem::bench::sig
