import CHiredis

#if canImport(Glibc)
  import Glibc
#endif

/// Where one pool connection's replies are built: hiredis's own reply functions malloc a
/// `redisReply` and a string per element and free them one by one after the callback (for an
/// HGETALL of nine fields, ~40 mallocs and ~40 frees: a fifth of a cache-miss request's
/// instructions, `bench/callgrind.sh`). Replies here are carved from one block and the whole
/// reply is dropped at once when hiredis frees it. The nodes keep hiredis's `redisReply`
/// layout, so `RedisReplyView`, `RedisValue(reply:)` and the cluster redirect read them as before.
///
/// Only one reply is built at a time per connection (hiredis parses a reply to its end before it
/// starts the next, and frees it after its callback), so freeing the reply resets the block.
/// What does not fit in the block (a large reply) is carved from further chunks of at least
/// `chunkSize`, malloc'd as needed and freed at the same reset: memory stays bounded by the
/// largest reply, as with hiredis's functions. (A node per malloc there made a 512-entry
/// XREADGROUP reply ~6 000 callocs and frees: a fifth of the stream consumer's instructions.)
final class ReplyArena {
  /// Bytes carved per reply before falling back to malloc: an HGETALL row or a window-events
  /// hash of a few hundred entries fits.
  static let blockSize = 16 * 1024
  /// Before a reply's root node: the arena that holds it, so `freeObject` (which is given only
  /// the reply) finds what to reset. 16 bytes keep the node aligned.
  fileprivate static let rootHeader = 16

  /// Chunks past the block are at least this large.
  static let chunkSize = 64 * 1024

  private let block: UnsafeMutableRawPointer
  private var used = 0
  /// Chunks malloc'd for this reply past the block; the last is carved from at `chunkUsed`.
  private var overflow: [UnsafeMutableRawPointer] = []
  private var chunkUsed = 0
  private var chunkCapacity = 0

  init() {
    block = UnsafeMutableRawPointer.allocate(byteCount: Self.blockSize, alignment: 16)
    overflow.reserveCapacity(16)
  }

  deinit {
    reset()
    block.deallocate()
  }

  /// Builds the replies of `reader` here from now on. The arena must outlive the reader (its
  /// owner, the connection, outlives every context it creates).
  func adopt(_ reader: UnsafeMutablePointer<redisReader>) {
    reader.pointee.fn = ReplyArena.functions
    reader.pointee.privdata = Unmanaged.passUnretained(self).toOpaque()
  }

  /// `byteCount` bytes, 16-aligned, zeroed unless `zeroed` is false; nil only when malloc fails
  /// (hiredis reports it).
  fileprivate func allocate(_ byteCount: Int, zeroed: Bool = true) -> UnsafeMutableRawPointer? {
    let rounded = (byteCount + 15) & ~15
    let start: UnsafeMutableRawPointer
    if rounded <= Self.blockSize - used {
      start = block + used
      used += rounded
    } else if rounded <= chunkCapacity - chunkUsed, let chunk = overflow.last {
      start = chunk + chunkUsed
      chunkUsed += rounded
    } else {
      let capacity = max(Self.chunkSize, rounded)
      guard let chunk = malloc(capacity) else { return nil }
      overflow.append(chunk)
      chunkCapacity = capacity
      chunkUsed = rounded
      start = chunk
    }
    if zeroed { memset(start, 0, byteCount) }
    return start
  }

  fileprivate func reset() {
    used = 0
    guard !overflow.isEmpty else { return }  // the usual case; removeAll is not free
    chunkUsed = 0
    chunkCapacity = 0
    for start in overflow { free(start) }
    overflow.removeAll(keepingCapacity: overflow.capacity <= 64)  // a huge reply's list is not kept
  }

