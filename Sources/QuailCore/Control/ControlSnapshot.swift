/// The bytes of every control file, read once. quail-send parses a snapshot and hands the same bytes to each
/// delivery worker it starts, so a worker uses exactly the configuration quail-send holds: an edit that
/// quail-send refused at a reload never reaches a delivery, and no worker reads `control/` itself.
public struct ControlSnapshot: Sendable, Equatable {
    /// File name to contents; a missing file has no entry.
    public var files: [String: [UInt8]]

    public init(files: [String: [UInt8]]) {
        self.files = files
    }

    /// Reads the files of `Configuration.fileNames` under `home/control`.
    public static func read(_ home: QuailHome) throws(ControlError) -> ControlSnapshot {
        let control = ControlDirectory(path: home.control.path)
        var files: [String: [UInt8]] = [:]
        for name in Configuration.fileNames {
            if let bytes = try control.read(name) { files[name] = bytes }
        }
        return ControlSnapshot(files: files)
    }

    /// The snapshot as the fields of the worker protocol's `control` frame: name, contents, name, contents…
    public var fields: [[UInt8]] {
        files.keys.sorted().flatMap { [Array($0.utf8), files[$0]!] }
    }

    /// The snapshot those fields describe; nil when they do not come in pairs.
    public init?(fields: ArraySlice<[UInt8]>) {
        guard fields.count % 2 == 0 else { return nil }
        var files: [String: [UInt8]] = [:]
        var rest = fields
        while let name = rest.popFirst(), let contents = rest.popFirst() {
            files[String(decoding: name, as: UTF8.self)] = contents
        }
        self.files = files
    }
}
