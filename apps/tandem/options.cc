#include "options.h"

#include <cstdio>
#include <fstream>

namespace tandem::cli {
namespace {
std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}
}  // namespace

OptionParser::OptionParser(std::string command, std::string summary)
    : command_(std::move(command)), summary_(std::move(summary)) {}

void OptionParser::Add(Option option) { options_.push_back(std::move(option)); }

void OptionParser::Flag(std::string name, std::string help, bool* target) {
  Add({std::move(name), "", std::move(help), [target](const std::string&) { *target = true; }});
}

void OptionParser::String(std::string name, std::string value_name, std::string help, std::string* target) {
  Add({std::move(name), std::move(value_name), std::move(help),
       [target](const std::string& v) { *target = v; }});
}

void OptionParser::Alias(std::string alias, std::string target) {
  aliases_.emplace_back(std::move(alias), std::move(target));
}

const Option* OptionParser::Find(const std::string& name) const {
  std::string resolved = name;
  for (const auto& [alias, target] : aliases_)
    if (alias == name) resolved = target;
  for (const auto& o : options_)
    if (o.name == resolved) return &o;
  return nullptr;
}

void OptionParser::ApplyOption(const std::string& name, const std::string* value, const std::string& origin) {
  const Option* option = Find(name);
  if (option == nullptr) throw UsageError(origin + "unknown option --" + name);
  if (option->value_name.empty()) {
    if (value != nullptr && !value->empty() && *value != "true" && *value != "1" && *value != "yes") {
      throw UsageError(origin + "--" + name + " takes no value");
    }
    option->apply("");
    return;
  }
  if (value == nullptr)
    throw UsageError(origin + "--" + name + " needs a value (" + option->value_name + ")");
  option->apply(*value);
}

bool OptionParser::Parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      PrintHelp();
      return false;
    }
    if (arg.rfind("--", 0) != 0) throw UsageError("unexpected argument '" + arg + "'");
    std::string name = arg.substr(2);
    std::string inline_value;
    bool has_inline = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_inline = true;
    }
    if (name == "config") {
      std::string path = has_inline ? inline_value : (i + 1 < args.size() ? args[++i] : "");
      if (path.empty()) throw UsageError("--config needs a file name");
      ParseConfigFile(path, 0);
      continue;
    }
    const Option* option = Find(name);
    if (option == nullptr) throw UsageError("unknown option --" + name + " (see --help)");
    if (option->value_name.empty()) {
      ApplyOption(name, has_inline ? &inline_value : nullptr, "");
    } else if (has_inline) {
      ApplyOption(name, &inline_value, "");
    } else {
      if (i + 1 >= args.size()) throw UsageError("--" + name + " needs a value (" + option->value_name + ")");
      ApplyOption(name, &args[++i], "");
    }
  }
  return true;
}

void OptionParser::ParseConfigFile(const std::string& path, int depth) {
  if (depth > 4) throw UsageError("config files include each other too deeply: " + path);
  std::ifstream in(path);
  if (!in) throw UsageError("cannot read config file " + path);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (size_t hash = line.find('#'); hash != std::string::npos) line = line.substr(0, hash);
    line = Trim(line);
    if (line.empty()) continue;
    if (line.rfind("--", 0) == 0) line = line.substr(2);
    std::string name, value;
    size_t sep = line.find_first_of("= \t");
    bool has_value = sep != std::string::npos;
    name = Trim(line.substr(0, sep));
    if (has_value) {
      value = Trim(line.substr(sep + 1));
      if (!value.empty() && value[0] == '=') value = Trim(value.substr(1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
        value = value.substr(1, value.size() - 2);
    }
    std::string origin = path + ":" + std::to_string(number) + ": ";
    if (name == "config") {
      ParseConfigFile(value, depth + 1);
      continue;
    }
    ApplyOption(name, has_value ? &value : nullptr, origin);
  }
}

void OptionParser::PrintHelp() const {
  std::printf("Usage: tandem %s [options]\n\n%s\n\nOptions:\n", command_.c_str(), summary_.c_str());
  for (const auto& o : options_) {
    std::string left = "--" + o.name + (o.value_name.empty() ? "" : " " + o.value_name);
    std::printf("  %-34s %s\n", left.c_str(), o.help.c_str());
  }
  std::printf("  %-34s %s\n", "--config FILE",
              "read options from FILE: one per line, 'name = value' or 'name' (as turnserver.conf)");
  std::printf("  %-34s %s\n", "--help", "show this help");
}

uint64_t ParseUnsigned(const std::string& option, const std::string& value, uint64_t max) {
  if (value.empty() || value.size() > 20) throw UsageError("--" + option + ": not a number: '" + value + "'");
  uint64_t v = 0;
  for (char c : value) {
    if (c < '0' || c > '9') throw UsageError("--" + option + ": not a number: '" + value + "'");
    v = v * 10 + static_cast<uint64_t>(c - '0');
    if (v > max) throw UsageError("--" + option + ": " + value + " is larger than " + std::to_string(max));
  }
  return v;
}

}  // namespace tandem::cli
