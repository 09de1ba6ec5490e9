#include "wisdom/wisdom.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <vector>

namespace tconv::detail {
namespace {

constexpr const char* kMagic = "tconv-wisdom";
constexpr size_t kMaxLineBytes = 4096;
constexpr size_t kMaxFileBytes = size_t{64} << 20;
constexpr int64_t kMaxThreads = 1 << 16;

// The shape fields of a key, in file order.
constexpr const char* kShapeKeys[] = {"N",  "Cin", "Cout", "H",  "W",  "kh", "kw", "sh", "sw",
                                      "dh", "dw",  "g",    "ct", "cl", "oh", "ow"};

std::string key_text(const std::string& version, const std::string& isa, int64_t threads, const Params& p) {
  std::ostringstream s;
  s << "version=" << version << " isa=" << isa << " threads=" << threads << " N=" << p.batch
    << " Cin=" << p.in_channels << " Cout=" << p.out_channels << " H=" << p.input.h << " W=" << p.input.w
    << " kh=" << p.kernel.h << " kw=" << p.kernel.w << " sh=" << p.stride.h << " sw=" << p.stride.w
    << " dh=" << p.dilation.h << " dw=" << p.dilation.w << " g=" << p.groups << " ct=" << p.crop.h
    << " cl=" << p.crop.w << " oh=" << p.output.h << " ow=" << p.output.w
    << " layout=" << (p.layout == Layout::nchw ? "nchw" : "nhwc");
  return s.str();
}

// Versions and ISA names: a short word of [A-Za-z0-9._-].
bool is_word(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

bool parse_int(const std::string& s, int64_t* v) {
  if (s.empty()) return false;
  const char* end = s.data() + s.size();
  const auto r = std::from_chars(s.data(), end, *v);
  return r.ec == std::errc() && r.ptr == end;
}

// One "entry ..." line (without the word "entry"); throws std::string on a defect.
std::pair<std::string, WisdomEntry> parse_entry(const std::string& rest) {
  std::map<std::string, std::string> kv;
  std::istringstream in(rest);
  std::string token;
  while (in >> token) {
    const size_t eq = token.find('=');
    if (eq == std::string::npos || eq == 0) throw "token '" + token + "' is not key=value";
    if (!kv.emplace(token.substr(0, eq), token.substr(eq + 1)).second) {
      throw "key '" + token.substr(0, eq) + "' appears twice";
    }
  }
  auto take = [&](const char* key) {
    auto it = kv.find(key);
    if (it == kv.end()) throw std::string("missing key '") + key + "'";
    std::string v = it->second;
    kv.erase(it);
    return v;
  };
  auto take_int = [&](const char* key) {
    const std::string v = take(key);
    int64_t n = 0;
    if (!parse_int(v, &n)) throw std::string(key) + "=" + v + " is not an integer";
    return n;
  };
  const std::string version = take("version"), isa = take("isa");
  if (!is_word(version)) throw "version=" + version + " is not a version word";
  if (!is_word(isa)) throw "isa=" + isa + " is not an ISA name";
  const int64_t threads = take_int("threads");
  if (threads < 1 || threads > kMaxThreads) {
    throw "threads=" + std::to_string(threads) + " must be in [1, " + std::to_string(kMaxThreads) + "]";
  }
  int64_t f[std::size(kShapeKeys)];
  for (size_t i = 0; i < std::size(kShapeKeys); ++i) f[i] = take_int(kShapeKeys[i]);
  Params p;
  p.batch = f[0];
  p.in_channels = f[1];
  p.out_channels = f[2];
  p.input = {f[3], f[4]};
  p.kernel = {f[5], f[6]};
  p.stride = {f[7], f[8]};
  p.dilation = {f[9], f[10]};
  p.groups = f[11];
  p.crop = {f[12], f[13]};
  p.output = {f[14], f[15]};
  const std::string layout = take("layout");
  if (layout != "nchw" && layout != "nhwc") throw "layout=" + layout + " must be nchw or nhwc";
  p.layout = layout == "nchw" ? Layout::nchw : Layout::nhwc;
  try {
    validate(p);
  } catch (const Error& e) {
    throw std::string("the shape is not a valid transposed convolution: ") + e.what();
  }
  WisdomEntry entry;
  entry.strategy = take("strategy");
  const auto names = strategy_names();
  if (std::find(names.begin(), names.end(), entry.strategy) == names.end()) {
    throw "strategy=" + entry.strategy + " is not a registered strategy";
  }
  const std::string ms = take("ms");
  char* end = nullptr;
  entry.median_ms = std::strtod(ms.c_str(), &end);
  if (ms.empty() || end != ms.c_str() + ms.size() || !std::isfinite(entry.median_ms) || entry.median_ms < 0) {
    throw "ms=" + ms + " is not a non-negative number";
  }
  if (!kv.empty()) throw "unknown key '" + kv.begin()->first + "'";
  return {key_text(version, isa, threads, p), entry};
}

}  // namespace

std::string wisdom_key(const Params& params, const std::string& isa, int threads) {
  return key_text(version(), isa, threads, params);
}

bool parse_wisdom(const std::string& text, WisdomTable* out, std::string* why) {
  out->clear();
  WisdomTable table;
  std::istringstream in(text);
  std::string line;
  int64_t line_no = 0;
  bool ended = false;
  auto fail = [&](const std::string& rule) {
    *why = "line " + std::to_string(line_no) + ": " + rule;
    return false;
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.size() > kMaxLineBytes) return fail("longer than " + std::to_string(kMaxLineBytes) + " bytes");
    if (line_no == 1) {
      if (line == std::string(kMagic) + " " + std::to_string(kWisdomFormat)) continue;
      if (line.rfind(std::string(kMagic) + " ", 0) == 0) {
        return fail("wisdom format '" + line.substr(13) + "', this library reads format " +
                    std::to_string(kWisdomFormat));
      }
      return fail("not a tconv wisdom file (the first line must be '" + std::string(kMagic) + " " +
                  std::to_string(kWisdomFormat) + "')");
    }
    if (line.empty() || line[0] == '#') continue;
    if (ended) return fail("content after the 'end' line");
    if (line.rfind("entry ", 0) == 0) {
      try {
        auto [key, entry] = parse_entry(line.substr(6));
        if (!table.emplace(std::move(key), entry).second) return fail("a second entry for the same key");
      } catch (const std::string& rule) {
        return fail(rule);
      }
    } else if (line.rfind("end ", 0) == 0) {
      int64_t count = -1;
      if (!parse_int(line.substr(4), &count) || count != int64_t(table.size())) {
        return fail("'" + line + "' does not match the " + std::to_string(table.size()) + " entries read");
      }
      ended = true;
    } else {
      return fail("expected 'entry ...', 'end N' or a '#' comment");
    }
  }
  if (line_no == 0) return fail("the file is empty");
  if (!ended) return fail("no 'end N' line: the file is truncated");
  *out = std::move(table);
  return true;
}

std::string format_wisdom(const WisdomTable& table) {
  std::ostringstream s;
  s << kMagic << " " << kWisdomFormat << "\n"
    << "# Measured strategy choices for tconv plans made with strategy \"auto\" (written by `tconv tune`).\n";
  for (const auto& [key, e] : table) {
    char ms[32];
    std::snprintf(ms, sizeof ms, "%.6g", e.median_ms);
    s << "entry " << key << " strategy=" << e.strategy << " ms=" << ms << "\n";
  }
  s << "end " << table.size() << "\n";
  return s.str();
}

std::shared_ptr<const WisdomTable> load_wisdom(const std::string& path, std::string* warning) {
  // A file version: rewriting in place changes size or mtime; save_wisdom's rename changes the inode.
  struct Cached {
    int64_t size = -1, mtime_ns = -1;
    uint64_t device = 0, inode = 0;
    std::shared_ptr<const WisdomTable> table;
    std::string warning;
  };
  static std::mutex mutex;
  static std::map<std::string, Cached> cache;

  struct stat st {};
  int64_t size = -1, mtime_ns = -1;
  if (::stat(path.c_str(), &st) == 0) {
    size = int64_t(st.st_size);
    mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  }
  const uint64_t device = size >= 0 ? uint64_t(st.st_dev) : 0, inode = size >= 0 ? uint64_t(st.st_ino) : 0;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(path);
  if (it != cache.end() && it->second.size == size && it->second.mtime_ns == mtime_ns &&
      it->second.device == device && it->second.inode == inode) {
    *warning = it->second.warning;
    return it->second.table;
  }
  Cached c;
  c.size = size;
  c.mtime_ns = mtime_ns;
  c.device = device;
  c.inode = inode;
  if (size < 0) {
    c.warning = "cannot open it";
  } else if (!S_ISREG(st.st_mode)) {
    c.warning = "not a regular file";
  } else if (size_t(size) > kMaxFileBytes) {
    c.warning = "larger than " + std::to_string(kMaxFileBytes >> 20) + " MiB";
  } else {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    auto table = std::make_shared<WisdomTable>();
    std::string why;
    if (!in && !in.eof()) {
      c.warning = "cannot read it";
    } else if (!parse_wisdom(text.str(), table.get(), &why)) {
      c.warning = why;
    } else {
      c.table = std::move(table);
    }
  }
  if (!c.warning.empty()) {
    c.warning = "ignoring wisdom file '" + path + "': " + c.warning + "; auto uses its heuristic";
    std::fprintf(stderr, "tconv: %s\n", c.warning.c_str());
  }
  *warning = c.warning;
  cache[path] = c;
  return c.table;
}

void save_wisdom(const std::string& path, const WisdomTable& table) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << format_wisdom(table);
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw Error("cannot write the wisdom file '" + tmp + "'");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error("cannot replace the wisdom file '" + path + "'");
  }
}

}  // namespace tconv::detail
