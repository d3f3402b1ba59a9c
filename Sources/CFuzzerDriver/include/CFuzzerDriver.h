#ifndef CFUZZERDRIVER_H
#define CFUZZERDRIVER_H
// Nothing to import: the target only supplies a weak LLVMFuzzerRunDriver for normal builds.
#endif
