// swift-tools-version:6.0
import PackageDescription

let programs = [
    "quail-queue", "quail-send", "quail-local", "quail-inject", "quail-sendmail", "quail-smtpd",
    "quail-qstat", "quail-qread", "quail-remote", "quail-qctl", "quail-mxcheck",
]

let package = Package(
    name: "quail",
    targets: [
        // Header only: glibc functions Swift cannot call as declared (pipe2).
        .systemLibrary(name: "CSystemShims", path: "Sources/CSystemShims"),
        .target(name: "QuailCore", dependencies: ["CSystemShims"]),
    ]
        + programs.map { Target.executableTarget(name: $0, dependencies: ["QuailCore"]) }
        + [
            .testTarget(name: "QuailCoreTests", dependencies: ["QuailCore"]),
            // Depends on the programs only so that `swift test` builds them first.
            .testTarget(name: "IntegrationTests", dependencies: programs.map { .target(name: $0) }),
        ]
)
