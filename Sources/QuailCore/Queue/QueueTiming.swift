/// Time limits that must hold between programs.
public enum QueueTiming {
    /// quail-queue kills itself after this many seconds, so a stuck injector cannot hold files forever.
    public static let injectorDeadline = 24 * 3600
    /// A `tmp/` file older than this is debris even if a process with its writer's pid lives.
    /// Must exceed `injectorDeadline`, or a slow but live injector loses its message.
    public static let ossified = 36 * 3600
}
