import Glibc

/// Hands an open descriptor to another process over a Unix socket (`SCM_RIGHTS`), along with some payload.
/// quail-smtpd's listener gives each accepted connection to an idle session process this way.
public enum DescriptorPassing {
    /// `CMSG_SPACE(sizeof(int))`: the control header, then the descriptor padded to the header's alignment.
    private static let controlSpace = MemoryLayout<cmsghdr>.stride + 8
    /// `CMSG_LEN(sizeof(int))`.
    private static let controlLength = MemoryLayout<cmsghdr>.stride + MemoryLayout<Int32>.size

    /// Sends `fd` over `socket` with `payload` (not empty); the receiver gets a new descriptor for the same open file.
    public static func send(_ fd: Int32, over socket: Int32, payload: [UInt8] = [0x63]) throws(Errno) {  // "c": a connection
        var bytes = payload
        let failure = bytes.withUnsafeMutableBytes { buffer in
            withMessage(buffer) { message, control -> Errno? in
                let header = control.assumingMemoryBound(to: cmsghdr.self)
                header.pointee.cmsg_len = controlLength
                header.pointee.cmsg_level = SOL_SOCKET
                header.pointee.cmsg_type = Int32(SCM_RIGHTS)
                control.storeBytes(of: fd, toByteOffset: MemoryLayout<cmsghdr>.stride, as: Int32.self)
                do throws(Errno) {
                    let sent = try retryingInterrupts { sendmsg(socket, message, Int32(MSG_NOSIGNAL)) }
                    return sent == buffer.count ? nil : Errno(rawValue: EIO)
                } catch {
                    return error
                }
            }
        }
        if let failure { throw failure }
    }

    /// Waits for a descriptor on `socket`: the received descriptor (close-on-exec), or nil when the other end
    /// closed the socket or sent none.
    public static func receive(over socket: Int32) -> Int32? {
        var byte: UInt8 = 0
        return withUnsafeMutableBytes(of: &byte) { buffer in
            guard let (count, fd) = try? read(socket, into: buffer) else { return nil }
            guard count == 1, let fd else {
                if let fd { close(fd) }
                return nil
            }
            return fd
        }
    }

    /// One `recvmsg` on `socket` into `buffer`: the bytes read (0 at the end) and the descriptor that came
    /// with them, if any (close-on-exec). A stream read stops where a passed descriptor's bytes begin, so
    /// a reader that goes on until EAGAIN sees every descriptor.
    public static func read(_ socket: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> (Int, Int32?) {
        try withMessage(buffer) { message, control throws(Errno) -> (Int, Int32?) in
            let count = try retryingInterrupts { recvmsg(socket, message, Int32(MSG_CMSG_CLOEXEC)) }
            let header = control.assumingMemoryBound(to: cmsghdr.self)
            guard message.pointee.msg_controllen >= controlLength, header.pointee.cmsg_len == controlLength,
                  header.pointee.cmsg_level == SOL_SOCKET, header.pointee.cmsg_type == Int32(SCM_RIGHTS)
            else { return (count, nil) }
            return (count, control.load(fromByteOffset: MemoryLayout<cmsghdr>.stride, as: Int32.self))
        }
    }

    /// Calls `body` with a message over `buffer` and a zeroed control buffer for one descriptor.
    private static func withMessage<R, E: Error>(
        _ buffer: UnsafeMutableRawBufferPointer, _ body: (UnsafeMutablePointer<msghdr>, UnsafeMutableRawPointer) throws(E) -> R
    ) throws(E) -> R {
        let control = UnsafeMutableRawPointer.allocate(byteCount: controlSpace, alignment: MemoryLayout<cmsghdr>.alignment)
        defer { control.deallocate() }
        control.initializeMemory(as: UInt8.self, repeating: 0, count: controlSpace)
        var vector = iovec(iov_base: buffer.baseAddress, iov_len: buffer.count)
        return try withUnsafeMutablePointer(to: &vector) { (vectorPointer) throws(E) -> R in
            var message = msghdr(msg_name: nil, msg_namelen: 0, msg_iov: vectorPointer, msg_iovlen: 1,
                                 msg_control: control, msg_controllen: controlSpace, msg_flags: 0)
            return try body(&message, control)
        }
    }
}
