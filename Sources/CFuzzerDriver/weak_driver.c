// A weak LLVMFuzzerRunDriver so that the fuzz target links in a normal `swift build`. Built with
// -sanitize=fuzzer, libFuzzer's strong definition replaces this one.
#include <stdio.h>
#include <stdint.h>
#include <stddef.h>

__attribute__((weak)) int LLVMFuzzerRunDriver(int *argc, char ***argv,
                                              int (*callback)(const uint8_t *, size_t)) {
  (void)argc; (void)argv; (void)callback;
  fputs("http-parser-fuzz was built without -sanitize=fuzzer: run .ci/fuzz.sh instead\n", stderr);
  return 2;
}
