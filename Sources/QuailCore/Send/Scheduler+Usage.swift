extension Scheduler {
    /// What `quail-send --help` prints.
    public static let usage = """
        usage: quail-send
        The scheduler: takes in new mail from $QUAIL_HOME/queue (default /var/quail), delivers each
        recipient with quail-local or quail-remote, retries, bounces and cleans up. It runs in the
        foreground under a supervisor (daemontools, runit) and logs on stderr.
        Signals: HUP rereads control/; ALRM makes every waiting message due now; TERM stops after the
        running deliveries.
        """
}
