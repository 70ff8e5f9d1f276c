#include "sctp/chunks.h"

#include <algorithm>
#include <cstring>

namespace tandem::sctp {
namespace {

// Validates the chunk header of `chunk` (whose length must equal the header's length field) and returns a
// reader positioned after the header. The caller has already split the packet, so a mismatch means a caller
// bug or a hand-built span; both are rejected.
std::optional<ByteReader> OpenChunk(ByteSpan chunk, uint8_t type, size_t min_length,
                                    uint8_t* flags = nullptr) {
  if (chunk.size() < kChunkHeaderSize || chunk.size() < min_length) return std::nullopt;
  if (chunk[0] != type) return std::nullopt;
  if (LoadBe16(&chunk[2]) != chunk.size()) return std::nullopt;
  if (flags) *flags = chunk[1];
  ByteReader r(chunk);
  r.Skip(kChunkHeaderSize);
  return r;
}

// Writes a chunk header with a placeholder length; returns the offset for FinishChunk.
size_t BeginChunk(ByteWriter& w, uint8_t type, uint8_t flags) {
  const size_t start = w.size();
  w.WriteU8(type);
  w.WriteU8(flags);
  w.WriteU16(0);
  return start;
}

// Patches the length (excluding padding, RFC 9260 §3.2) and pads to 4 bytes.
void FinishChunk(ByteWriter& w, size_t start) {
  const size_t length = w.size() - start;
  w.PatchU16(start + 2, static_cast<uint16_t>(length));
  w.WriteZeros(PaddedLength(length) - length);
}

std::vector<uint8_t> ToVector(ByteSpan s) { return {s.begin(), s.end()}; }

bool ReadStreamList(ByteReader& r, std::vector<uint16_t>& streams) {
  if (r.remaining() % 2 != 0) return false;
  streams.clear();
  streams.reserve(r.remaining() / 2);
  uint16_t s = 0;
  while (r.ReadU16(s)) streams.push_back(s);
  return true;
}

}  // namespace

bool ParseParameters(ByteSpan data, std::vector<ParameterView>& out, size_t max_count) {
  out.clear();
  ByteReader r(data);
  while (r.remaining() >= 4) {
    const size_t start = r.position();
    uint16_t type = 0, length = 0;
    r.ReadU16(type);
    r.ReadU16(length);
    if (length < 4) return false;
    ByteSpan value;
    if (!r.ReadBytes(length - 4, value)) return false;
    if (out.size() >= max_count) return false;
    out.push_back({type, value, data.subspan(start, length)});
    // The last parameter's padding may be missing (RFC 9260 §3.2.1: the sender pads, but the chunk length
    // does not include the final padding of the chunk).
    r.Skip(std::min(PaddedLength(length) - length, r.remaining()));
  }
  // 1..3 stray bytes cannot hold a parameter.
  return r.remaining() == 0;
}

void WriteParameter(ByteWriter& w, uint16_t type, ByteSpan value) {
  w.WriteU16(type);
  w.WriteU16(static_cast<uint16_t>(4 + value.size()));
  w.WriteBytes(value);
  w.WriteZeros(PaddedLength(value.size()) - value.size());
}

// ---- Error causes (RFC 9260 §3.3.10) ----

ErrorCause ErrorCause::UserInitiatedAbort(std::string_view reason) {
  return {cause_code::kUserInitiatedAbort, ToVector(AsBytes(reason.substr(0, 1000)))};
}
ErrorCause ErrorCause::ProtocolViolation(std::string_view info) {
  return {cause_code::kProtocolViolation, ToVector(AsBytes(info.substr(0, 1000)))};
}
ErrorCause ErrorCause::NoUserData(uint32_t tsn) {
  ErrorCause c{cause_code::kNoUserData, std::vector<uint8_t>(4)};
  StoreBe32(c.info.data(), tsn);
  return c;
}
ErrorCause ErrorCause::StaleCookie(uint32_t staleness_us) {
  ErrorCause c{cause_code::kStaleCookie, std::vector<uint8_t>(4)};
  StoreBe32(c.info.data(), staleness_us);
  return c;
}
ErrorCause ErrorCause::UnrecognizedChunk(ByteSpan chunk) {
  // §3.3.10.6: the whole unrecognized chunk (bounded so the ERROR fits in a packet).
  return {cause_code::kUnrecognizedChunkType, ToVector(chunk.first(std::min<size_t>(chunk.size(), 1000)))};
}
ErrorCause ErrorCause::InvalidStreamIdentifier(uint16_t stream) {
  ErrorCause c{cause_code::kInvalidStreamIdentifier, std::vector<uint8_t>(4)};
  StoreBe16(c.info.data(), stream);  // followed by 16 reserved bits
  return c;
}
ErrorCause ErrorCause::UnrecognizedParameters(ByteSpan params) {
  return {cause_code::kUnrecognizedParameters, ToVector(params)};
}
ErrorCause ErrorCause::OutOfResource() { return {cause_code::kOutOfResource, {}}; }
ErrorCause ErrorCause::CookieWhileShuttingDown() { return {cause_code::kCookieWhileShuttingDown, {}}; }
ErrorCause ErrorCause::MissingMandatoryParameter() {
  // §3.3.10.2: number of missing params (0 here: we do not list them).
  return {cause_code::kMissingMandatoryParameter, std::vector<uint8_t>(4)};
}
ErrorCause ErrorCause::InvalidMandatoryParameter() { return {cause_code::kInvalidMandatoryParameter, {}}; }

std::string ErrorCause::ToString() const {
  auto text = [&] {
    std::string s(AsStringView(info));
    // Keep printable ASCII only: the reason comes from the network.
    for (char& ch : s) {
      if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) > 0x7e) ch = '?';
    }
    return s;
  };
  switch (code) {
    case cause_code::kInvalidStreamIdentifier:
      return "Invalid Stream Identifier";
    case cause_code::kMissingMandatoryParameter:
      return "Missing Mandatory Parameter";
    case cause_code::kStaleCookie:
      return "Stale Cookie Error";
    case cause_code::kOutOfResource:
      return "Out of Resource";
    case cause_code::kUnrecognizedChunkType:
      return "Unrecognized Chunk Type";
    case cause_code::kInvalidMandatoryParameter:
      return "Invalid Mandatory Parameter";
    case cause_code::kUnrecognizedParameters:
      return "Unrecognized Parameters";
    case cause_code::kNoUserData:
      return "No User Data";
    case cause_code::kCookieWhileShuttingDown:
      return "Cookie Received While Shutting Down";
    case cause_code::kRestartWithNewAddresses:
      return "Restart of an Association with New Addresses";
    case cause_code::kUserInitiatedAbort:
      return "User-Initiated Abort: " + text();
    case cause_code::kProtocolViolation:
      return "Protocol Violation: " + text();
    default:
      return "Error cause " + std::to_string(code);
  }
}

