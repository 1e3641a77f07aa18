extension SMTPServer {
    /// What `quail-smtpd --help` prints.
    public static let usage = """
        usage: quail-smtpd
               quail-smtpd --listen ADDR:PORT
        The SMTP server. Without arguments it serves one connection on stdin and stdout, as under
        tcpserver or inetd; with --listen it accepts connections on ADDR:PORT itself, up to
        concurrencyincoming at a time. Accepted mail goes into $QUAIL_HOME/queue (default
        /var/quail); control/rcpthosts and control/validrcptto say what is accepted.
        Environment: RELAYCLIENT (set: the client may relay), QUAILQUEUE (a queue program to run
        instead of quail-queue), TCPREMOTEIP and TCPLOCALIP (the connection, from tcpserver).
        """
}
