// A small command-line parser shared by the `tandem` subcommands: long options only (`--name value`,
// `--name=value`, boolean `--flag`), with help text generated from the table, and config files whose lines
// use the same names (`name = value`, `name value` or a bare `name`; `#` starts a comment), as coturn's
// turnserver.conf does.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace tandem::cli {

// A usage error: printed with the subcommand's help hint, exit code 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Option {
  std::string name;        // without dashes
  std::string value_name;  // empty for a boolean flag
  std::string help;
  std::function<void(const std::string& value)> apply;  // throws UsageError on a bad value
};

class OptionParser {
 public:
  OptionParser(std::string command, std::string summary);
  void Add(Option option);
  void Flag(std::string name, std::string help, bool* target);
  void String(std::string name, std::string value_name, std::string help, std::string* target);
  void Alias(std::string alias, std::string target);

  // Parses argv-style tokens. `--config FILE` is understood everywhere and reads the file's lines in place.
  // Returns false when --help was given (help already printed).
  bool Parse(const std::vector<std::string>& args);
  void PrintHelp() const;

 private:
  void ParseConfigFile(const std::string& path, int depth);
  void ApplyOption(const std::string& name, const std::string* value, const std::string& origin);
  const Option* Find(const std::string& name) const;

  std::string command_, summary_;
  std::vector<Option> options_;
  std::vector<std::pair<std::string, std::string>> aliases_;
};

// Value parsers that throw UsageError naming the option.
uint64_t ParseUnsigned(const std::string& option, const std::string& value, uint64_t max);

}  // namespace tandem::cli
