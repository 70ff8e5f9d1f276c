// `tandem media inspect FILE...`: decodes a recording (or any VP8 IVF / Ogg Opus file) completely with libvpx
// or libopus and prints one JSON line per file: what `tandem peer call --record` wrote, checked by a real
// decoder.
//
//   {"file":"a.ivf","format":"ivf","codec":"VP8","frames":300,"keyFrames":2,"width":640,"height":480,
//    "decodeErrors":0,"durationMs":9966}
//   {"file":"a.ogg","format":"ogg","codec":"opus","packets":500,"channels":2,"samples":480000,"decodeErrors":0,
//    "durationMs":10000}
//
// Exit status: 0 when every file decoded without an error, 1 otherwise, 2 on a usage error.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "commands.h"
#include "media/ivf.h"
#include "media/ogg_opus.h"
#include "media/opus_codec.h"
#include "media/vp8_codec.h"
#include "options.h"

namespace tandem::cli {
namespace {

constexpr size_t kMaxFileBytes = 1024u * 1024 * 1024;

bool ReadWholeFile(const std::string& path, std::vector<uint8_t>& out) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return false;
  const auto size = static_cast<size_t>(in.tellg());
  if (size > kMaxFileBytes) return false;
  out.resize(size);
  in.seekg(0);
  return static_cast<bool>(in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(size)));
}

nlohmann::json InspectIvf(ByteSpan file) {
  nlohmann::json r = {{"format", "ivf"}, {"codec", "VP8"}};
  auto reader = media::IvfReader::Open(file);
  if (!reader.ok()) return {{"format", "ivf"}, {"error", reader.error().reason}};
  auto decoder = media::Vp8Decoder::Create();
  if (!decoder.ok()) return {{"format", "ivf"}, {"error", decoder.error().reason}};
  media::VideoFrame picture;
  uint64_t frames = 0, key_frames = 0, errors = 0;
  TimeDelta last;
  for (;;) {
    auto frame = reader->ReadFrame();
    if (!frame.ok()) {
      r["error"] = frame.error().reason;
      ++errors;
      break;
    }
    if (!frame->has_value()) break;
    // RFC 6386 §9.1: bit 0 of the first byte is 0 for a key frame.
    if (!(*frame)->data.empty() && ((*frame)->data[0] & 1) == 0) ++key_frames;
    auto decoded = (*decoder)->Decode((*frame)->data, picture);
    if (!decoded.ok()) ++errors;
    ++frames;
    last = (*frame)->time;
  }
  r["frames"] = frames;
  r["keyFrames"] = key_frames;
  r["width"] = picture.width;
  r["height"] = picture.height;
  r["decodeErrors"] = errors;
  r["durationMs"] = last.ms();
  return r;
}

nlohmann::json InspectOgg(ByteSpan file) {
  nlohmann::json r = {{"format", "ogg"}, {"codec", "opus"}};
  auto reader = media::OggOpusReader::Open(file);
  if (!reader.ok()) return {{"format", "ogg"}, {"error", reader.error().reason}};
  const int channels = reader->head().channels;
  auto decoder = media::OpusDecoder::Create(channels);
  if (!decoder.ok()) return {{"format", "ogg"}, {"error", decoder.error().reason}};
  media::AudioFrame pcm;
  uint64_t packets = 0, samples = 0, errors = 0;
  TimeDelta end;
  for (;;) {
    auto packet = reader->ReadPacket();
    if (!packet.ok()) {
      r["error"] = packet.error().reason;
      ++errors;
      break;
    }
    if (!packet->has_value()) break;
    if ((*decoder)->Decode((*packet)->data, pcm).ok()) {
      samples += pcm.samples_per_channel();
    } else {
      ++errors;
    }
    ++packets;
    end = (*packet)->time + TimeDelta::Micros(static_cast<int64_t>((*packet)->samples) * 1000000 / 48000);
  }
  r["packets"] = packets;
  r["channels"] = channels;
  r["samples"] = samples;
  r["decodeErrors"] = errors;
  r["durationMs"] = end.ms();
  return r;
}

}  // namespace

int RunMediaCommand(const std::vector<std::string>& args) {
  static const char* kUsage = "tandem media inspect FILE.ivf|FILE.ogg ...";
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::printf(
        "Usage: %s\n  Decodes each file completely (libvpx, libopus) and prints one JSON line per file.\n",
        kUsage);
    return args.empty() ? 2 : 0;
  }
  if (args[0] != "inspect") throw UsageError(std::string("expected inspect: ") + kUsage);
  if (args.size() < 2) throw UsageError(std::string("inspect needs a file: ") + kUsage);
  int status = 0;
  for (size_t i = 1; i < args.size(); ++i) {
    std::vector<uint8_t> bytes;
    nlohmann::json r;
    if (!ReadWholeFile(args[i], bytes)) {
      r = {{"error", "cannot read the file (missing, unreadable or over 1 GiB)"}};
    } else if (bytes.size() >= 4 && std::string(bytes.begin(), bytes.begin() + 4) == "DKIF") {
      r = InspectIvf(bytes);
    } else if (bytes.size() >= 4 && std::string(bytes.begin(), bytes.begin() + 4) == "OggS") {
      r = InspectOgg(bytes);
    } else {
      r = {{"error", "neither an IVF (DKIF) nor an Ogg (OggS) file"}};
    }
    r["file"] = args[i];
    if (r.contains("error") || r.value("decodeErrors", 0) > 0) status = 1;
    std::printf("%s\n", r.dump().c_str());
  }
  return status;
}

}  // namespace tandem::cli
