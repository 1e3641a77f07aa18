extension RemoteDelivery {
    /// What `quail-remote --help` prints; a wrong command line from quail-send gets `RemoteReply.usage` instead.
    public static let usage = """
        usage: quail-remote DOMAIN SENDER RECIPIENT...
        Delivers the message on stdin to RECIPIENTs at DOMAIN over SMTP, by control/smtproutes or
        DOMAIN's MX hosts, and prints one result line per recipient. quail-send runs it; it is
        qmail-remote's counterpart and exits 0 whatever became of the mail.
        """
}