  /// A node for `task`, linked into its parent array like hiredis's own functions do; the root
  /// carries the arena before it.
  fileprivate func node(_ task: UnsafePointer<redisReadTask>, type: Int32) -> UnsafeMutablePointer<redisReply>? {
    let isRoot = task.pointee.parent == nil
    let header = isRoot ? Self.rootHeader : 0
    guard let start = allocate(header + MemoryLayout<redisReply>.stride) else { return nil }
    if isRoot {
      start.storeBytes(of: Unmanaged.passUnretained(self).toOpaque(), as: UnsafeMutableRawPointer.self)
    }
    let node = (start + header).bindMemory(to: redisReply.self, capacity: 1)
    node.pointee.type = type
    if let parent = task.pointee.parent, let array = parent.pointee.obj?.assumingMemoryBound(to: redisReply.self),
      array.pointee.type == REDIS_REPLY_ARRAY, task.pointee.idx >= 0, Int(task.pointee.idx) < array.pointee.elements
    {
      array.pointee.element[Int(task.pointee.idx)] = node
    }
    return node
  }

  fileprivate static func of(_ task: UnsafePointer<redisReadTask>?) -> ReplyArena? {
    guard let privdata = task?.pointee.privdata else { return nil }
    return Unmanaged<ReplyArena>.fromOpaque(privdata).takeUnretainedValue()
  }

  /// hiredis's reply functions pointing here; one table for every connection (the arena comes
  /// with each task, through the reader's privdata). Written once, then only read by hiredis.
  nonisolated(unsafe) static let functions: UnsafeMutablePointer<redisReplyObjectFunctions> = {
    let table = UnsafeMutablePointer<redisReplyObjectFunctions>.allocate(capacity: 1)
    table.initialize(
      to: redisReplyObjectFunctions(
        createString: arenaCreateString, createArray: arenaCreateArray, createInteger: arenaCreateInteger,
        createNil: arenaCreateNil, freeObject: arenaFreeObject))
    return table
  }()
}

private func arenaCreateString(
  _ task: UnsafePointer<redisReadTask>?, _ text: UnsafeMutablePointer<CChar>?, _ length: Int
) -> UnsafeMutableRawPointer? {
  guard let task, let arena = ReplyArena.of(task), let node = arena.node(task, type: task.pointee.type),
    let copy = arena.allocate(length + 1, zeroed: false)
  else { return nil }
  if length > 0, let text { memcpy(copy, text, length) }
  copy.storeBytes(of: 0, toByteOffset: length, as: UInt8.self)
  node.pointee.str = copy.assumingMemoryBound(to: CChar.self)
  node.pointee.len = length
  return UnsafeMutableRawPointer(node)
}

private func arenaCreateArray(_ task: UnsafePointer<redisReadTask>?, _ elements: Int32) -> UnsafeMutableRawPointer? {
  guard let task, let arena = ReplyArena.of(task), let node = arena.node(task, type: REDIS_REPLY_ARRAY) else {
    return nil
  }
  if elements > 0 {
    guard let slots = arena.allocate(Int(elements) * MemoryLayout<UnsafeMutablePointer<redisReply>?>.stride) else {
      return nil
    }
    node.pointee.element = slots.bindMemory(to: UnsafeMutablePointer<redisReply>?.self, capacity: Int(elements))
    node.pointee.elements = Int(elements)
  }
  return UnsafeMutableRawPointer(node)
}

private func arenaCreateInteger(_ task: UnsafePointer<redisReadTask>?, _ value: Int64) -> UnsafeMutableRawPointer? {
  guard let task, let arena = ReplyArena.of(task), let node = arena.node(task, type: REDIS_REPLY_INTEGER) else {
    return nil
  }
  node.pointee.integer = value
  return UnsafeMutableRawPointer(node)
}

private func arenaCreateNil(_ task: UnsafePointer<redisReadTask>?) -> UnsafeMutableRawPointer? {
  guard let task, let arena = ReplyArena.of(task), let node = arena.node(task, type: REDIS_REPLY_NIL) else {
    return nil
  }
  return UnsafeMutableRawPointer(node)
}

/// hiredis frees only whole replies (after their callback, or a partial one when the reader
/// fails or is freed): the root's header names the arena to reset.
private func arenaFreeObject(_ reply: UnsafeMutableRawPointer?) {
  guard let reply else { return }
  let arena = (reply - ReplyArena.rootHeader).load(as: UnsafeMutableRawPointer.self)
  Unmanaged<ReplyArena>.fromOpaque(arena).takeUnretainedValue().reset()
}
