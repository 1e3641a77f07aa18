/// The home directory every program works under: `$QUAIL_HOME`, default `/var/quail`.
public struct QuailHome: Sendable {
    public let path: String

    public init(path: String = Environment.home) { self.path = path }

    public var control: ControlDirectory { ControlDirectory(path: path + "/control") }
    public var queue: QueueLayout { QueueLayout(root: path + "/queue") }
}
