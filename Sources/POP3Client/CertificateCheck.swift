// Verification of the server's certificate, done by us (in NIOSSL's custom verification
// callback) so that a refusal can say exactly why, and how to fix it.

import Crypto
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import SwiftASN1
import X509

/// Decides whether the presented chain is acceptable under a `Trust` and remembers why not.
final class CertificateCheck: Sendable {
    enum Mode: Sendable {
        /// Chain to one of these roots, and name the server.
        case roots(CertificateStore)
        /// The leaf's SHA-256 DER digest must equal this.
        case fingerprint([UInt8])
    }

    let mode: Mode
    /// The host name (or IP literal) the certificate must name.
    let serverName: String
    private let refusal = NIOLockedValueBox<POP3ClientError?>(nil)

    init(mode: Mode, serverName: String) {
        self.mode = mode
        self.serverName = serverName
    }

    /// Why the last verification failed, if it did.
    var failure: POP3ClientError? { self.refusal.withLockedValue { $0 } }

    /// The NIOSSL callback: verification runs in a task, off the event loop.
    var callback: NIOSSLCustomVerificationCallback {
        { chain, promise in
            Task {
                promise.succeed(await self.verify(chain))
            }
        }
    }

    func verify(_ chain: [NIOSSLCertificate]) async -> NIOSSLVerificationResult {
        do {
            try await self.check(chain)
            return .certificateVerified
        } catch let error as POP3ClientError {
            self.refusal.withLockedValue { $0 = error }
            return .failed
        } catch {
            self.refusal.withLockedValue {
                $0 = POP3ClientError(
                    kind: .certificate,
                    message: "the server's certificate could not be read: \(error)"
                )
            }
            return .failed
        }
    }

    private func check(_ chain: [NIOSSLCertificate]) async throws {
        guard let leafDER = try chain.first?.toDERBytes() else {
            throw POP3ClientError(kind: .certificate, message: "the server sent no certificate")
        }
        let fingerprint = Array(SHA256.hash(data: leafDER))
        let presented = (try? Certificate(derEncoded: leafDER)).map { POP3ServerCertificate($0, der: leafDER) }
        switch self.mode {
        case .fingerprint(let pinned):
            guard fingerprint == pinned else {
                throw POP3ClientError(
                    kind: .certificate,
                    message: "the certificate's fingerprint \(Self.format(fingerprint)) does not match the pinned "
                        + "\(Self.format(pinned))",
                    certificate: presented
                )
            }
        case .roots(let roots):
            let leaf = try Certificate(derEncoded: leafDER)
            let intermediates = CertificateStore(
                try chain.dropFirst().map { try Certificate(derEncoded: $0.toDERBytes()) }
            )
            var chainVerifier = Verifier(rootCertificates: roots) { RFC5280Policy() }
            if case .couldNotValidate(let failures) = await chainVerifier.validate(
                leaf: leaf,
                intermediates: intermediates
            ) {
                let selfSigned = leaf.issuer == leaf.subject
                let why = selfSigned ? "self-signed and" : "issued by \(leaf.issuer), which is"
                let detail = failures.first.map { " (\(Self.shortReason($0.policyFailureReason.description)))" } ?? ""
                throw POP3ClientError(
                    kind: .certificate,
                    message:
                        "the server's certificate is \(why) not trusted\(selfSigned ? "" : detail) — use --ca-file or "
                        + "--fingerprint \(Self.format(fingerprint))",
                    certificate: presented
                )
            }
            let isIP = Self.isIPAddress(self.serverName)
            var nameVerifier = Verifier(rootCertificates: roots) {
                RFC5280Policy()
                ServerIdentityPolicy(
                    serverHostname: isIP ? nil : self.serverName,
                    serverIP: isIP ? self.serverName : nil
                )
            }
            if case .couldNotValidate = await nameVerifier.validate(leaf: leaf, intermediates: intermediates) {
                throw POP3ClientError(
                    kind: .certificate,
                    message: "the server's certificate is for \(Self.names(in: leaf)), not \(self.serverName) — use "
                        + "--ca-file or --fingerprint \(Self.format(fingerprint))",
                    certificate: presented
                )
            }
        }
    }

    /// `SHA256:AB:CD:...`, the form `--fingerprint` takes.
    static func format(_ digest: [UInt8]) -> String {
        let hex = digest.map { byte -> String in
            let digits = Array("0123456789ABCDEF")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
        }
        return "SHA256:" + hex.joined(separator: ":")
    }

    /// The names a certificate is for: its DNS and IP subject alternative names, else its subject.
    static func names(in certificate: Certificate) -> String {
        let names = Self.nameList(in: certificate)
        if names.isEmpty { return "\(certificate.subject)" }
        return names.joined(separator: ", ")
    }

    /// The DNS and IP subject alternative names of a certificate.
    static func nameList(in certificate: Certificate) -> [String] {
        var names: [String] = []
        if let sans = try? certificate.extensions.subjectAlternativeNames {
            for name in sans {
                switch name {
                case .dnsName(let dns): names.append(dns)
                case .ipAddress(let octets): names.append(Self.formatIP(octets.bytes))
                default: break
                }
            }
        }
        return names
    }

    static func isIPAddress(_ name: String) -> Bool {
        if name.contains(":") { return true }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { UInt8($0) != nil }
    }

    private static func formatIP(_ bytes: ArraySlice<UInt8>) -> String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        return "IPv6 address"
    }

    /// The first line of a policy failure, without certificate dumps.
    private static func shortReason(_ text: String) -> String {
        let line = text.split(separator: "\n").first.map(String.init) ?? text
        return line.count > 160 ? String(line.prefix(160)) + "…" : line
    }
}
