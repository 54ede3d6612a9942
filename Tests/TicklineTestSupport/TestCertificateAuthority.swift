import Foundation

/// A throwaway certificate authority made with the `openssl` command in a temporary folder
/// when a test starts (no key is ever committed), with the certificates TLS tests serve: one
/// for `localhost` and 127.0.0.1 valid for two days, and one for the same names that expired
/// in 2020. `remove()` deletes the folder.
public final class TestCertificateAuthority {
    public struct Failure: Error, CustomStringConvertible { public let description: String }

    public let folder: String
    public var caFile: String { "\(folder)/ca.pem" }
    public var certificate: String { "\(folder)/server.pem" }
    public var key: String { "\(folder)/server.key" }
    public var expiredCertificate: String { "\(folder)/expired.pem" }
    public var expiredKey: String { "\(folder)/expired.key" }

    /// The `openssl` command, if installed.
    public static var openssl: String? {
        ["/usr/bin/openssl", "/usr/local/bin/openssl"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    public init() throws {
        guard let openssl = Self.openssl else { throw Failure(description: "openssl is not installed (Tools/setup installs it)") }
        folder = NSTemporaryDirectory() + "tickline-ca-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: "\(folder)/db", withIntermediateDirectories: true)
        try "".write(toFile: "\(folder)/db/index.txt", atomically: true, encoding: .utf8)
        try "01\n".write(toFile: "\(folder)/db/serial", atomically: true, encoding: .utf8)
        // `openssl ca` alone takes explicit start and end dates (the expired certificate).
        try """
            [ca]
            default_ca = test
            [test]
            database = \(folder)/db/index.txt
            serial = \(folder)/db/serial
            new_certs_dir = \(folder)/db
            certificate = \(folder)/ca.pem
            private_key = \(folder)/ca.key
            default_md = sha256
            policy = any
            copy_extensions = copy
            unique_subject = no
            [any]
            commonName = supplied
            """.write(toFile: "\(folder)/ca.cnf", atomically: true, encoding: .utf8)
        let names = "subjectAltName=DNS:localhost,IP:127.0.0.1"
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        let steps: [[String]] = [
            ["req", "-x509"] + ec + ["-keyout", "\(folder)/ca.key", "-out", caFile, "-days", "2", "-subj", "/CN=Tickline test CA"],
            ["req"] + ec + ["-keyout", key, "-out", "\(folder)/server.csr", "-subj", "/CN=localhost", "-addext", names],
            ["ca", "-batch", "-config", "\(folder)/ca.cnf", "-in", "\(folder)/server.csr", "-out", certificate, "-days", "2"],
            ["req"] + ec + ["-keyout", expiredKey, "-out", "\(folder)/expired.csr", "-subj", "/CN=localhost", "-addext", names],
            ["ca", "-batch", "-config", "\(folder)/ca.cnf", "-in", "\(folder)/expired.csr", "-out", expiredCertificate,
             "-startdate", "20200101000000Z", "-enddate", "20200102000000Z"],
        ]
        for args in steps {
            let (status, output) = runCommand(openssl, args, seconds: 30)
            guard status == 0 else {
                remove()
                throw Failure(description: "openssl \(args.joined(separator: " ")) exited \(status): \(output)")
            }
        }
    }

    public func remove() { try? FileManager.default.removeItem(atPath: folder) }
}
