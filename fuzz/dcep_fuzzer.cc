// DCEP (RFC 8832) and the data channel manager: arbitrary SCTP messages (stream, PPID, payload) and resets
// fed to a manager whose SCTP port records what it is asked to send. Invariants: no crash, a parsed OPEN
// re-serializes to bytes that parse to the same message, and the manager never maps one stream to two
// channels.
#include <cstdint>
#include <cstdlib>
#include <set>

#include "core/bytes.h"
#include "datachannel/data_channel_manager.h"
#include "datachannel/dcep.h"

namespace {

using namespace tandem;
using namespace tandem::datachannel;

class NullPort final : public SctpPort {
 public:
  Status Send(uint16_t, uint32_t, ByteSpan, const Reliability&) override { return OkStatus(); }
  Status ResetStreams(std::span<const uint16_t>) override { return OkStatus(); }
  size_t buffered_amount(uint16_t) const override { return 0; }
  void SetBufferedAmountLowThreshold(uint16_t, size_t) override {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteSpan input(data, size);
  if (auto open = OpenMessage::Parse(input); open.ok()) {
    std::vector<uint8_t> out;
    open->SerializeTo(out);
    auto again = OpenMessage::Parse(out);
    if (!again.ok() || !(*again == *open)) abort();
  }

  // Script: [op][stream hi][stream lo][len][payload...]
  NullPort port;
  ManagerOptions options;
  options.max_channels = 8;
  options.remote_max_message_size = 1024;
  DataChannelManager manager(port, options);
  ByteReader reader(input);
  uint8_t role = 0;
  if (!reader.ReadU8(role)) return 0;
  manager.SetDtlsRole(role & 1);
  if (role & 2) manager.HandleSctpConnected();
  while (!reader.empty()) {
    uint8_t op = 0, len = 0;
    uint16_t stream = 0;
    ByteSpan payload;
    if (!reader.ReadU8(op) || !reader.ReadU16(stream) || !reader.ReadU8(len) ||
        !reader.ReadBytes(len, payload))
      break;
    const uint16_t streams[] = {stream};
    switch (op % 8) {
      case 0:
        manager.HandleSctpMessage(stream, 50, payload);
        break;
      case 1:
        manager.HandleSctpMessage(stream, 51 + (len % 7), payload);
        break;
      case 2:
        manager.HandleIncomingStreamsReset(streams);
        break;
      case 3:
        manager.HandleOutgoingStreamsReset(streams);
        break;
      case 4: {
        ChannelInit init;
        init.label = std::string(AsStringView(payload));
        init.negotiated = len & 1;
        if (len & 3) init.id = stream;
        (void)manager.Create(init);
        break;
      }
      case 5:
        for (ChannelHandle h : manager.handles()) (void)manager.Send(h, payload, len & 1);
        break;
      case 6:
        for (ChannelHandle h : manager.handles()) {
          if ((h + len) % 3 == 0) manager.Close(h);
        }
        break;
      case 7:
        manager.HandleSctpConnected();
        break;
    }
    while (manager.PollEvent()) {
    }
    std::set<uint16_t> ids;
    for (ChannelHandle h : manager.handles()) {
      const ChannelInfo* info = manager.Find(h);
      if (info->state == ChannelState::kOpen && info->id && !ids.insert(*info->id).second) abort();
    }
  }
  return 0;
}
