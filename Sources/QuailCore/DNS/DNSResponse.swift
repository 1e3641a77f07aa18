/// A parsed DNS response: the header fields a stub resolver needs, the question, and the records it can use.
public struct DNSResponse: Sendable, Hashable {
    /// The query id this message claims to answer.
    public var id: UInt16
    /// QR: set in responses; a message without it is a query and no answer of ours.
    public var isResponse: Bool
    /// OPCODE: 0 for a standard query.
    public var opcode: UInt8
    /// AA: the answering server is authoritative for the name.
    public var isAuthoritative: Bool
    /// TC: the message was cut to fit a datagram; its records are not parsed (RFC 2181 §9) and the
    /// query must be repeated over TCP.
    public var isTruncated: Bool
    /// RCODE.
    public var responseCode: DNSResponseCode
    /// The questions echoed back; a response to one of quail's queries has exactly one.
    public var questions: [DNSQuestion]
    /// Answer records of class IN and of a type quail reads, in message order.
    public var answers: [DNSRecord]
    /// Authority records of class IN and of a type quail reads.
    public var authority: [DNSRecord]

    public init(
        id: UInt16, isResponse: Bool = true, opcode: UInt8 = 0, isAuthoritative: Bool = false,
        isTruncated: Bool = false,
        responseCode: DNSResponseCode = .noError, questions: [DNSQuestion] = [], answers: [DNSRecord] = [],
        authority: [DNSRecord] = []
    ) {
        self.id = id
        self.isResponse = isResponse
        self.opcode = opcode
        self.isAuthoritative = isAuthoritative
        self.isTruncated = isTruncated
        self.responseCode = responseCode
        self.questions = questions
        self.answers = answers
        self.authority = authority
    }
}