bool ParseErrorCauses(ByteSpan data, std::vector<ErrorCause>& out) {
  std::vector<ParameterView> tlvs;
  if (!ParseParameters(data, tlvs, 64)) return false;
  out.clear();
  for (const ParameterView& p : tlvs) out.push_back({p.type, ToVector(p.value)});
  return true;
}

void WriteErrorCauses(ByteWriter& w, const std::vector<ErrorCause>& causes) {
  for (const ErrorCause& c : causes) WriteParameter(w, c.code, c.info);
}

std::string DescribeErrorCauses(const std::vector<ErrorCause>& causes) {
  std::string out;
  for (const ErrorCause& c : causes) {
    if (!out.empty()) out += "; ";
    out += c.ToString();
  }
  return out;
}

// ---- DATA (RFC 9260 §3.3.1) ----

std::optional<DataChunk> DataChunk::Parse(ByteSpan chunk) {
  uint8_t flags = 0;
  auto r = OpenChunk(chunk, kType, kDataChunkHeaderSize, &flags);
  if (!r) return std::nullopt;
  DataChunk d;
  r->ReadU32(d.tsn);
  r->ReadU16(d.stream);
  r->ReadU16(d.ssn);
  r->ReadU32(d.ppid);
  d.payload = r->Rest();
  d.end = flags & kFlagEnd;
  d.beginning = flags & kFlagBeginning;
  d.unordered = flags & kFlagUnordered;
  d.immediate = flags & kFlagImmediate;
  return d;
}

