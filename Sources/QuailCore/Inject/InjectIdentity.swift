/// Who is injecting: the user and host behind the default envelope sender, `From:` and `Message-ID:`.
public struct InjectIdentity: Sendable, Equatable {
    public var user: String
    public var host: String

    public init(user: String, host: String) {
        self.user = user
        self.host = host
    }

    /// `user@host`: the default envelope sender and `From:` address.
    public var address: String { "\(user)@\(host)" }

    /// DESIGN.md "Decided details": user is `$QUAILUSER`, else `$USER`, else `$LOGNAME`, else `root`;
    /// host is `$QUAILHOST`, else `me()`, which is only asked when needed. Empty values count as unset.
    public static func resolve(
        environment: (String) -> String?, me: () throws(ControlError) -> String
    ) throws(ControlError) -> InjectIdentity {
        func nonEmpty(_ name: String) -> String? {
            guard let value = environment(name), !value.isEmpty else { return nil }
            return value
        }
        let user = nonEmpty("QUAILUSER") ?? nonEmpty("USER") ?? nonEmpty("LOGNAME") ?? "root"
        // Not `??`: its autoclosure would turn the typed error into `any Error`.
        if let host = nonEmpty("QUAILHOST") { return InjectIdentity(user: user, host: host) }
        return InjectIdentity(user: user, host: try me())
    }

    /// The identity from this process's environment and `home`'s `control/me`.
    ///
    /// Only `me` is read, as qmail-inject reads only the control files it needs: an error in, say,
    /// `smtproutes` must not stop local programs from queueing mail. Unreadable `me` is a temporary failure.
    public static func current(home: QuailHome = QuailHome()) throws(ControlError) -> InjectIdentity {
        try resolve(environment: Environment.value) { () throws(ControlError) in
            try home.control.string("me", default: Environment.hostName).lowercased()
        }
    }
}
