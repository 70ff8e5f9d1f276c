// SCTP chunk and parameter codecs: one value type per chunk (RFC 9260 §3.3, RFC 3758 §3.2, RFC 6525 §3.1/§4,
// RFC 8260 §2), each with `static std::optional<X> Parse(ByteSpan chunk)` over the whole chunk (header
// included, padding excluded) and `SerializeTo(ByteWriter&)` that appends the chunk with its padding. Parsers
// never read past the span and reject anything whose lengths disagree; they never throw.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"

namespace tandem::sctp {

// RFC 9260 §3.2 chunk types, plus the extensions WebRTC peers use.
namespace chunk_type {
inline constexpr uint8_t kData = 0;
inline constexpr uint8_t kInit = 1;
inline constexpr uint8_t kInitAck = 2;
inline constexpr uint8_t kSack = 3;
inline constexpr uint8_t kHeartbeat = 4;
inline constexpr uint8_t kHeartbeatAck = 5;
inline constexpr uint8_t kAbort = 6;
inline constexpr uint8_t kShutdown = 7;
inline constexpr uint8_t kShutdownAck = 8;
inline constexpr uint8_t kError = 9;
inline constexpr uint8_t kCookieEcho = 10;
inline constexpr uint8_t kCookieAck = 11;
inline constexpr uint8_t kShutdownComplete = 14;
inline constexpr uint8_t kIData = 64;         // RFC 8260 §2.1
inline constexpr uint8_t kReConfig = 130;     // RFC 6525 §3.1
inline constexpr uint8_t kForwardTsn = 192;   // RFC 3758 §3.2
inline constexpr uint8_t kIForwardTsn = 194;  // RFC 8260 §2.3.1
}  // namespace chunk_type

// RFC 9260 §3.3.2.1 and extension parameter types.
namespace param_type {
inline constexpr uint16_t kHeartbeatInfo = 1;
inline constexpr uint16_t kIpv4Address = 5;
inline constexpr uint16_t kIpv6Address = 6;
inline constexpr uint16_t kStateCookie = 7;
inline constexpr uint16_t kUnrecognizedParameter = 8;
inline constexpr uint16_t kCookiePreservative = 9;
inline constexpr uint16_t kHostNameAddress = 11;
inline constexpr uint16_t kSupportedAddressTypes = 12;
inline constexpr uint16_t kOutgoingSsnResetRequest = 13;    // RFC 6525 §4.1
inline constexpr uint16_t kIncomingSsnResetRequest = 14;    // RFC 6525 §4.2
inline constexpr uint16_t kSsnTsnResetRequest = 15;         // RFC 6525 §4.3
inline constexpr uint16_t kReconfigurationResponse = 16;    // RFC 6525 §4.4
inline constexpr uint16_t kAddOutgoingStreamsRequest = 17;  // RFC 6525 §4.5
inline constexpr uint16_t kAddIncomingStreamsRequest = 18;  // RFC 6525 §4.6
inline constexpr uint16_t kEcnCapable = 0x8000;
inline constexpr uint16_t kSupportedExtensions = 0x8008;  // RFC 5061 §4.2.7
inline constexpr uint16_t kForwardTsnSupported = 0xC000;  // RFC 3758 §3.1
}  // namespace param_type

// RFC 9260 §3.3.10 error cause codes.
namespace cause_code {
inline constexpr uint16_t kInvalidStreamIdentifier = 1;
inline constexpr uint16_t kMissingMandatoryParameter = 2;
inline constexpr uint16_t kStaleCookie = 3;
inline constexpr uint16_t kOutOfResource = 4;
inline constexpr uint16_t kUnrecognizedChunkType = 6;
inline constexpr uint16_t kInvalidMandatoryParameter = 7;
inline constexpr uint16_t kUnrecognizedParameters = 8;
inline constexpr uint16_t kNoUserData = 9;
inline constexpr uint16_t kCookieWhileShuttingDown = 10;
inline constexpr uint16_t kRestartWithNewAddresses = 11;
inline constexpr uint16_t kUserInitiatedAbort = 12;
inline constexpr uint16_t kProtocolViolation = 13;
}  // namespace cause_code

inline constexpr size_t kChunkHeaderSize = 4;
inline constexpr size_t kDataChunkHeaderSize = 16;   // RFC 9260 §3.3.1
inline constexpr size_t kIDataChunkHeaderSize = 20;  // RFC 8260 §2.1

inline constexpr size_t PaddedLength(size_t n) { return (n + 3) & ~size_t{3}; }

// A parameter TLV (RFC 9260 §3.2.1) seen inside a chunk: views into the packet.
struct ParameterView {
  uint16_t type = 0;
  ByteSpan value;  // without the 4-byte header and padding
  ByteSpan raw;    // header + value, without padding (what "Unrecognized Parameter" reports)
};

// Splits a TLV list into parameters. Returns false if a length is inconsistent (too short or past the end) or
// there are more than `max_count` of them. Trailing padding of the last parameter may be absent.
bool ParseParameters(ByteSpan data, std::vector<ParameterView>& out, size_t max_count = 128);
// Appends one TLV with padding.
void WriteParameter(ByteWriter& w, uint16_t type, ByteSpan value);

// RFC 9260 §3.2.1: what to do with an unrecognized parameter, from its two high bits.
inline bool ParameterStopsProcessing(uint16_t type) { return (type & 0x8000) == 0; }
inline bool ParameterMustBeReported(uint16_t type) { return (type & 0x4000) != 0; }
// RFC 9260 §3.2: same for an unrecognized chunk type.
inline bool ChunkStopsProcessing(uint8_t type) { return (type & 0x80) == 0; }
inline bool ChunkMustBeReported(uint8_t type) { return (type & 0x40) != 0; }

// RFC 9260 §3.3.10: one error cause in an ABORT or ERROR chunk.
struct ErrorCause {
  uint16_t code = 0;
  std::vector<uint8_t> info;  // the cause-specific bytes, without the cause header

