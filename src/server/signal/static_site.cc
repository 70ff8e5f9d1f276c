#include "server/signal/static_site.h"

#include <sys/stat.h>

#include <fstream>
#include <iterator>
#include <unordered_map>

#include "server/signal/web_assets.h"

namespace tandem::server {
namespace {

constexpr size_t kMaxDiskFileBytes = 16 << 20;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class EmbeddedSite final : public StaticSite {
 public:
  EmbeddedSite() {
    for (size_t i = 0; i < web_assets::kAssetCount; ++i) files_.emplace(web_assets::kAssets[i].path, i);
  }
  std::optional<StaticFile> Lookup(std::string_view target) const override {
    const std::optional<std::string> path = NormalizeWebPath(target);
    if (!path) return std::nullopt;
    auto it = files_.find(*path);
    if (it == files_.end()) return std::nullopt;
    const web_assets::Asset& a = web_assets::kAssets[it->second];
    return StaticFile{ContentTypeFor(*path), std::string(reinterpret_cast<const char*>(a.data), a.size)};
  }
  size_t file_count() const override { return files_.size(); }

 private:
  std::unordered_map<std::string, size_t> files_;
};

class DiskSite final : public StaticSite {
 public:
  explicit DiskSite(std::string root) : root_(std::move(root)) {
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  }
  std::optional<StaticFile> Lookup(std::string_view target) const override {
    const std::optional<std::string> path = NormalizeWebPath(target);
    if (!path) return std::nullopt;
    const std::string full = root_ + "/" + *path;
    struct stat st;
    if (::stat(full.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || static_cast<size_t>(st.st_size) > kMaxDiskFileBytes)
      return std::nullopt;
    std::ifstream in(full, std::ios::binary);
    if (!in) return std::nullopt;
    StaticFile file{ContentTypeFor(*path), std::string(std::istreambuf_iterator<char>(in), {})};
    if (file.body.size() > kMaxDiskFileBytes) return std::nullopt;
    return file;
  }
  size_t file_count() const override { return 0; }  // unknown: read on demand

 private:
  std::string root_;
};

}  // namespace

std::optional<std::string> NormalizeWebPath(std::string_view target) {
  target = target.substr(0, target.find_first_of("?#"));
  if (target.empty() || target.front() != '/' || target.size() > 1024) return std::nullopt;
  std::string decoded;
  decoded.reserve(target.size());
  for (size_t i = 0; i < target.size(); ++i) {
    char c = target[i];
    if (c == '%') {
      if (i + 2 >= target.size()) return std::nullopt;
      const int hi = HexValue(target[i + 1]), lo = HexValue(target[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '\\') return std::nullopt;
    decoded += c;
  }
  if (decoded.back() == '/') decoded += "index.html";
  // Segment by segment, after decoding (so "%2e%2e" is caught too): no "..", ".", empty or hidden segments.
  std::string out;
  size_t start = 1;
  while (start <= decoded.size()) {
    size_t end = decoded.find('/', start);
    if (end == std::string::npos) end = decoded.size();
    const std::string_view segment(decoded.data() + start, end - start);
    if (segment.empty() || segment.front() == '.') return std::nullopt;
    if (!out.empty()) out += '/';
    out += segment;
    start = end + 1;
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::string ContentTypeFor(std::string_view path) {
  const size_t slash = path.rfind('/');
  const size_t dot = path.rfind('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash))
    return "application/octet-stream";
  std::string ext(path.substr(dot + 1));
  for (char& c : ext)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  static const std::unordered_map<std::string, std::string> kTypes = {
      {"html", "text/html; charset=utf-8"},
      {"htm", "text/html; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"json", "application/json"},
      {"map", "application/json"},
      {"webmanifest", "application/manifest+json"},
      {"txt", "text/plain; charset=utf-8"},
      {"md", "text/markdown; charset=utf-8"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"ico", "image/x-icon"},
      {"wasm", "application/wasm"},
      {"woff", "font/woff"},
      {"woff2", "font/woff2"},
      {"mp3", "audio/mpeg"},
      {"wav", "audio/wav"},
      {"webm", "video/webm"},
      {"mp4", "video/mp4"},
  };
  auto it = kTypes.find(ext);
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

std::unique_ptr<StaticSite> MakeEmbeddedSite() { return std::make_unique<EmbeddedSite>(); }
std::unique_ptr<StaticSite> MakeDiskSite(std::string root) { return std::make_unique<DiskSite>(std::move(root)); }

}  // namespace tandem::server
