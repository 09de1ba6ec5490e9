// The `tconv` command-line program: bench (the main job), tune and shape.
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "tconv/tconv.hpp"

namespace tconv::bench {
std::string default_layers_path() { return TCONV_SOURCE_DIR "/bench/layers.csv"; }
}  // namespace tconv::bench

namespace {

const char* kUsage =
    "usage: tconv <command> [options]\n\n"
    "commands:\n"
    "  bench   time every strategy and the peer libraries on a layer suite (the main job)\n"
    "  tune    time the strategies on a layer suite and record the winners in a wisdom file\n"
    "  shape   output shape, crops, work and per-phase tap counts for framework-style arguments\n\n"
    "`tconv <command> --help` describes each command's options.";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "%s\n", kUsage);
    return 2;
  }
  const std::string cmd = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  try {
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
      std::puts(kUsage);
      return 0;
    }
    if (cmd == "--version") {
      std::printf("tconv %s\n", tconv::version());
      return 0;
    }
    if (cmd == "bench") return tconv::bench::bench_command(args);
    if (cmd == "tune") return tconv::bench::tune_command(args);
    if (cmd == "shape") return tconv::bench::shape_command(args);
    std::fprintf(stderr, "tconv: unknown command '%s' (try tconv --help)\n", cmd.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tconv %s: %s\n", cmd.c_str(), e.what());
    return 2;
  }
}