  static ErrorCause UserInitiatedAbort(std::string_view reason);  // §3.3.10.12
  static ErrorCause ProtocolViolation(std::string_view info);     // §3.3.10.13
  static ErrorCause NoUserData(uint32_t tsn);                     // §3.3.10.9
  static ErrorCause StaleCookie(uint32_t staleness_us);           // §3.3.10.3
  static ErrorCause UnrecognizedChunk(ByteSpan chunk);            // §3.3.10.6
  static ErrorCause InvalidStreamIdentifier(uint16_t stream);     // §3.3.10.1
  static ErrorCause UnrecognizedParameters(ByteSpan params);      // §3.3.10.8
  static ErrorCause OutOfResource();                              // §3.3.10.4
  static ErrorCause CookieWhileShuttingDown();                    // §3.3.10.10
  static ErrorCause MissingMandatoryParameter();                  // §3.3.10.2
  static ErrorCause InvalidMandatoryParameter();                  // §3.3.10.7

  // A human-readable description ("User-Initiated Abort: bye"), for Aborted events and logs.
  std::string ToString() const;
  bool operator==(const ErrorCause&) const = default;
};
bool ParseErrorCauses(ByteSpan data, std::vector<ErrorCause>& out);
void WriteErrorCauses(ByteWriter& w, const std::vector<ErrorCause>& causes);
std::string DescribeErrorCauses(const std::vector<ErrorCause>& causes);

// RFC 9260 §3.3.1 DATA. The payload is a view: into the packet after Parse, into the caller's buffer to
// serialize.
struct DataChunk {
  static constexpr uint8_t kType = chunk_type::kData;
  static constexpr uint8_t kFlagEnd = 0x01;        // E
  static constexpr uint8_t kFlagBeginning = 0x02;  // B
  static constexpr uint8_t kFlagUnordered = 0x04;  // U
  static constexpr uint8_t kFlagImmediate = 0x08;  // I (RFC 7053 §3)

  uint32_t tsn = 0;
  uint16_t stream = 0;
  uint16_t ssn = 0;
  uint32_t ppid = 0;
  bool unordered = false;
  bool beginning = false;
  bool end = false;
  bool immediate = false;
  ByteSpan payload;

