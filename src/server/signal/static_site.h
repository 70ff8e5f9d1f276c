// The web UI's static files (web/: demo page, browser SDK), served by the signaling service. Two sources: the
// files embedded into the binary at build time (embed_web.cmake), so `tandem serve` works from any directory,
// and a directory on disk (--web-root, for development: edits show up on reload).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace tandem::server {

struct StaticFile {
  std::string content_type;
  std::string body;
};

class StaticSite {
 public:
  virtual ~StaticSite() = default;
  // `target` is the request target ("/sdk/tandem.js?v=1"). nullopt when there is no such file, or the path is not
  // acceptable (see NormalizeWebPath).
  virtual std::optional<StaticFile> Lookup(std::string_view target) const = 0;
  virtual size_t file_count() const = 0;
};

// The relative file path a request target names: query and fragment dropped, percent-decoding applied, "/" and
// paths ending in "/" mapped to index.html. nullopt for anything that could leave the web root or confuse a
// file system: "..", ".", empty or hidden segments, backslashes, NUL and other control characters.
std::optional<std::string> NormalizeWebPath(std::string_view target);

// Content-Type by file extension (text types with charset=utf-8); application/octet-stream when unknown.
std::string ContentTypeFor(std::string_view path);

// The files compiled in (web_assets.cc, generated from web/).
std::unique_ptr<StaticSite> MakeEmbeddedSite();
// Files under `root`, read on every request (regular files only, at most 16 MiB).
std::unique_ptr<StaticSite> MakeDiskSite(std::string root);

}  // namespace tandem::server
