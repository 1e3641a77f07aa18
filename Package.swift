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
        // Debian's OpenSSL (libssl-dev) for STARTTLS: the one C library quail links.
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL"),
        .target(name: "QuailCore", dependencies: ["CSystemShims", "COpenSSL"]),
    ]
        + programs.map { Target.executableTarget(name: $0, dependencies: ["QuailCore"]) }
        + [
            .testTarget(name: "QuailCoreTests", dependencies: ["QuailCore"]),
            // Depends on the programs only so that `swift test` builds them first.
            .testTarget(name: "IntegrationTests", dependencies: programs.map { .target(name: $0) }),
        ]
)
