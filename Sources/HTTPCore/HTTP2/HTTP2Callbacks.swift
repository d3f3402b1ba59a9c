import CNghttp2

/// The C callbacks nghttp2 calls during mem_recv and mem_send, forwarding to the session that
/// registered itself as the user data. They run inside nghttp2: they may submit frames, never
/// call mem_recv or mem_send.
enum HTTP2Callbacks {
  static let temporalFailure = NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue

  static func install(on callbacks: OpaquePointer?) {
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, onBeginHeaders)
    nghttp2_session_callbacks_set_on_header_callback(callbacks, onHeader)
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, onDataChunk)
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, onFrameReceived)
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, onFrameSent)
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, onStreamClose)
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(callbacks, onInvalidFrame)
  }

  /// Resets a stream from inside a callback and tells nghttp2 to skip the rest of its headers.
  static func refuse(_ session: OpaquePointer?, _ streamID: Int32, _ code: nghttp2_error_code) -> Int32 {
    nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, code.rawValue)
    return temporalFailure
  }

  static let readResponseBody: nghttp2_data_source_read_callback = {
    _, streamID, buffer, length, flags, _, user in
    guard let user, let buffer else { return Int(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue) }
    let (count, done) = session(user).readBody(streamID: streamID, into: buffer, capacity: length)
    if done { flags?.pointee |= UInt32(NGHTTP2_DATA_FLAG_EOF.rawValue) }
    return count
  }

  private static func session(_ user: UnsafeMutableRawPointer) -> HTTP2Session {
    Unmanaged<HTTP2Session>.fromOpaque(user).takeUnretainedValue()
  }

  private static func isType(_ frame: UnsafePointer<nghttp2_frame>, _ type: nghttp2_frame_type) -> Bool {
    frame.pointee.hd.type == UInt8(type.rawValue)
  }

  private static let onBeginHeaders: nghttp2_on_begin_headers_callback = { _, frame, user in
    guard let frame, let user, isType(frame, NGHTTP2_HEADERS) else { return 0 }
    return session(user).beginHeaders(
      streamID: frame.pointee.hd.stream_id, isRequest: frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST)
  }

  private static let onHeader: nghttp2_on_header_callback = { _, frame, name, nameCount, value, valueCount, _, user in
    guard let frame, let user, isType(frame, NGHTTP2_HEADERS) else { return 0 }
    return session(user).header(
      streamID: frame.pointee.hd.stream_id, name: UnsafeRawBufferPointer(start: name, count: nameCount),
      value: UnsafeRawBufferPointer(start: value, count: valueCount))
  }

  private static let onDataChunk: nghttp2_on_data_chunk_recv_callback = { _, _, streamID, data, count, user in
    guard let user else { return 0 }
    return session(user).dataChunk(streamID: streamID, data: UnsafeRawBufferPointer(start: data, count: count))
  }

  private static let onFrameReceived: nghttp2_on_frame_recv_callback = { _, frame, user in
    guard let frame, let user else { return 0 }
    // A request is complete when its HEADERS or its last DATA frame carries END_STREAM (the
    // stream may be closed already: the session checks).
    if (isType(frame, NGHTTP2_HEADERS) || isType(frame, NGHTTP2_DATA))
      && frame.pointee.hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
    {
      session(user).requestComplete(streamID: frame.pointee.hd.stream_id)
    } else if isType(frame, NGHTTP2_SETTINGS) && frame.pointee.hd.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) == 0 {
      session(user).clientSettingsReceived()
    }
    return 0
  }

  private static let onFrameSent: nghttp2_on_frame_send_callback = { _, frame, user in
    guard let frame, let user else { return 0 }
    if (isType(frame, NGHTTP2_HEADERS) || isType(frame, NGHTTP2_DATA))
      && frame.pointee.hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
    {
      session(user).responseSent(streamID: frame.pointee.hd.stream_id)
    }
    return 0
  }

  private static let onStreamClose: nghttp2_on_stream_close_callback = { _, streamID, errorCode, user in
    guard let user else { return 0 }
    session(user).streamClosed(streamID: streamID, errorCode: errorCode)
    return 0
  }

  private static let onInvalidFrame: nghttp2_on_invalid_frame_recv_callback = { _, _, _, user in
    guard let user else { return 0 }
    session(user).invalidFrame()
    return 0
  }
}