void DataChunk::SerializeTo(ByteWriter& w) const {
  const uint8_t flags = (end ? kFlagEnd : 0) | (beginning ? kFlagBeginning : 0) |
                        (unordered ? kFlagUnordered : 0) | (immediate ? kFlagImmediate : 0);
  const size_t start = BeginChunk(w, kType, flags);
  w.WriteU32(tsn);
  w.WriteU16(stream);
  w.WriteU16(ssn);
  w.WriteU32(ppid);
  w.WriteBytes(payload);
  FinishChunk(w, start);
}

// ---- I-DATA (RFC 8260 §2.1) ----

std::optional<IDataChunk> IDataChunk::Parse(ByteSpan chunk) {
  uint8_t flags = 0;
  auto r = OpenChunk(chunk, kType, kIDataChunkHeaderSize, &flags);
  if (!r) return std::nullopt;
  IDataChunk d;
  uint16_t reserved = 0;
  uint32_t ppid_or_fsn = 0;
  r->ReadU32(d.tsn);
  r->ReadU16(d.stream);
  r->ReadU16(reserved);
  r->ReadU32(d.mid);
  r->ReadU32(ppid_or_fsn);
  d.payload = r->Rest();
  d.end = flags & DataChunk::kFlagEnd;
  d.beginning = flags & DataChunk::kFlagBeginning;
  d.unordered = flags & DataChunk::kFlagUnordered;
  d.immediate = flags & DataChunk::kFlagImmediate;
  // §2.1: the first fragment carries the PPID and has FSN 0 implicitly.
  if (d.beginning) {
    d.ppid = ppid_or_fsn;
    d.fsn = 0;
  } else {
    d.fsn = ppid_or_fsn;
  }
  return d;
}

void IDataChunk::SerializeTo(ByteWriter& w) const {
  const uint8_t flags = (end ? DataChunk::kFlagEnd : 0) | (beginning ? DataChunk::kFlagBeginning : 0) |
                        (unordered ? DataChunk::kFlagUnordered : 0) |
                        (immediate ? DataChunk::kFlagImmediate : 0);
  const size_t start = BeginChunk(w, kType, flags);
  w.WriteU32(tsn);
  w.WriteU16(stream);
  w.WriteU16(0);
  w.WriteU32(mid);
  w.WriteU32(beginning ? ppid : fsn);
  w.WriteBytes(payload);
  FinishChunk(w, start);
}

// ---- INIT / INIT ACK (RFC 9260 §3.3.2, §3.3.3) ----

bool InitChunk::SupportsExtension(uint8_t type) const {
  return std::find(supported_extensions.begin(), supported_extensions.end(), type) !=
         supported_extensions.end();
}

std::optional<InitChunk> InitChunk::ParseAs(uint8_t type, ByteSpan chunk) {
  auto r = OpenChunk(chunk, type, 20);
  if (!r) return std::nullopt;
  InitChunk c;
  r->ReadU32(c.initiate_tag);
  r->ReadU32(c.a_rwnd);
  r->ReadU16(c.outbound_streams);
  r->ReadU16(c.inbound_streams);
  r->ReadU32(c.initial_tsn);
  std::vector<ParameterView> params;
  if (!ParseParameters(r->Rest(), params)) return std::nullopt;
  for (const ParameterView& p : params) {
    switch (p.type) {
      case param_type::kStateCookie:
        if (type != chunk_type::kInitAck || c.state_cookie) return std::nullopt;
        c.state_cookie = ToVector(p.value);
        break;
      case param_type::kSupportedExtensions:
        c.supported_extensions = ToVector(p.value);
        break;
      case param_type::kForwardTsnSupported:
        c.forward_tsn_supported = true;
        break;
      case param_type::kUnrecognizedParameter:
        if (type == chunk_type::kInitAck) c.unrecognized_parameters.push_back(ToVector(p.value));
        break;
      // Understood and irrelevant over DTLS (RFC 8261 §5: no addresses; ECN and host names unused).
      case param_type::kIpv4Address:
      case param_type::kIpv6Address:
      case param_type::kHostNameAddress:
      case param_type::kSupportedAddressTypes:
      case param_type::kCookiePreservative:
      case param_type::kEcnCapable:
        break;
      default:
        // RFC 9260 §3.2.1: the two high bits of the type say whether to report and whether to continue.
        if (ParameterMustBeReported(p.type)) c.unrecognized_to_report.push_back(ToVector(p.raw));
        if (ParameterStopsProcessing(p.type)) return c;
        break;
    }
  }
  return c;
}

