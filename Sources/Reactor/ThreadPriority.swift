import CLinux

/// Sets the calling thread's nice value (Linux schedules threads, so this touches no other
/// thread of the process). Returns false when the system refused (e.g. lowering below 0
/// without the privilege).
@discardableResult
public func setCurrentThreadNiceness(_ niceness: Int32) -> Bool {
  cl_set_thread_niceness(niceness) == 0
}
