extension LocalDelivery {
    /// What `quail-local --help` prints; a wrong command line from quail-send gets `LocalReply.usage` instead.
    public static let usage = """
        usage: quail-local SENDER RECIPIENT
        Delivers the message on stdin to RECIPIENT's Maildir under maildirroot, or forwards it as
        control/aliases says, and prints one result line. quail-send runs it; it is qmail-local's
        counterpart. Exit 0 delivered, 100 failed for good, 111 try again later.
        """
}