  // Accepts an empty payload (RFC 9260 §6.2 says to ABORT with "No User Data"; that is the association's
  // call).
  static std::optional<DataChunk> Parse(ByteSpan chunk);
  void SerializeTo(ByteWriter& w) const;
};

// RFC 8260 §2.1 I-DATA: a Message Identifier instead of the SSN; the PPID is carried only by the first
// fragment (B bit set), the other fragments carry their Fragment Sequence Number in that field.
struct IDataChunk {
  static constexpr uint8_t kType = chunk_type::kIData;

  uint32_t tsn = 0;
  uint16_t stream = 0;
  uint32_t mid = 0;
  uint32_t ppid = 0;  // valid when beginning
  uint32_t fsn = 0;   // 0 when beginning
  bool unordered = false;
  bool beginning = false;
  bool end = false;
  bool immediate = false;
  ByteSpan payload;

  static std::optional<IDataChunk> Parse(ByteSpan chunk);
  void SerializeTo(ByteWriter& w) const;
};

// RFC 9260 §3.3.2 INIT and §3.3.3 INIT ACK share their layout; the optional parameters are decoded into the
// fields WebRTC needs, and unknown ones are classified per §3.2.1.
struct InitChunk {
  static constexpr uint8_t kType = chunk_type::kInit;

  uint32_t initiate_tag = 0;
  uint32_t a_rwnd = 0;
  uint16_t outbound_streams = 0;
  uint16_t inbound_streams = 0;
  uint32_t initial_tsn = 0;

  // RFC 5061 §4.2.7 Supported Extensions (chunk types) and RFC 3758 §3.1 Forward-TSN-Supported.
  std::vector<uint8_t> supported_extensions;
  bool forward_tsn_supported = false;
  // INIT ACK only: RFC 9260 §3.3.3.1 State Cookie (mandatory there).
  std::optional<std::vector<uint8_t>> state_cookie;
  // Parameters we do not understand whose type says "report" (§3.2.1), raw TLVs with header, to be echoed as
  // Unrecognized Parameter parameters (in INIT ACK) or an ERROR cause (for an INIT ACK).
  std::vector<std::vector<uint8_t>> unrecognized_to_report;
  // INIT ACK only: RFC 9260 §3.3.3 "Unrecognized Parameter" parameters, each the raw TLV of an INIT parameter
  // the INIT ACK's sender did not understand (we fill it when answering; the peer's reports when parsing).
  std::vector<std::vector<uint8_t>> unrecognized_parameters;

  bool SupportsExtension(uint8_t chunk_type) const;

  // Parses an INIT (or, via InitAckChunk, an INIT ACK) chunk; `type` selects which.
  static std::optional<InitChunk> ParseAs(uint8_t type, ByteSpan chunk);
  static std::optional<InitChunk> Parse(ByteSpan chunk) { return ParseAs(kType, chunk); }
  void SerializeAs(uint8_t type, ByteWriter& w) const;
  void SerializeTo(ByteWriter& w) const { SerializeAs(kType, w); }
};

// RFC 9260 §3.3.3 INIT ACK.
struct InitAckChunk : InitChunk {
  static constexpr uint8_t kType = chunk_type::kInitAck;
  static std::optional<InitAckChunk> Parse(ByteSpan chunk);
  void SerializeTo(ByteWriter& w) const { SerializeAs(kType, w); }
};

// RFC 9260 §3.3.4 SACK. Gap blocks are offsets from the cumulative TSN ack, as on the wire.
struct SackChunk {
  static constexpr uint8_t kType = chunk_type::kSack;
  struct GapBlock {
    uint16_t start = 0;
    uint16_t end = 0;
    bool operator==(const GapBlock&) const = default;
  };

  uint32_t cumulative_tsn_ack = 0;
  uint32_t a_rwnd = 0;
  std::vector<GapBlock> gap_blocks;
  std::vector<uint32_t> duplicate_tsns;