void InitChunk::SerializeAs(uint8_t type, ByteWriter& w) const {
  const size_t start = BeginChunk(w, type, 0);
  w.WriteU32(initiate_tag);
  w.WriteU32(a_rwnd);
  w.WriteU16(outbound_streams);
  w.WriteU16(inbound_streams);
  w.WriteU32(initial_tsn);
  if (!supported_extensions.empty())
    WriteParameter(w, param_type::kSupportedExtensions, supported_extensions);
  if (forward_tsn_supported) WriteParameter(w, param_type::kForwardTsnSupported, {});
  if (state_cookie) WriteParameter(w, param_type::kStateCookie, *state_cookie);
  for (const auto& raw : unrecognized_parameters) WriteParameter(w, param_type::kUnrecognizedParameter, raw);
  FinishChunk(w, start);
}

std::optional<InitAckChunk> InitAckChunk::Parse(ByteSpan chunk) {
  auto c = InitChunk::ParseAs(kType, chunk);
  if (!c) return std::nullopt;
  InitAckChunk a;
  static_cast<InitChunk&>(a) = std::move(*c);
  return a;
}

// ---- SACK (RFC 9260 §3.3.4) ----

bool SackChunk::ParseInto(ByteSpan chunk, SackChunk& s) {
  auto r = OpenChunk(chunk, kType, 16);
  if (!r) return false;
  uint16_t gaps = 0, dups = 0;
  r->ReadU32(s.cumulative_tsn_ack);
  r->ReadU32(s.a_rwnd);
  r->ReadU16(gaps);
  r->ReadU16(dups);
  if (r->remaining() != 4u * gaps + 4u * dups) return false;
  s.gap_blocks.clear();
  s.duplicate_tsns.clear();
  for (uint16_t i = 0; i < gaps; ++i) {
    GapBlock b;
    r->ReadU16(b.start);
    r->ReadU16(b.end);
    s.gap_blocks.push_back(b);
  }
  for (uint16_t i = 0; i < dups; ++i) {
    uint32_t t = 0;
    r->ReadU32(t);
    s.duplicate_tsns.push_back(t);
  }
  return true;
}

std::optional<SackChunk> SackChunk::Parse(ByteSpan chunk) {
  SackChunk s;
  if (!ParseInto(chunk, s)) return std::nullopt;
  return s;
}

void SackChunk::SerializeTo(ByteWriter& w) const {
  const size_t start = BeginChunk(w, kType, 0);
  w.WriteU32(cumulative_tsn_ack);
  w.WriteU32(a_rwnd);
  w.WriteU16(static_cast<uint16_t>(gap_blocks.size()));
  w.WriteU16(static_cast<uint16_t>(duplicate_tsns.size()));
  for (const GapBlock& b : gap_blocks) {
    w.WriteU16(b.start);
    w.WriteU16(b.end);
  }
  for (uint32_t t : duplicate_tsns) w.WriteU32(t);
  FinishChunk(w, start);
}

// ---- HEARTBEAT / HEARTBEAT ACK (RFC 9260 §3.3.5, §3.3.6) ----

std::optional<HeartbeatChunk> HeartbeatChunk::ParseAs(uint8_t type, ByteSpan chunk) {
  auto r = OpenChunk(chunk, type, 8);
  if (!r) return std::nullopt;
  std::vector<ParameterView> params;
  if (!ParseParameters(r->Rest(), params, 4)) return std::nullopt;
  for (const ParameterView& p : params) {
    if (p.type == param_type::kHeartbeatInfo) {
      HeartbeatChunk h;
      h.info = ToVector(p.value);
      return h;
    }
  }
  return std::nullopt;  // the Heartbeat Info parameter is mandatory
}

