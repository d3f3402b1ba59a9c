// Micro-benchmarks behind two design choices, for bench/metrics.sh and bench/cache.sh:
//   micro-bench --suite metrics --threads 2 --iterations 5000000
//   micro-bench --suite cache --threads 2 --iterations 3000000
// Each prints one line: "<ours_ns> <alternative_ns>" per operation per thread.
// And the model's inference alone, for bench/inference.sh (prints "<ns per prediction>"):
//   micro-bench --suite model --iterations 1000000
import Foundation

let threads = Options.integer("--threads", default: 1)
let iterations = Options.integer("--iterations", default: 3_000_000)
switch Options.text("--suite") {
case "metrics":
  metricsSuite(threads: threads, iterations: iterations)
case "cache":
  try cacheSuite(threads: threads, iterations: iterations)
case "model":
  try modelSuite(iterations: iterations)
default:
  FileHandle.standardError.write(
    Data("usage: micro-bench --suite metrics|cache|model [--threads N] [--iterations N]\n".utf8))
  exit(2)
}