  static std::optional<SackChunk> Parse(ByteSpan chunk);
  // Allocation-free parse for the hot path: reuses the vectors of `out`.
  static bool ParseInto(ByteSpan chunk, SackChunk& out);
  void SerializeTo(ByteWriter& w) const;
  size_t SerializedSize() const { return 16 + 4 * gap_blocks.size() + 4 * duplicate_tsns.size(); }
};

// RFC 9260 §3.3.5 HEARTBEAT and §3.3.6 HEARTBEAT ACK: one Heartbeat Info parameter, opaque to the receiver.
struct HeartbeatChunk {
  static constexpr uint8_t kType = chunk_type::kHeartbeat;
  std::vector<uint8_t> info;  // the Heartbeat Info parameter's value

  static std::optional<HeartbeatChunk> ParseAs(uint8_t type, ByteSpan chunk);
  static std::optional<HeartbeatChunk> Parse(ByteSpan chunk) { return ParseAs(kType, chunk); }
  void SerializeAs(uint8_t type, ByteWriter& w) const;
  void SerializeTo(ByteWriter& w) const { SerializeAs(kType, w); }
};
struct HeartbeatAckChunk : HeartbeatChunk {
  static constexpr uint8_t kType = chunk_type::kHeartbeatAck;
  static std::optional<HeartbeatAckChunk> Parse(ByteSpan chunk);
  void SerializeTo(ByteWriter& w) const { SerializeAs(kType, w); }
};

// RFC 9260 §3.3.7 ABORT. T bit: the verification tag is the sender's own (reflected) tag (§8.5.1).
struct AbortChunk {
  static constexpr uint8_t kType = chunk_type::kAbort;
  bool tag_reflected = false;
  std::vector<ErrorCause> causes;

  static std::optional<AbortChunk> Parse(ByteSpan chunk);
  void SerializeTo(ByteWriter& w) const;
};

// RFC 9260 §3.3.10 ERROR.
struct ErrorChunk {
  static constexpr uint8_t kType = chunk_type::kError;
  std::vector<ErrorCause> causes;

  static std::optional<ErrorChunk> Parse(ByteSpan chunk);
  void SerializeTo(ByteWriter& w) const;
};

// RFC 9260 §3.3.8 SHUTDOWN.
struct ShutdownChunk {
  static constexpr uint8_t kType = chunk_type::kShutdown;
  uint32_t cumulative_tsn_ack = 0;
  static std::optional<ShutdownChunk> Parse(ByteSpan chunk);
  void SerializeTo(ByteWriter& w) const;
};

// RFC 9260 §3.3.9 SHUTDOWN ACK (no value).
struct ShutdownAckChunk {
  static constexpr uint8_t kType = chunk_type::kShutdownAck;
  static std::optional<ShutdownAckChunk> Parse(ByteSpan chunk);
  void SerializeTo(ByteWriter& w) const;
};

// RFC 9260 §3.3.13 SHUTDOWN COMPLETE (T bit as in ABORT).
struct ShutdownCompleteChunk {
  static constexpr uint8_t kType = chunk_type::kShutdownComplete;
  bool tag_reflected = false;
  static std::optional<ShutdownCompleteChunk> Parse(ByteSpan chunk);
  void SerializeTo(ByteWriter& w) const;
};

// RFC 9260 §3.3.11 COOKIE ECHO.
struct CookieEchoChunk {
  static constexpr uint8_t kType = chunk_type::kCookieEcho;
  ByteSpan cookie;  // a view: into the packet after Parse
  static std::optional<CookieEchoChunk> Parse(ByteSpan chunk);
  void SerializeTo(ByteWriter& w) const;
};

// RFC 9260 §3.3.12 COOKIE ACK (no value).
struct CookieAckChunk {
  static constexpr uint8_t kType = chunk_type::kCookieAck;
  static std::optional<CookieAckChunk> Parse(ByteSpan chunk);
  void SerializeTo(ByteWriter& w) const;
};

// RFC 3758 §3.2 FORWARD TSN: the new cumulative TSN and, per ordered stream, the last skipped SSN.
struct ForwardTsnChunk {
  static constexpr uint8_t kType = chunk_type::kForwardTsn;
  struct SkippedStream {
    uint16_t stream = 0;
    uint16_t ssn = 0;
    bool operator==(const SkippedStream&) const = default;
  };
  uint32_t new_cumulative_tsn = 0;
  std::vector<SkippedStream> skipped;