void HeartbeatChunk::SerializeAs(uint8_t type, ByteWriter& w) const {
  const size_t start = BeginChunk(w, type, 0);
  WriteParameter(w, param_type::kHeartbeatInfo, info);
  FinishChunk(w, start);
}

std::optional<HeartbeatAckChunk> HeartbeatAckChunk::Parse(ByteSpan chunk) {
  auto h = HeartbeatChunk::ParseAs(kType, chunk);
  if (!h) return std::nullopt;
  HeartbeatAckChunk a;
  a.info = std::move(h->info);
  return a;
}

// ---- ABORT / ERROR (RFC 9260 §3.3.7, §3.3.10) ----

std::optional<AbortChunk> AbortChunk::Parse(ByteSpan chunk) {
  uint8_t flags = 0;
  auto r = OpenChunk(chunk, kType, 4, &flags);
  if (!r) return std::nullopt;
  AbortChunk a;
  a.tag_reflected = flags & 0x01;
  if (!ParseErrorCauses(r->Rest(), a.causes)) return std::nullopt;
  return a;
}

void AbortChunk::SerializeTo(ByteWriter& w) const {
  const size_t start = BeginChunk(w, kType, tag_reflected ? 0x01 : 0);
  WriteErrorCauses(w, causes);
  FinishChunk(w, start);
}

std::optional<ErrorChunk> ErrorChunk::Parse(ByteSpan chunk) {
  auto r = OpenChunk(chunk, kType, 4);
  if (!r) return std::nullopt;
  ErrorChunk e;
  if (!ParseErrorCauses(r->Rest(), e.causes)) return std::nullopt;
  return e;
}

void ErrorChunk::SerializeTo(ByteWriter& w) const {
  const size_t start = BeginChunk(w, kType, 0);
  WriteErrorCauses(w, causes);
  FinishChunk(w, start);
}

// ---- SHUTDOWN family (RFC 9260 §3.3.8, §3.3.9, §3.3.13) ----

std::optional<ShutdownChunk> ShutdownChunk::Parse(ByteSpan chunk) {
  auto r = OpenChunk(chunk, kType, 8);
  if (!r || chunk.size() != 8) return std::nullopt;
  ShutdownChunk s;
  r->ReadU32(s.cumulative_tsn_ack);
  return s;
}

void ShutdownChunk::SerializeTo(ByteWriter& w) const {
  const size_t start = BeginChunk(w, kType, 0);
  w.WriteU32(cumulative_tsn_ack);
  FinishChunk(w, start);
}

std::optional<ShutdownAckChunk> ShutdownAckChunk::Parse(ByteSpan chunk) {
  if (!OpenChunk(chunk, kType, 4)) return std::nullopt;
  return ShutdownAckChunk{};
}

void ShutdownAckChunk::SerializeTo(ByteWriter& w) const { FinishChunk(w, BeginChunk(w, kType, 0)); }

std::optional<ShutdownCompleteChunk> ShutdownCompleteChunk::Parse(ByteSpan chunk) {
  uint8_t flags = 0;
  if (!OpenChunk(chunk, kType, 4, &flags)) return std::nullopt;
  return ShutdownCompleteChunk{static_cast<bool>(flags & 0x01)};
}

void ShutdownCompleteChunk::SerializeTo(ByteWriter& w) const {
  FinishChunk(w, BeginChunk(w, kType, tag_reflected ? 0x01 : 0));
}

// ---- COOKIE ECHO / COOKIE ACK (RFC 9260 §3.3.11, §3.3.12) ----

std::optional<CookieEchoChunk> CookieEchoChunk::Parse(ByteSpan chunk) {
  auto r = OpenChunk(chunk, kType, 4);
  if (!r) return std::nullopt;
  return CookieEchoChunk{r->Rest()};
}

