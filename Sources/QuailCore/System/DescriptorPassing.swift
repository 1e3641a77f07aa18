import Glibc

/// Hands an open descriptor to another process over a Unix socket (`SCM_RIGHTS`), with one byte of payload.
/// quail-smtpd's listener gives each accepted connection to an idle session process this way.
public enum DescriptorPassing {
    /// `CMSG_SPACE(sizeof(int))`: the control header, then the descriptor padded to the header's alignment.
    private static let controlSpace = MemoryLayout<cmsghdr>.stride + 8
    /// `CMSG_LEN(sizeof(int))`.
    private static let controlLength = MemoryLayout<cmsghdr>.stride + MemoryLayout<Int32>.size

    /// Sends `fd` over `socket`; the receiver gets a new descriptor for the same open file.
    public static func send(_ fd: Int32, over socket: Int32) throws(Errno) {
        let failure = withMessage(payload: 0x63) { message, control -> Errno? in  // "c": a connection
            let header = control.assumingMemoryBound(to: cmsghdr.self)
            header.pointee.cmsg_len = controlLength
            header.pointee.cmsg_level = SOL_SOCKET
            header.pointee.cmsg_type = Int32(SCM_RIGHTS)
            control.storeBytes(of: fd, toByteOffset: MemoryLayout<cmsghdr>.stride, as: Int32.self)
            do throws(Errno) {
                return try retryingInterrupts { sendmsg(socket, message, Int32(MSG_NOSIGNAL)) } == 1 ? nil : Errno(rawValue: EIO)
            } catch {
                return error
            }
        }
        if let failure { throw failure }
    }

    /// Waits for a descriptor on `socket`: the received descriptor (close-on-exec), or nil when the other end
    /// closed the socket or sent none.
    public static func receive(over socket: Int32) -> Int32? {
        withMessage(payload: 0) { message, control in
            guard (try? retryingInterrupts { recvmsg(socket, message, Int32(MSG_CMSG_CLOEXEC)) }) == 1 else { return nil }
            let header = control.assumingMemoryBound(to: cmsghdr.self)
            guard header.pointee.cmsg_len == controlLength, header.pointee.cmsg_level == SOL_SOCKET,
                  header.pointee.cmsg_type == Int32(SCM_RIGHTS)
            else { return nil }
            return control.load(fromByteOffset: MemoryLayout<cmsghdr>.stride, as: Int32.self)
        }
    }

    /// Calls `body` with a message of one payload byte and a zeroed control buffer for one descriptor.
    private static func withMessage<R>(payload: UInt8, _ body: (UnsafeMutablePointer<msghdr>, UnsafeMutableRawPointer) -> R) -> R {
        var byte = payload
        let control = UnsafeMutableRawPointer.allocate(byteCount: controlSpace, alignment: MemoryLayout<cmsghdr>.alignment)
        defer { control.deallocate() }
        control.initializeMemory(as: UInt8.self, repeating: 0, count: controlSpace)
        return withUnsafeMutablePointer(to: &byte) { payloadPointer in
            var vector = iovec(iov_base: UnsafeMutableRawPointer(payloadPointer), iov_len: 1)
            return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                var message = msghdr(msg_name: nil, msg_namelen: 0, msg_iov: vectorPointer, msg_iovlen: 1,
                                     msg_control: control, msg_controllen: controlSpace, msg_flags: 0)
                return body(&message, control)
            }
        }
    }
}