  static std::optional<ForwardTsnChunk> Parse(ByteSpan chunk);
  void SerializeTo(ByteWriter& w) const;
};

// RFC 8260 §2.3.1 I-FORWARD-TSN: per (stream, ordered/unordered) the largest skipped MID.
struct IForwardTsnChunk {
  static constexpr uint8_t kType = chunk_type::kIForwardTsn;
  struct SkippedStream {
    uint16_t stream = 0;
    bool unordered = false;
    uint32_t mid = 0;
    bool operator==(const SkippedStream&) const = default;
  };
  uint32_t new_cumulative_tsn = 0;
  std::vector<SkippedStream> skipped;

  static std::optional<IForwardTsnChunk> Parse(ByteSpan chunk);
  void SerializeTo(ByteWriter& w) const;
};

// RFC 6525 §4.1 Outgoing SSN Reset Request Parameter. Parse takes the parameter value (no TLV header);
// SerializeValue returns it, for ReConfigChunk::Parameter.
struct OutgoingSsnResetRequest {
  static constexpr uint16_t kType = param_type::kOutgoingSsnResetRequest;
  uint32_t request_sequence = 0;
  uint32_t response_sequence = 0;
  uint32_t senders_last_assigned_tsn = 0;
  std::vector<uint16_t> streams;  // empty: all streams

  static std::optional<OutgoingSsnResetRequest> Parse(ByteSpan value);
  std::vector<uint8_t> SerializeValue() const;
};

// RFC 6525 §4.2 Incoming SSN Reset Request Parameter.
struct IncomingSsnResetRequest {
  static constexpr uint16_t kType = param_type::kIncomingSsnResetRequest;
  uint32_t request_sequence = 0;
  std::vector<uint16_t> streams;

  static std::optional<IncomingSsnResetRequest> Parse(ByteSpan value);
  std::vector<uint8_t> SerializeValue() const;
};

// RFC 6525 §4.4 Re-configuration Response Parameter.
struct ReconfigurationResponse {
  static constexpr uint16_t kType = param_type::kReconfigurationResponse;
  // §4.4 result values.
  enum class Result : uint32_t {
    kSuccessNothingToDo = 0,
    kSuccessPerformed = 1,
    kDenied = 2,
    kErrorWrongSsn = 3,
    kErrorRequestAlreadyInProgress = 4,
    kErrorBadSequenceNumber = 5,
    kInProgress = 6,
  };
  uint32_t response_sequence = 0;
  Result result = Result::kSuccessNothingToDo;
  std::optional<uint32_t> senders_next_tsn;
  std::optional<uint32_t> receivers_next_tsn;

  static std::optional<ReconfigurationResponse> Parse(ByteSpan value);
  std::vector<uint8_t> SerializeValue() const;
};
const char* ToString(ReconfigurationResponse::Result result);

// RFC 6525 §3.1 RE-CONFIG: one or two re-configuration parameters, kept as raw TLVs; decode each with the
// parameter types above according to its `type`.
struct ReConfigChunk {
  static constexpr uint8_t kType = chunk_type::kReConfig;
  struct Parameter {
    uint16_t type = 0;
    std::vector<uint8_t> value;
    // Wraps one of the parameter types above.
    template <typename P>
    static Parameter From(const P& p) {
      return {P::kType, p.SerializeValue()};
    }
  };
  std::vector<Parameter> parameters;

  static std::optional<ReConfigChunk> Parse(ByteSpan chunk);
  void SerializeTo(ByteWriter& w) const;
};

// A chunk inside a packet: its type, flags and bytes (views into the packet).
struct ChunkView {
  uint8_t type = 0;
  uint8_t flags = 0;
  ByteSpan raw;    // header + value, length as in the header (no padding)
  ByteSpan value;  // without the header
};

// Human-readable chunk type name (for logs and tests).
const char* ChunkTypeName(uint8_t type);

}  // namespace tandem::sctp