void CookieEchoChunk::SerializeTo(ByteWriter& w) const {
  const size_t start = BeginChunk(w, kType, 0);
  w.WriteBytes(cookie);
  FinishChunk(w, start);
}

std::optional<CookieAckChunk> CookieAckChunk::Parse(ByteSpan chunk) {
  if (!OpenChunk(chunk, kType, 4)) return std::nullopt;
  return CookieAckChunk{};
}

void CookieAckChunk::SerializeTo(ByteWriter& w) const { FinishChunk(w, BeginChunk(w, kType, 0)); }

// ---- FORWARD TSN (RFC 3758 §3.2) and I-FORWARD-TSN (RFC 8260 §2.3.1) ----

std::optional<ForwardTsnChunk> ForwardTsnChunk::Parse(ByteSpan chunk) {
  auto r = OpenChunk(chunk, kType, 8);
  if (!r || (chunk.size() - 8) % 4 != 0) return std::nullopt;
  ForwardTsnChunk f;
  r->ReadU32(f.new_cumulative_tsn);
  f.skipped.reserve(r->remaining() / 4);
  SkippedStream s;
  while (r->ReadU16(s.stream) && r->ReadU16(s.ssn)) f.skipped.push_back(s);
  return f;
}

void ForwardTsnChunk::SerializeTo(ByteWriter& w) const {
  const size_t start = BeginChunk(w, kType, 0);
  w.WriteU32(new_cumulative_tsn);
  for (const SkippedStream& s : skipped) {
    w.WriteU16(s.stream);
    w.WriteU16(s.ssn);
  }
  FinishChunk(w, start);
}

std::optional<IForwardTsnChunk> IForwardTsnChunk::Parse(ByteSpan chunk) {
  auto r = OpenChunk(chunk, kType, 8);
  if (!r || (chunk.size() - 8) % 8 != 0) return std::nullopt;
  IForwardTsnChunk f;
  r->ReadU32(f.new_cumulative_tsn);
  f.skipped.reserve(r->remaining() / 8);
  while (!r->empty()) {
    SkippedStream s;
    uint16_t flags = 0;
    r->ReadU16(s.stream);
    r->ReadU16(flags);
    r->ReadU32(s.mid);
    s.unordered = flags & 0x0001;
    f.skipped.push_back(s);
  }
  return f;
}

void IForwardTsnChunk::SerializeTo(ByteWriter& w) const {
  const size_t start = BeginChunk(w, kType, 0);
  w.WriteU32(new_cumulative_tsn);
  for (const SkippedStream& s : skipped) {
    w.WriteU16(s.stream);
    w.WriteU16(s.unordered ? 1 : 0);
    w.WriteU32(s.mid);
  }
  FinishChunk(w, start);
}

// ---- RE-CONFIG parameters (RFC 6525 §4) ----

std::optional<OutgoingSsnResetRequest> OutgoingSsnResetRequest::Parse(ByteSpan value) {
  ByteReader r(value);
  OutgoingSsnResetRequest p;
  if (!r.ReadU32(p.request_sequence) || !r.ReadU32(p.response_sequence) ||
      !r.ReadU32(p.senders_last_assigned_tsn) || !ReadStreamList(r, p.streams)) {
    return std::nullopt;
  }
  return p;
}

std::vector<uint8_t> OutgoingSsnResetRequest::SerializeValue() const {
  std::vector<uint8_t> out;
  ByteWriter w(out);
  w.WriteU32(request_sequence);
  w.WriteU32(response_sequence);
  w.WriteU32(senders_last_assigned_tsn);
  for (uint16_t s : streams) w.WriteU16(s);
  return out;
}

std::optional<IncomingSsnResetRequest> IncomingSsnResetRequest::Parse(ByteSpan value) {
  ByteReader r(value);
  IncomingSsnResetRequest p;
  if (!r.ReadU32(p.request_sequence) || !ReadStreamList(r, p.streams)) return std::nullopt;
  return p;
}

std::vector<uint8_t> IncomingSsnResetRequest::SerializeValue() const {
  std::vector<uint8_t> out;
  ByteWriter w(out);
  w.WriteU32(request_sequence);
  for (uint16_t s : streams) w.WriteU16(s);
  return out;
}

std::optional<ReconfigurationResponse> ReconfigurationResponse::Parse(ByteSpan value) {
  ByteReader r(value);
  ReconfigurationResponse p;
  uint32_t result = 0;
  if (!r.ReadU32(p.response_sequence) || !r.ReadU32(result)) return std::nullopt;
  if (result > static_cast<uint32_t>(Result::kInProgress)) return std::nullopt;
  p.result = static_cast<Result>(result);
  if (r.remaining() == 8) {
    uint32_t a = 0, b = 0;
    r.ReadU32(a);
    r.ReadU32(b);
    p.senders_next_tsn = a;
    p.receivers_next_tsn = b;
  } else if (r.remaining() != 0) {
    return std::nullopt;
  }
  return p;
}

std::vector<uint8_t> ReconfigurationResponse::SerializeValue() const {
  const bool tsns = senders_next_tsn && receivers_next_tsn;
  std::vector<uint8_t> out;
  ByteWriter w(out);
  w.WriteU32(response_sequence);
  w.WriteU32(static_cast<uint32_t>(result));
  if (tsns) {
    w.WriteU32(*senders_next_tsn);
    w.WriteU32(*receivers_next_tsn);
  }
  return out;
}

const char* ToString(ReconfigurationResponse::Result result) {
  using R = ReconfigurationResponse::Result;
  switch (result) {
    case R::kSuccessNothingToDo:
      return "Success - Nothing to do";
    case R::kSuccessPerformed:
      return "Success - Performed";
    case R::kDenied:
      return "Denied";
    case R::kErrorWrongSsn:
      return "Error - Wrong SSN";
    case R::kErrorRequestAlreadyInProgress:
      return "Error - Request already in progress";
    case R::kErrorBadSequenceNumber:
      return "Error - Bad Sequence Number";
    case R::kInProgress:
      return "In progress";
  }
  return "?";
}

std::optional<ReConfigChunk> ReConfigChunk::Parse(ByteSpan chunk) {
  auto r = OpenChunk(chunk, kType, 8);
  if (!r) return std::nullopt;
  std::vector<ParameterView> params;
  // RFC 6525 §3.1: one or two parameters.
  if (!ParseParameters(r->Rest(), params, 2) || params.empty()) return std::nullopt;
  ReConfigChunk c;
  for (const ParameterView& p : params) c.parameters.push_back({p.type, ToVector(p.value)});
  return c;
}

void ReConfigChunk::SerializeTo(ByteWriter& w) const {
  const size_t start = BeginChunk(w, kType, 0);
  for (const Parameter& p : parameters) WriteParameter(w, p.type, p.value);
  FinishChunk(w, start);
}

const char* ChunkTypeName(uint8_t type) {
  switch (type) {
    case chunk_type::kData:
      return "DATA";
    case chunk_type::kInit:
      return "INIT";
    case chunk_type::kInitAck:
      return "INIT-ACK";
    case chunk_type::kSack:
      return "SACK";
    case chunk_type::kHeartbeat:
      return "HEARTBEAT";
    case chunk_type::kHeartbeatAck:
      return "HEARTBEAT-ACK";
    case chunk_type::kAbort:
      return "ABORT";
    case chunk_type::kShutdown:
      return "SHUTDOWN";
    case chunk_type::kShutdownAck:
      return "SHUTDOWN-ACK";
    case chunk_type::kError:
      return "ERROR";
    case chunk_type::kCookieEcho:
      return "COOKIE-ECHO";
    case chunk_type::kCookieAck:
      return "COOKIE-ACK";
    case chunk_type::kShutdownComplete:
      return "SHUTDOWN-COMPLETE";
    case chunk_type::kIData:
      return "I-DATA";
    case chunk_type::kReConfig:
      return "RE-CONFIG";
    case chunk_type::kForwardTsn:
      return "FORWARD-TSN";
    case chunk_type::kIForwardTsn:
      return "I-FORWARD-TSN";
    default:
      return "UNKNOWN";
  }
}

}  // namespace tandem::sctp
